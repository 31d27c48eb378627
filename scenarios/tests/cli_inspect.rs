//! `expunge-sim inspect DIR`: the fsck of a real mailbox directory, built here by hand with
//! the engine's own damage builders.

mod cli_support;
#[path = "../../engine/tests/fsck_support/mod.rs"]
mod fsck_support;

use cli_support::{expunge_sim, fresh_dir, path_str};
use engine::format::MinorVersion;
use fsck_support::Mailbox;
use serde_json::Value;

fn written(name: &str, mb: &Mailbox) -> std::path::PathBuf {
    let dir = fresh_dir(name);
    mb.write_dir(&dir).expect("write mailbox");
    dir
}

/// The 2.3.7 wrap: cyrus.expunge says 2 - 5 records.
fn wrapped() -> Mailbox {
    let mut mb = Mailbox::clean(MinorVersion::V9);
    mb.expunge_header.as_mut().unwrap().exists = 2u32.wrapping_sub(5);
    mb
}

#[test]
fn a_clean_mailbox_exits_0() {
    let dir = written("inspect-clean", &Mailbox::clean(MinorVersion::V10));
    let r = expunge_sim(&["inspect", path_str(&dir)]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("clean"), "{r:?}");
}

#[test]
fn a_wrapped_expunge_file_exits_1_and_prints_file_check_detail() {
    let dir = written("inspect-wrapped", &wrapped());
    let r = expunge_sim(&["inspect", path_str(&dir)]);
    assert_eq!(r.code, 1, "{r:?}");
    let finding = r
        .stdout
        .lines()
        .find(|l| l.starts_with("cyrus.expunge: exists-mismatch: "))
        .unwrap_or_else(|| panic!("no exists-mismatch line: {r:?}"));
    assert!(finding.contains("4294967293"), "{finding}");
}

#[test]
fn json_has_findings_and_per_file_counters() {
    let dir = written("inspect-json", &wrapped());
    let r = expunge_sim(&["inspect", path_str(&dir), "--json"]);
    assert_eq!(r.code, 1, "{r:?}");
    let v = r.json();
    let findings = v["findings"].as_array().expect("findings is an array");
    assert!(!findings.is_empty());
    for f in findings {
        for key in ["file", "check", "detail"] {
            assert!(f[key].is_string(), "{key} in {f}");
        }
    }
    assert!(
        findings
            .iter()
            .any(|f| f["file"] == "cyrus.expunge" && f["check"] == "exists-mismatch")
    );
    let files = v["files"].as_array().expect("files is an array");
    let expunge = files
        .iter()
        .find(|f| f["file"] == "cyrus.expunge")
        .expect("cyrus.expunge reported");
    assert_eq!(expunge["minor_version"], Value::from(9));
    assert_eq!(expunge["exists"], Value::from(4_294_967_293u64));
    assert_eq!(expunge["records_present"], Value::from(2));
    let index = files
        .iter()
        .find(|f| f["file"] == "cyrus.index")
        .expect("cyrus.index reported");
    for key in ["minor_version", "exists", "records_present"] {
        assert!(index[key].is_u64(), "{key} in {index}");
    }
}

#[test]
fn a_clean_mailbox_in_json_has_no_findings() {
    let dir = written("inspect-json-clean", &Mailbox::clean(MinorVersion::V9));
    let r = expunge_sim(&["inspect", "--json", path_str(&dir)]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["findings"], Value::Array(vec![]));
}

#[test]
fn a_directory_that_is_not_a_mailbox_exits_2_naming_it() {
    let dir = fresh_dir("inspect-empty");
    let r = expunge_sim(&["inspect", path_str(&dir)]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(path_str(&dir)) && r.stderr.contains("cyrus.index"),
        "{r:?}"
    );
    let r = expunge_sim(&["inspect", "/no/such/mailbox"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("/no/such/mailbox"), "{r:?}");
}
