//! Runs one fs_peers pattern REPS times, for counting instructions under callgrind:
//!
//! `valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p target/release/examples/callgrind_peers simfs 10000 11`
//!
//! BACKEND is simfs, simfs-map, realfs (tmpfs), madsim (sim mode only) or turmoil. Two runs
//! with REPS = 1 and REPS = 11 give the instructions per record free of start-up costs:
//! (Ir(11) - Ir(1)) / (10 * K).

use benches::peers::{ReadBack, expected_sum, turmoil_pattern, vfs_pattern};
use sim::{RealConfig, RealFs, SimFs};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let backend = args.first().map_or("simfs", String::as_str);
    let k: u32 = args.get(1).map_or(10_000, |s| s.parse().expect("K"));
    let reps: u32 = args.get(2).map_or(1, |s| s.parse().expect("REPS"));
    let root = std::path::PathBuf::from(format!("/dev/shm/expunge-sim-cg-{}", std::process::id()));
    for _ in 0..reps {
        let sum = match backend {
            "simfs" => vfs_pattern(&mut SimFs::default(), k, ReadBack::Pread, false),
            "simfs-map" => vfs_pattern(&mut SimFs::default(), k, ReadBack::Map, true),
            "realfs" => {
                let _ = std::fs::remove_dir_all(&root);
                let mut fs = RealFs::new(&root, RealConfig::default()).expect("RealFs");
                vfs_pattern(&mut fs, k, ReadBack::Pread, false)
            }
            "turmoil" => turmoil_pattern(&turmoil_fs::Fs::builder().seed(1).build(), k, false),
            #[cfg(madsim)]
            "madsim" => benches::peers::madsim_pattern(&madsim::runtime::Runtime::new(), k),
            other => {
                eprintln!("unknown backend {other:?}: simfs, simfs-map, realfs, madsim, turmoil");
                std::process::exit(2);
            }
        };
        assert_eq!(sum, expected_sum(k));
    }
    let _ = std::fs::remove_dir_all(&root);
}
