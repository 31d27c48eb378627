//! `expunge-sim merge FILE...`: shards of a sweep, written by hand in the `sweep --json`
//! shape, recombine into the summary of one sweep over all their seeds.

mod cli_support;

use cli_support::{expunge_sim, fresh_dir, path_str};
use scenarios::sweep::fnv1a64;
use serde_json::{Value, json};

fn digest_of(seed: u64) -> String {
    format!("{:016x}", fnv1a64(&seed.to_be_bytes()))
}

/// A shard over `seeds`, failing those in `failing`.
fn shard(seeds: &[u64], failing: &[u64], k: u64, n: u64) -> Value {
    let per_seed: Vec<Value> = seeds
        .iter()
        .map(|&s| {
            let mut o = json!({"seed": s, "digest": digest_of(s), "failed": failing.contains(&s)});
            if failing.contains(&s) {
                o["reproduce"] = json!(format!(
                    "expunge-sim run blair-2008 --strategy fix1-remap --seed {s}"
                ));
            }
            o
        })
        .collect();
    json!({
        "scenario": "blair-2008", "strategy": "fix1-remap", "seeds": seeds.len(),
        "failed_seeds": failing, "first_failure": null, "digest": "ignored",
        "shard": format!("{k}/{n}"), "range": "0..10", "seeds_per_second": 100.0,
        "per_seed": per_seed,
    })
}

/// The sweep digest of seeds 0..n, computed here from its definition.
fn expected_digest(seeds: impl Iterator<Item = u64>) -> String {
    let text: String = seeds.map(|s| format!("{s}:{}\n", digest_of(s))).collect();
    format!("{:016x}", fnv1a64(text.as_bytes()))
}

fn write(dir: &std::path::Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    path_str(&p).to_string()
}

#[test]
fn merged_shards_give_the_digest_and_failures_of_one_sweep() {
    let dir = fresh_dir("merge-two");
    let a = write(&dir, "a.json", &shard(&[0, 2, 4, 6, 8], &[6], 0, 2));
    let b = write(&dir, "b.json", &shard(&[1, 3, 5, 7, 9], &[3, 9], 1, 2));
    let r = expunge_sim(&["merge", &b, &a]);
    assert_eq!(r.code, 1, "a failing seed exits 1: {r:?}");
    let v = r.json();
    assert_eq!(v["seeds"], json!(10));
    assert_eq!(v["failed_seeds"], json!([3, 6, 9]));
    assert_eq!(v["digest"], json!(expected_digest(0..10)));
    let first = &v["first_failure"];
    assert_eq!(first["seed"], json!(3));
    assert_eq!(
        first["reproduce"],
        json!("expunge-sim run blair-2008 --strategy fix1-remap --seed 3")
    );
    let per_seed = v["per_seed"].as_array().unwrap();
    let order: Vec<u64> = per_seed
        .iter()
        .map(|o| o["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(order, (0..10).collect::<Vec<_>>());
    for o in per_seed {
        assert!(o["digest"].is_string() && o["failed"].is_boolean(), "{o}");
    }
    assert!(v["seeds_per_second"].is_number(), "{v}");
    assert!(v.get("shard").is_some(), "{v}");
}

#[test]
fn a_seed_in_two_shards_counts_once_and_clean_shards_exit_0() {
    let dir = fresh_dir("merge-dupe");
    let a = write(&dir, "a.json", &shard(&[0, 1, 2], &[], 0, 1));
    let b = write(&dir, "b.json", &shard(&[2, 3], &[], 0, 1));
    let r = expunge_sim(&["merge", &a, &b, "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!(v["seeds"], json!(4));
    assert_eq!(v["failed_seeds"], json!([]));
    assert_eq!(v["first_failure"], Value::Null);
    assert_eq!(v["digest"], json!(expected_digest(0..4)));
}

#[test]
fn shards_that_disagree_on_a_seed_are_refused() {
    let dir = fresh_dir("merge-conflict");
    let a = write(&dir, "a.json", &shard(&[0, 1], &[], 0, 1));
    let mut other = shard(&[1], &[], 0, 1);
    other["per_seed"][0]["digest"] = json!("0000000000000000");
    let b = write(&dir, "b.json", &other);
    let r = expunge_sim(&["merge", &a, &b]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("seed 1"), "{r:?}");
}

#[test]
fn shards_of_different_strategies_are_refused() {
    let dir = fresh_dir("merge-mismatch");
    let a = write(&dir, "a.json", &shard(&[0], &[], 0, 1));
    let mut other = shard(&[1], &[], 0, 1);
    other["strategy"] = json!("cyrus-2.3.7");
    let b = write(&dir, "b.json", &other);
    let r = expunge_sim(&["merge", &a, &b]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("strategy"), "{r:?}");
}

#[test]
fn unreadable_and_malformed_files_are_refused_naming_the_file() {
    let dir = fresh_dir("merge-bad");
    let bad = write(&dir, "bad.json", &json!({"not": "a sweep"}));
    let r = expunge_sim(&["merge", &bad]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("bad.json"), "{r:?}");
    let r = expunge_sim(&["merge", "/no/such/shard.json"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("/no/such/shard.json"), "{r:?}");
}
