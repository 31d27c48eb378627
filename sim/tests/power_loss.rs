//! Power loss: synced data kept, unsynced data at the seed's mercy (lost, kept, or torn at a
//! sector boundary), names durable only once their directory is synced.

use proptest::prelude::*;
use sim::{Errno, EventKind, OpenFlags, SimConfig, SimFs, Vfs};

fn fs(seed: u64) -> SimFs {
    SimFs::new(SimConfig {
        seed,
        ..SimConfig::default()
    })
}

/// A file `d/f` holding `old`, fully durable (data and name).
fn durable_file(fs: &mut SimFs, old: &[u8]) -> (sim::Pid, sim::Fd) {
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "d/f", OpenFlags::RDWR_CREATE).unwrap();
    fs.write(p, fd, old).unwrap();
    fs.fsync(p, fd).unwrap();
    fs.fsync_dir(p, "d").unwrap();
    (p, fd)
}

fn contents(fs: &mut SimFs, path: &str) -> Option<Vec<u8>> {
    let p = fs.spawn("reader");
    let fd = match fs.open(p, path, OpenFlags::RDONLY) {
        Ok(fd) => fd,
        Err(e) if e.errno == Errno::NoEnt => return None,
        Err(e) => panic!("{e}"),
    };
    let size = fs.fstat(p, fd).unwrap().size;
    let mut buf = vec![0u8; size as usize];
    assert_eq!(fs.pread(p, fd, &mut buf, 0).unwrap(), size as usize);
    fs.kill(p).unwrap();
    Some(buf)
}

#[test]
fn synced_data_survives_power_loss_whatever_the_seed() {
    for seed in 0..100 {
        let mut fs = fs(seed);
        let (p, fd) = durable_file(&mut fs, &[b'a'; 10_000]);
        fs.pwrite(p, fd, &[b'b'; 5000], 2000).unwrap();
        fs.fsync(p, fd).unwrap();
        fs.power_loss();
        let mut expect = vec![b'a'; 10_000];
        expect[2000..7000].fill(b'b');
        assert_eq!(contents(&mut fs, "d/f").unwrap(), expect, "seed {seed}");
        fs.check_invariants().unwrap();
    }
}

#[test]
fn power_loss_kills_every_process_and_is_an_event() {
    let mut fs = fs(1);
    let (p, fd) = durable_file(&mut fs, b"x");
    fs.power_loss();
    assert_eq!(fs.write(p, fd, b"y").unwrap_err().errno, Errno::Srch);
    assert_eq!(
        fs.events().last().map(|e| e.kind),
        Some(EventKind::PowerLoss)
    );
    assert!(fs.processes().iter().all(|(_, _, alive)| !alive));
}

#[test]
fn unsynced_writes_are_lost_kept_or_torn_at_sector_boundaries_by_the_seed() {
    let (off, len) = (1000u64, 3000u64);
    let mut kept_lengths = std::collections::BTreeSet::new();
    for seed in 0..300 {
        let mut fs = fs(seed);
        let (p, fd) = durable_file(&mut fs, &[b'a'; 8192]);
        fs.pwrite(p, fd, &vec![b'b'; len as usize], off).unwrap();
        fs.power_loss();
        let got = contents(&mut fs, "d/f").unwrap();
        assert_eq!(got.len(), 8192);
        let k = got
            .iter()
            .skip(off as usize)
            .take_while(|&&b| b == b'b')
            .count() as u64;
        assert!(
            got[..off as usize].iter().all(|&b| b == b'a'),
            "seed {seed}"
        );
        assert!(
            got[(off + k) as usize..].iter().all(|&b| b == b'a'),
            "seed {seed}: not a prefix"
        );
        assert!(
            k == 0 || k == len || (off + k).is_multiple_of(512),
            "seed {seed}: torn at {}",
            off + k
        );
        kept_lengths.insert(k);
    }
    assert!(kept_lengths.contains(&0), "some seed loses the write");
    assert!(kept_lengths.contains(&len), "some seed keeps it whole");
    assert!(
        kept_lengths.len() > 2,
        "some seed tears it: {kept_lengths:?}"
    );
}

#[test]
fn a_file_whose_directory_was_never_synced_is_gone_even_if_fsynced() {
    let mut fs = fs(0);
    let p = fs.spawn("lmtpd");
    let fd = fs.open(p, "user/joe/1.", OpenFlags::RDWR_CREATE).unwrap();
    fs.write(p, fd, b"message").unwrap();
    fs.fsync(p, fd).unwrap();
    fs.power_loss();
    assert_eq!(contents(&mut fs, "user/joe/1."), None);
    assert_eq!(fs.partition().1, 0);
}

