//! Memory follows the bytes written, never the apparent size: the two shapes of the Cyrus
//! incident (a 3.4e11-byte sparse cyrus.expunge, then a real file written until the
//! partition is full) must cost kilobytes and a handful of unique blocks.

use sim::{Errno, OpenFlags, SimConfig, SimFs, Vfs};

const GIB: u64 = 1 << 30;

/// A buffer of back-to-back 88-byte expunge records, mostly zeros, starting at record phase
/// `start` (so consecutive buffers continue the pattern).
fn records(len: usize, start: usize) -> Vec<u8> {
    let mut rec = [0u8; 88];
    rec[..4].copy_from_slice(&7u32.to_be_bytes()); // a UID
    rec[40] = 1;
    (0..len).map(|i| rec[(start + i) % 88]).collect()
}

#[test]
fn a_sparse_file_of_three_hundred_gigabytes_costs_kilobytes() {
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let fd = fs
        .open(p, "user/spam/cyrus.expunge", OpenFlags::RDWR_CREATE)
        .unwrap();
    fs.write(p, fd, &records(4096, 0)).unwrap();
    // About 3.4e11, 100 bytes into a block, so the 3 KiB land in one block.
    let far = 83_007_812 * 4096 + 100;
    assert_eq!(
        fs.pwrite(p, fd, &records(3 * 1024, 0), far).unwrap(),
        3 * 1024
    );
    let st = fs.fstat(p, fd).unwrap();
    assert_eq!(st.size, far + 3 * 1024);
    assert_eq!(
        st.allocated,
        2 * 4096,
        "one block at the start, one at the far end"
    );
    assert_eq!(fs.partition().1, 2 * 4096);
    assert!(
        fs.stored_bytes() < 64 * 1024,
        "stored {} bytes",
        fs.stored_bytes()
    );
    let mut buf = [1u8; 16];
    assert_eq!(fs.pread(p, fd, &mut buf, far / 2).unwrap(), 16);
    assert_eq!(buf, [0; 16], "the hole reads as zeros");
    assert_eq!(fs.peaks().apparent, far + 3 * 1024);
}

fn fill_partition(capacity: u64, chunk: usize) -> (SimFs, u64) {
    let mut fs = SimFs::new(SimConfig {
        capacity,
        ..SimConfig::default()
    });
    let p = fs.spawn("imapd-2.3.12");
    let fd = fs
        .open(
            p,
            "user/spam/cyrus.expunge.NEW",
            OpenFlags::RDWR_CREATE_TRUNC,
        )
        .unwrap();
    let mut written = 0u64;
    let pattern = records(chunk + 88, 0);
    loop {
        let phase = (written % 88) as usize;
        match fs.write(p, fd, &pattern[phase..phase + chunk]) {
            Ok(n) => written += n as u64,
            Err(e) => {
                assert_eq!(e.errno, Errno::NoSpc, "{e}");
                break;
            }
        }
    }
    let st = fs.fstat(p, fd).unwrap();
    assert_eq!(st.size, written);
    assert_eq!(st.allocated, capacity);
    (fs, written)
}

#[test]
fn filling_a_multi_gigabyte_partition_with_records_stores_a_few_unique_blocks() {
    // 4 GiB: sim is optimised even in dev builds (Cargo.toml), so this takes seconds.
    let capacity = 4 * GIB;
    let (fs, written) = fill_partition(capacity, 1 << 20);
    assert_eq!(written, capacity);
    assert_eq!(fs.partition(), (capacity, capacity));
    assert_eq!(fs.peaks().partition_used, capacity);
    let entries = capacity / 4096;
    // 11 distinct block phases of the 88-byte pattern, plus 8 bytes per block reference in
    // the page cache and as many in the durable image written back so far.
    assert!(
        fs.stored_bytes() < 64 * 1024 + entries * 24,
        "stored {} bytes",
        fs.stored_bytes()
    );
    // And the process itself: its peak resident set (the whole test binary) stays far
    // below the 4 GiB written.
    if let Some(hwm) = peak_rss_bytes() {
        assert!(hwm < 160 << 20, "peak RSS {hwm} bytes");
    }
}

/// VmHWM from /proc/self/status, where there is one (Linux).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[test]
fn small_writes_fill_a_partition_exactly_too() {
    let (fs, written) = fill_partition(1 << 20, 88);
    assert_eq!(written, 1 << 20);
    assert!(
        fs.stored_bytes() < 128 * 1024,
        "stored {} bytes",
        fs.stored_bytes()
    );
}
