//! The 2008 story at engine level, for `scripts/repro_rss.sh`.
//!
//! `repro_2008 sim GIB`: the whole story on a SimFs partition of GIB GiB (default 4): the
//! 2.3.7 wrap, the sparse cyrus.expunge, the 2.3.12 upgrade writing until ENOSPC.
//! `repro_2008 real DIR MIB`: the same write pattern as the upgrade (88-byte zero records
//! through a 4096-byte stdio buffer, then fsync), MIB MiB of it, to a real file under DIR:
//! what the same bytes cost a real filesystem.

use std::io::Write;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("sim") | None => {
            let gib: u64 = args.get(1).map_or(4, |s| s.parse().expect("GIB"));
            let t = Instant::now();
            let o = benches::repro::blair_2008(gib << 30);
            let secs = t.elapsed().as_secs_f64();
            println!(
                "sim: capacity {} B; sparse cyrus.expunge {} B apparent, {} B allocated; \
                 cyrus.expunge.NEW {} B; partition used {} B; stored {} B; {} sim calls; \
                 ENOSPC {}; {secs:.3} s",
                o.capacity,
                o.sparse.size,
                o.sparse.allocated,
                o.upgraded.size,
                o.partition_used,
                o.stored_bytes,
                o.sim_calls,
                o.enospc
            );
            println!(
                "sim: {:.1} MiB/s of upgrade output",
                o.upgraded.size as f64 / secs / (1 << 20) as f64
            );
        }
        Some("real") => {
            let dir = std::path::PathBuf::from(args.get(1).expect("real DIR MIB"));
            let mib: u64 = args.get(2).map_or(256, |s| s.parse().expect("MIB"));
            std::fs::create_dir_all(&dir).expect("create DIR");
            let path = dir.join("cyrus.expunge.NEW");
            let t = Instant::now();
            let f = std::fs::File::create(&path).expect("create");
            // A 4096-byte buffer, as glibc's stdio gives a "w+" stream on a 4 KiB-block fs.
            let mut w = std::io::BufWriter::with_capacity(4096, f);
            let rec = [0u8; 88];
            let total = mib << 20;
            let mut written = 0u64;
            while written < total {
                w.write_all(&rec).expect("write");
                written += 88;
            }
            let f = w.into_inner().expect("flush");
            f.sync_all().expect("fsync");
            let secs = t.elapsed().as_secs_f64();
            drop(f);
            std::fs::remove_file(&path).expect("remove");
            println!(
                "real: {written} B to {} in {secs:.3} s: {:.1} MiB/s",
                path.display(),
                written as f64 / secs / (1 << 20) as f64
            );
        }
        Some(other) => {
            eprintln!("usage: repro_2008 [sim GIB | real DIR MIB] (got {other:?})");
            std::process::exit(2);
        }
    }
}
