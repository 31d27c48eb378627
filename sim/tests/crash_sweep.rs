//! A crash at every call of Cyrus's atomic-replace dance (write `.NEW`, fsync, rename over the
//! old name, fsync the directory): the way a crash sweep uses `SimFs` (run to a point, clone,
//! install a fault plan, run on), and a check that the durability model makes the careful
//! version safe and the careless one not.

use sim::{FaultAction, FaultPlan, OpenFlags, Pid, SimConfig, SimFs, Vfs};

const OLD: &[u8] = b"old index, complete";
const NEW: &[u8] = b"new index, complete, and a little longer";

/// The dance; `careful` adds the fsync before the rename. Errors (ESRCH once crashed) stop it.
fn replace_index(fs: &mut SimFs, p: Pid, careful: bool) {
    let step = |fs: &mut SimFs| -> sim::VfsResult<()> {
        let fd = fs.open(p, "m/cyrus.index.NEW", OpenFlags::RDWR_CREATE_TRUNC)?;
        fs.write(p, fd, NEW)?;
        if careful {
            fs.fsync(p, fd)?;
        }
        fs.close(p, fd)?;
        fs.rename(p, "m/cyrus.index.NEW", "m/cyrus.index")?;
        fs.fsync_dir(p, "m")
    };
    let _ = step(fs);
}

fn setup(seed: u64) -> (SimFs, Pid) {
    let mut fs = SimFs::new(SimConfig {
        seed,
        ..SimConfig::default()
    });
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "m/cyrus.index", OpenFlags::RDWR_CREATE).unwrap();
    fs.write(p, fd, OLD).unwrap();
    fs.fsync(p, fd).unwrap();
    fs.close(p, fd).unwrap();
    fs.fsync_dir(p, "m").unwrap();
    (fs, p)
}

fn index_after_crash_at(base: &SimFs, p: Pid, at: u64, careful: bool) -> Vec<u8> {
    let mut fs = base.clone();
    fs.set_fault_plan(FaultPlan::at(at, FaultAction::PowerLoss));
    replace_index(&mut fs, p, careful);
    // Power fails at the end too (a no-op if it already failed: all is durable after that).
    fs.power_loss();
    let r = fs.spawn("fsck");
    let fd = fs.open(r, "m/cyrus.index", OpenFlags::RDONLY).unwrap();
    let mut buf = vec![0u8; 100];
    let n = fs.pread(r, fd, &mut buf, 0).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn with_fsync_before_rename_a_crash_anywhere_leaves_the_old_or_the_new_index() {
    for seed in 0..20 {
        let (base, p) = setup(seed);
        let start = base.calls();
        let mut full = base.clone();
        replace_index(&mut full, p, true);
        for at in start..=full.calls() {
            let got = index_after_crash_at(&base, p, at, true);
            assert!(
                got == OLD || got == NEW,
                "seed {seed}, crash at call {at}: {got:?}"
            );
        }
    }
}

#[test]
fn without_it_some_crash_leaves_a_new_name_on_missing_or_torn_data() {
    let mut bad = 0;
    for seed in 0..20 {
        let (base, p) = setup(seed);
        let start = base.calls();
        let mut full = base.clone();
        replace_index(&mut full, p, false);
        for at in start..=full.calls() {
            let got = index_after_crash_at(&base, p, at, false);
            if got != OLD && got != NEW {
                bad += 1;
            }
        }
    }
    assert!(bad > 0, "the sweep must find the unsafe interleaving");
}