#[test]
fn a_rename_is_durable_only_after_its_directory_is_synced() {
    for sync_dir in [false, true] {
        let mut fs = fs(0);
        let (p, _) = durable_file(&mut fs, b"old index");
        let fd = fs.open(p, "d/f.NEW", OpenFlags::RDWR_CREATE_TRUNC).unwrap();
        fs.write(p, fd, b"new index").unwrap();
        fs.fsync(p, fd).unwrap();
        fs.rename(p, "d/f.NEW", "d/f").unwrap();
        if sync_dir {
            fs.fsync_dir(p, "d").unwrap();
        }
        fs.power_loss();
        let expect: &[u8] = if sync_dir { b"new index" } else { b"old index" };
        assert_eq!(
            contents(&mut fs, "d/f").unwrap(),
            expect,
            "sync_dir={sync_dir}"
        );
        assert_eq!(contents(&mut fs, "d/f.NEW"), None);
        assert_eq!(fs.list("d").unwrap(), vec!["f"]);
        fs.check_invariants().unwrap();
    }
}

#[test]
fn an_unlink_is_durable_only_after_its_directory_is_synced() {
    for sync_dir in [false, true] {
        let mut fs = fs(0);
        let (p, fd) = durable_file(&mut fs, b"data");
        fs.close(p, fd).unwrap();
        fs.unlink(p, "d/f").unwrap();
        assert_eq!(
            fs.partition().1,
            0,
            "the live system frees the blocks at once"
        );
        if sync_dir {
            fs.fsync_dir(p, "d").unwrap();
        }
        fs.power_loss();
        let back = contents(&mut fs, "d/f");
        assert_eq!(back.is_some(), !sync_dir);
        fs.check_invariants().unwrap();
    }
}

#[test]
fn an_unsynced_truncate_may_or_may_not_survive_but_never_half() {
    let mut outcomes = std::collections::BTreeSet::new();
    for seed in 0..50 {
        let mut fs = fs(seed);
        let (p, fd) = durable_file(&mut fs, &[b'a'; 5000]);
        fs.ftruncate(p, fd, 100).unwrap();
        fs.power_loss();
        let got = contents(&mut fs, "d/f").unwrap();
        assert!(got.len() == 5000 || got.len() == 100, "{}", got.len());
        assert!(got.iter().all(|&b| b == b'a'));
        outcomes.insert(got.len());
    }
    assert_eq!(outcomes.len(), 2);
}

#[test]
fn the_same_seed_tears_the_same_way() {
    let run = |seed| {
        let mut fs = fs(seed);
        let (p, fd) = durable_file(&mut fs, &[0; 4096]);
        for i in 0..20u8 {
            fs.pwrite(p, fd, &[i + 1; 700], u64::from(i) * 300).unwrap();
        }
        fs.power_loss();
        contents(&mut fs, "d/f").unwrap()
    };
    assert_eq!(run(5), run(5));
    assert!(
        (0..10)
            .map(run)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Two pending writes to disjoint regions: each region is independently untouched, whole,
    /// or a prefix ending on a sector boundary; nothing else changes.
    #[test]
    fn torn_writes_only_at_sector_granularity(
        seed in any::<u64>(),
        off1 in 0u64..6000, len1 in 1u64..6000,
        gap in 0u64..3000, len2 in 1u64..6000,
    ) {
        let mut fs = fs(seed);
        let (p, fd) = durable_file(&mut fs, &[b'a'; 20_000]);
        let off2 = off1 + len1 + gap;
        fs.pwrite(p, fd, &vec![b'b'; len1 as usize], off1).unwrap();
        fs.pwrite(p, fd, &vec![b'c'; len2 as usize], off2).unwrap();
        fs.power_loss();
        let got = contents(&mut fs, "d/f").unwrap();
        let end = (off2 + len2).max(20_000);
        prop_assert!(got.len() as u64 == 20_000 || got.len() as u64 <= end);
        for (off, len, b) in [(off1, len1, b'b'), (off2, len2, b'c')] {
            let k = got.iter().skip(off as usize).take_while(|&&x| x == b).count() as u64;
            let k = k.min(len);
            prop_assert!(k == 0 || k == len || (off + k).is_multiple_of(512), "torn at {}", off + k);
        }
        let untouched = |i: u64| !((off1..off1 + len1).contains(&i) || (off2..off2 + len2).contains(&i));
        for (i, &x) in got.iter().enumerate() {
            if untouched(i as u64) && (i as u64) < 20_000 {
                prop_assert_eq!(x, b'a', "byte {} changed", i);
            }
        }
    }
}
