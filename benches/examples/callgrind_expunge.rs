//! Runs one engine benchmark's `mailbox_expunge` on SimFs, for counting instructions under
//! callgrind:
//!
//! `valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p target/release/examples/callgrind_expunge cleanup 100000 1`
//!
//! OP is delayed, cleanup or force_cleanup_2.3.7; N the mailbox size in messages. The mailbox
//! is built by `benches::build_mailbox` into a template SimFs, and each of the REPS runs works
//! on a clone of it, as `benches/benches/engine.rs` does. Two runs with REPS = 0 (setup only)
//! and REPS = 1 give the instructions of the call: (Ir(1) - Ir(0)) / N per record.

use benches::{ExpungeOp, build_mailbox, check_report, run_expunge};
use engine::Log;
use sim::SimFs;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let op_name = args.first().map_or("cleanup", String::as_str);
    let n: u32 = args.get(1).map_or(10_000, |s| s.parse().expect("N"));
    let reps: u32 = args.get(2).map_or(1, |s| s.parse().expect("REPS"));
    let Some(op) = ExpungeOp::ALL.into_iter().find(|op| op.name() == op_name) else {
        eprintln!("unknown op {op_name:?}: delayed, cleanup, force_cleanup_2.3.7");
        std::process::exit(2);
    };
    let site = op.site();
    let mut template = SimFs::default();
    build_mailbox(&mut template, op.spec(n));
    for _ in 0..reps {
        let mut fs = template.clone();
        let r = run_expunge(&mut fs, op, &site, &mut Log::default())
            .unwrap_or_else(|e| panic!("{op:?} n={n} on SimFs: {e}"));
        check_report(op, n, &r);
    }
}
