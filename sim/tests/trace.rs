//! The trace digest: same calls, same digest; any difference, a different one.

use sim::{Coherence, OpenFlags, SimConfig, SimFs, Vfs};

fn workload(cfg: SimConfig, tweak: u8) -> SimFs {
    let mut fs = SimFs::new(cfg);
    let p = fs.spawn("imapd");
    let fd = fs
        .open(p, "user/joe/cyrus.index", OpenFlags::RDWR_CREATE)
        .unwrap();
    fs.write(p, fd, &[1, 2, 3, tweak]).unwrap();
    let map = fs.mmap(p, fd, 4).unwrap();
    let mut b = [0u8; 4];
    fs.map_read(p, map, 0, &mut b).unwrap();
    fs.pread(p, fd, &mut b, 0).unwrap();
    fs.fsync(p, fd).unwrap();
    fs.list("user/joe").unwrap();
    fs.close(p, fd).unwrap();
    fs
}

#[test]
fn the_same_calls_give_the_same_digest() {
    let a = workload(SimConfig::default(), 0);
    let b = workload(SimConfig::default(), 0);
    assert_eq!(a.trace_digest(), b.trace_digest());
    assert_eq!(a.calls(), 8);
    assert_eq!(a.calls(), b.calls());
}

#[test]
fn a_different_argument_or_result_changes_the_digest() {
    let base = workload(SimConfig::default(), 0).trace_digest();
    assert_ne!(
        base,
        workload(SimConfig::default(), 1).trace_digest(),
        "written data"
    );
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let fd = fs
        .open(p, "user/joe/cyrus.index", OpenFlags::RDWR_CREATE)
        .unwrap();
    let mut other = fs.clone();
    fs.pwrite(p, fd, b"x", 0).unwrap();
    other.pwrite(p, fd, b"x", 1).unwrap();
    assert_ne!(fs.trace_digest(), other.trace_digest(), "an offset");
    let mut fs2 = fs.clone();
    fs.pwrite(p, fd, b"abc", 0).unwrap();
    fs2.set_fault_plan(sim::FaultPlan::at(fs2.calls(), sim::FaultAction::Eio));
    fs2.pwrite(p, fd, b"abc", 0).unwrap_err();
    assert_ne!(fs.trace_digest(), fs2.trace_digest(), "a result");
}

#[test]
fn power_loss_is_folded_into_the_digest() {
    let mut a = workload(SimConfig::default(), 0);
    let b = a.clone();
    a.power_loss();
    assert_ne!(a.trace_digest(), b.trace_digest());
    assert_eq!(a.calls(), b.calls());
}

#[test]
fn entries_print_readably_and_the_sink_gets_every_line() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Shared::default();
    let mut fs = SimFs::new(SimConfig {
        trace_keep: 3,
        coherence: Coherence::NoMmap,
        ..SimConfig::default()
    });
    fs.set_trace_sink(Some(Box::new(sink.clone())));
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
    fs.write(p, fd, b"abc").unwrap();
    fs.write(p, sim::Fd(9), b"abc").unwrap_err();
    fs.close(p, fd).unwrap();
    fs.flush_trace().unwrap();
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0], "0 - spawn(\"imapd\") = pid 1");
    assert_eq!(lines[1], "1 imapd[1] open(\"f\", O_RDWR|O_CREAT) = fd 3");
    assert!(
        lines[3].starts_with("3 imapd[1] write(fd 9, <3 bytes"),
        "{}",
        lines[3]
    );
    assert!(lines[3].ends_with("= EBADF"), "{}", lines[3]);
    let kept: Vec<u64> = fs.trace_entries().map(|e| e.seq).collect();
    assert_eq!(
        kept,
        vec![2, 3, 4],
        "only the newest trace_keep entries stay in memory"
    );
}
