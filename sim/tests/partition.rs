//! A full partition: exact short writes and ENOSPC, as ext4 gives them.

use sim::{Errno, EventKind, OpenFlags, SimConfig, SimFs, Vfs};

fn fs_with(capacity: u64, short: bool) -> SimFs {
    SimFs::new(SimConfig {
        capacity,
        short_write_on_enospc: short,
        ..SimConfig::default()
    })
}

#[test]
fn a_write_past_capacity_writes_the_whole_blocks_that_fit() {
    let mut fs = fs_with(10 * 4096, true);
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
    fs.write(p, fd, &[1; 100]).unwrap(); // block 0, partly
    // 100..50_100 needs blocks 0..=12; 0 is allocated, 9 more fit: up to the end of block 9.
    assert_eq!(fs.write(p, fd, &[2; 50_000]).unwrap(), 10 * 4096 - 100);
    assert_eq!(fs.partition(), (10 * 4096, 10 * 4096));
    assert_eq!(fs.lseek(p, fd, 0, sim::Whence::Cur).unwrap(), 10 * 4096);
    let e = fs.write(p, fd, &[3; 1]).unwrap_err();
    assert_eq!(e.errno, Errno::NoSpc);
    assert!(e.context.contains("partition full"), "{e}");
    // Overwriting allocated blocks needs no space.
    assert_eq!(fs.pwrite(p, fd, &[4; 4096], 4096).unwrap(), 4096);
    let kinds: Vec<EventKind> = fs.events().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![EventKind::NoSpc, EventKind::NoSpc]);
}

#[test]
fn without_short_writes_a_write_that_does_not_fit_writes_nothing() {
    let mut fs = fs_with(4 * 4096, false);
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
    assert_eq!(
        fs.write(p, fd, &[1; 5 * 4096]).unwrap_err().errno,
        Errno::NoSpc
    );
    assert_eq!(fs.fstat(p, fd).unwrap().size, 0);
    assert_eq!(fs.partition().1, 0);
}

#[test]
fn freeing_space_lets_writes_continue_and_sparse_writes_cost_one_block() {
    let mut fs = fs_with(3 * 4096, true);
    let p = fs.spawn("imapd");
    let a = fs.open(p, "a", OpenFlags::RDWR_CREATE).unwrap();
    assert_eq!(fs.write(p, a, &[1; 3 * 4096]).unwrap(), 3 * 4096);
    let b = fs.open(p, "b", OpenFlags::RDWR_CREATE).unwrap();
    assert_eq!(
        fs.pwrite(p, b, b"x", 1 << 40).unwrap_err().errno,
        Errno::NoSpc
    );
    fs.ftruncate(p, a, 4096).unwrap();
    assert_eq!(fs.partition().1, 4096);
    assert_eq!(fs.pwrite(p, b, b"x", 1 << 40).unwrap(), 1);
    assert_eq!(fs.stat("b").unwrap().size, (1 << 40) + 1);
    assert_eq!(fs.partition().1, 2 * 4096);
    let peaks = fs.peaks();
    assert_eq!(
        (peaks.apparent, peaks.partition_used),
        ((1 << 40) + 1, 3 * 4096)
    );
    let last = *fs.series().last().unwrap();
    assert_eq!(last.partition_used, 2 * 4096);
    fs.check_invariants().unwrap();
}
