//! Throughput checks, ignored by default: `cargo test --release -p sim --test perf -- --ignored
//! --nocapture`. They print figures; the asserts are loose ceilings that catch a regression
//! of an order of magnitude, not benchmarks.

use std::time::Instant;

use sim::{OpenFlags, SimFs, Vfs};

#[test]
#[ignore = "a timing check; run in release"]
fn map_reads_of_records_cost_well_under_a_microsecond() {
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "cyrus.index", OpenFlags::RDWR_CREATE).unwrap();
    let size = 256u64 << 20;
    let chunk: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    for off in (0..size).step_by(1 << 20) {
        fs.pwrite(p, fd, &chunk, off).unwrap();
    }
    let map = fs.mmap(p, fd, size).unwrap();
    let n = 4_000_000u64;
    let mut rec = [0u8; 88];
    let mut sum = 0u64;
    let t = Instant::now();
    for i in 0..n {
        let off = (i * 88 * 7919) % (size - 88);
        fs.map_read(p, map, off, &mut rec).unwrap();
        sum += u64::from(rec[0]);
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    println!("map_read of 88 bytes, random offsets in 256 MiB: {ns:.1} ns (checksum {sum})");
    let t = Instant::now();
    for i in 0..n {
        fs.map_read(p, map, (i * 88) % (size - 88), &mut rec)
            .unwrap();
        sum += u64::from(rec[0]);
    }
    let seq = t.elapsed().as_nanos() as f64 / n as f64;
    println!("map_read of 88 bytes, sequential: {seq:.1} ns (checksum {sum})");
    assert!(ns < 1000.0 && seq < 1000.0);
}

#[test]
#[ignore = "a timing check; run in release"]
fn appends_of_records_are_cheap() {
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "cyrus.expunge", OpenFlags::RDWR_CREATE).unwrap();
    let rec = [5u8; 88];
    let n = 1_000_000u64;
    let t = Instant::now();
    for _ in 0..n {
        fs.write(p, fd, &rec).unwrap();
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "write of an 88-byte record: {ns:.1} ns; stored {} bytes",
        fs.stored_bytes()
    );
    assert!(ns < 5000.0);
}
