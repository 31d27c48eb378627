//! `RealFs` on the real kernel: confinement, the budget, mmap faults, locks, sparse files,
//! rename and unlink under open fds.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use sim::{Errno, Fd, LockKind, OpenFlags, RealConfig, RealFs, Vfs, Whence};

/// A fresh directory under the system temp dir, removed on drop.
struct TempRoot(PathBuf);

impl TempRoot {
    fn new(tag: &str) -> TempRoot {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "realfs-test-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempRoot(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fs_with_budget(tag: &str, budget_bytes: u64) -> (TempRoot, RealFs) {
    let root = TempRoot::new(tag);
    let fs = RealFs::new(root.path(), RealConfig { budget_bytes }).unwrap();
    (root, fs)
}

fn fs(tag: &str) -> (TempRoot, RealFs) {
    fs_with_budget(tag, RealConfig::default().budget_bytes)
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as u64 }
}

const RDONLY: OpenFlags = OpenFlags::RDONLY;
const RW_CREATE: OpenFlags = OpenFlags::RDWR_CREATE;

#[test]
fn default_budget_is_one_gib() {
    assert_eq!(RealConfig::default().budget_bytes, 1 << 30);
}

#[test]
fn paths_that_escape_the_root_are_refused() {
    let (root, mut fs) = fs("confine");
    let p = fs.spawn("p");
    let outside = root.path().parent().unwrap().join("escaped-by-realfs");
    let escapes = [
        "../escaped-by-realfs",
        "a/../../escaped-by-realfs",
        "..",
        "/tmp/escaped-by-realfs",
        "/",
    ];
    for path in escapes {
        assert_eq!(
            fs.open(p, path, RW_CREATE).unwrap_err().errno,
            Errno::Acces,
            "{path}"
        );
        assert_eq!(fs.stat(path).unwrap_err().errno, Errno::Acces, "{path}");
        assert_eq!(
            fs.unlink(p, path).unwrap_err().errno,
            Errno::Acces,
            "{path}"
        );
        assert_eq!(fs.list(path).unwrap_err().errno, Errno::Acces, "{path}");
        assert_eq!(
            fs.fsync_dir(p, path).unwrap_err().errno,
            Errno::Acces,
            "{path}"
        );
    }
    let fd = fs.open(p, "inside", RW_CREATE).unwrap();
    fs.close(p, fd).unwrap();
    assert_eq!(
        fs.rename(p, "inside", "../escaped-by-realfs")
            .unwrap_err()
            .errno,
        Errno::Acces
    );
    assert_eq!(
        fs.rename(p, "/etc/hostname", "inside").unwrap_err().errno,
        Errno::Acces
    );
    assert!(!outside.exists());
    assert!(!Path::new("/tmp/escaped-by-realfs").exists());
    assert_eq!(fs.list("").unwrap(), vec!["inside".to_string()]);
}

#[test]
fn budget_refuses_a_sparse_write_at_3_4e11_and_leaves_the_file_small() {
    let (_root, mut fs) = fs("budget");
    let p = fs.spawn("cyr_expire");
    let fd = fs.open(p, "cyrus.expunge", RW_CREATE).unwrap();
    fs.write(p, fd, b"header").unwrap();
    let far = 340_000_000_000u64;
    assert_eq!(fs.pwrite(p, fd, b"x", far).unwrap_err().errno, Errno::NoSpc);
    assert_eq!(fs.lseek(p, fd, far as i64, Whence::Set).unwrap(), far);
    assert_eq!(fs.write(p, fd, b"x").unwrap_err().errno, Errno::NoSpc);
    assert_eq!(fs.ftruncate(p, fd, far).unwrap_err().errno, Errno::NoSpc);
    assert_eq!(fs.fstat(p, fd).unwrap().size, 6);
    assert_eq!(fs.stat("cyrus.expunge").unwrap().size, 6);
    // Writes inside the budget still work.
    assert_eq!(fs.pwrite(p, fd, b"y", 4096).unwrap(), 1);
    assert_eq!(fs.fstat(p, fd).unwrap().size, 4097);
}

#[test]
fn budget_counts_every_file_and_frees_on_unlink() {
    let (_root, mut fs) = fs_with_budget("budget-sum", 1000);
    let p = fs.spawn("p");
    let a = fs.open(p, "a", RW_CREATE).unwrap();
    let b = fs.open(p, "dir/b", RW_CREATE).unwrap();
    fs.ftruncate(p, a, 600).unwrap();
    assert_eq!(fs.ftruncate(p, b, 401).unwrap_err().errno, Errno::NoSpc);
    assert_eq!(
        fs.pwrite(p, b, &[1; 2], 399).unwrap_err().errno,
        Errno::NoSpc
    );
    fs.ftruncate(p, b, 400).unwrap();
    assert_eq!(fs.apparent_total(), 1000);
    // An unlinked file still open keeps its charge; it goes with its last handle.
    fs.unlink(p, "a").unwrap();
    assert_eq!(fs.pwrite(p, b, b"z", 400).unwrap_err().errno, Errno::NoSpc);
    fs.close(p, a).unwrap();
    assert_eq!(fs.apparent_total(), 400);
    assert_eq!(fs.pwrite(p, b, b"z", 400).unwrap(), 1);
    // A new RealFs over the same root charges the files already there.
    drop(fs);
}

#[test]
fn a_new_realfs_charges_the_files_already_under_its_root() {
    let root = TempRoot::new("rescan");
    std::fs::create_dir_all(root.path().join("d")).unwrap();
    std::fs::write(root.path().join("d/f"), vec![0u8; 900]).unwrap();
    let mut fs = RealFs::new(root.path(), RealConfig { budget_bytes: 1000 }).unwrap();
    let p = fs.spawn("p");
    let fd = fs.open(p, "g", RW_CREATE).unwrap();
    assert_eq!(fs.write(p, fd, &[0; 101]).unwrap_err().errno, Errno::NoSpc);
    assert_eq!(fs.write(p, fd, &[0; 100]).unwrap(), 100);
}

#[test]
fn map_shared_sees_a_later_pwrite_within_the_map_length() {
    let (_root, mut fs) = fs("coherent");
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "cyrus.index", RW_CREATE).unwrap();
    fs.pwrite(p, fd, &[0u8; 200], 0).unwrap();
    let map = fs.mmap(p, fd, 200).unwrap();
    fs.pwrite(p, fd, b"hello", 100).unwrap();
    let mut buf = [0u8; 5];
    fs.map_read(p, map, 100, &mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    // Another process's write() is seen too.
    let q = fs.spawn("cyr_expire");
    let fd2 = fs.open(q, "cyrus.index", OpenFlags::RDWR).unwrap();
    fs.lseek(q, fd2, 195, Whence::Set).unwrap();
    fs.write(q, fd2, b"world").unwrap();
    fs.map_read(p, map, 195, &mut buf).unwrap();
    assert_eq!(&buf, b"world");
}

#[test]
fn map_read_at_or_past_the_map_length_is_segv_even_when_the_file_is_longer() {
    let (_root, mut fs) = fs("segv");
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "f", RW_CREATE).unwrap();
    fs.pwrite(p, fd, &[7u8; 300], 0).unwrap();
    let map = fs.mmap(p, fd, 100).unwrap();
    assert_eq!(fs.map_len(p, map).unwrap(), 100);
    fs.pwrite(p, fd, b"appended", 300).unwrap();
    let mut one = [0u8; 1];
    assert_eq!(
        fs.map_read(p, map, 100, &mut one).unwrap_err().errno,
        Errno::Segv
    );
    let mut two = [0u8; 2];
    assert_eq!(
        fs.map_read(p, map, 99, &mut two).unwrap_err().errno,
        Errno::Segv
    );
    assert_eq!(
        fs.map_read(p, map, u64::MAX, &mut one).unwrap_err().errno,
        Errno::Segv
    );
    fs.map_read(p, map, 99, &mut one).unwrap();
    assert_eq!(one, [7]);
    assert_eq!(fs.mmap(p, fd, 0).unwrap_err().errno, Errno::Inval);
}

#[test]
fn map_page_wholly_past_eof_after_a_shrink_is_bus_without_a_crash() {
    let (_root, mut fs) = fs("bus");
    let ps = page_size();
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "f", RW_CREATE).unwrap();
    fs.pwrite(p, fd, &vec![1u8; 3 * ps as usize], 0).unwrap();
    let map = fs.mmap(p, fd, 3 * ps).unwrap();
    fs.ftruncate(p, fd, ps + 10).unwrap();
    let mut b = [9u8; 1];
    // Inside the last page that still holds file bytes: fine, past-EOF bytes read as zero.
    fs.map_read(p, map, ps + 9, &mut b).unwrap();
    assert_eq!(b, [1]);
    fs.map_read(p, map, 2 * ps - 1, &mut b).unwrap();
    assert_eq!(b, [0]);
    // A page wholly past EOF, alone or as the tail of a longer read.
    assert_eq!(
        fs.map_read(p, map, 2 * ps, &mut b).unwrap_err().errno,
        Errno::Bus
    );
    let mut span = [0u8; 2];
    assert_eq!(
        fs.map_read(p, map, 2 * ps - 1, &mut span)
            .unwrap_err()
            .errno,
        Errno::Bus
    );
    // The file grows back: the page is readable again and sees the new bytes.
    fs.pwrite(p, fd, b"z", 2 * ps).unwrap();
    fs.map_read(p, map, 2 * ps, &mut b).unwrap();
    assert_eq!(b, *b"z");
}

#[test]
fn a_map_outlives_its_fd_and_its_name() {
    let (_root, mut fs) = fs("map-life");
    let p = fs.spawn("p");
    let fd = fs.open(p, "f", RW_CREATE).unwrap();
    fs.write(p, fd, b"contents").unwrap();
    let map = fs.mmap(p, fd, 8).unwrap();
    fs.close(p, fd).unwrap();
    fs.unlink(p, "f").unwrap();
    let mut buf = [0u8; 8];
    fs.map_read(p, map, 0, &mut buf).unwrap();
    assert_eq!(&buf, b"contents");
    fs.munmap(p, map).unwrap();
    assert_eq!(
        fs.map_read(p, map, 0, &mut buf).unwrap_err().errno,
        Errno::Inval
    );
    assert_eq!(fs.apparent_total(), 0);
}

#[test]
fn shared_locks_of_two_processes_coexist_and_exclusive_conflicts() {
    let (_root, mut fs) = fs("locks");
    let a = fs.spawn("imapd");
    let b = fs.spawn("cyr_expire");
    let fa = fs.open(a, "cyrus.index", RW_CREATE).unwrap();
    let fb = fs.open(b, "cyrus.index", OpenFlags::RDWR).unwrap();
    fs.lock(a, fa, LockKind::Shared, false).unwrap();
    fs.lock(b, fb, LockKind::Shared, false).unwrap();
    assert_eq!(
        fs.lock(b, fb, LockKind::Exclusive, true).unwrap_err().errno,
        Errno::WouldBlock
    );
    fs.unlock(a, fa).unwrap();
    fs.lock(b, fb, LockKind::Exclusive, true).unwrap();
    assert_eq!(
        fs.lock(a, fa, LockKind::Shared, false).unwrap_err().errno,
        Errno::WouldBlock
    );
    assert_eq!(
        fs.lock(a, fa, LockKind::Exclusive, true).unwrap_err().errno,
        Errno::WouldBlock
    );
}

#[test]
fn closing_any_fd_of_the_file_drops_the_holders_lock() {
    let (_root, mut fs) = fs("posix-close");
    let a = fs.spawn("imapd");
    let b = fs.spawn("cyr_expire");
    let fa1 = fs.open(a, "f", RW_CREATE).unwrap();
    let fa2 = fs.open(a, "f", RDONLY).unwrap();
    let fb = fs.open(b, "f", OpenFlags::RDWR).unwrap();
    fs.lock(a, fa1, LockKind::Exclusive, false).unwrap();
    assert_eq!(
        fs.lock(b, fb, LockKind::Shared, false).unwrap_err().errno,
        Errno::WouldBlock
    );
    fs.close(a, fa2).unwrap();
    fs.lock(b, fb, LockKind::Exclusive, false).unwrap();
}

#[test]
fn a_process_relocking_through_another_fd_does_not_conflict_with_itself() {
    let (_root, mut fs) = fs("relock");
    let a = fs.spawn("imapd");
    let b = fs.spawn("lmtpd");
    let fa1 = fs.open(a, "f", RW_CREATE).unwrap();
    let fa2 = fs.open(a, "f", OpenFlags::RDWR).unwrap();
    let fa3 = fs.open(a, "f", RDONLY).unwrap();
    let fb = fs.open(b, "f", OpenFlags::RDWR).unwrap();
    fs.lock(a, fa1, LockKind::Shared, false).unwrap();
    fs.lock(a, fa2, LockKind::Exclusive, false).unwrap();
    assert_eq!(
        fs.lock(b, fb, LockKind::Shared, false).unwrap_err().errno,
        Errno::WouldBlock
    );
    // Downgrade through a read-only fd, then unlock through yet another fd.
    fs.lock(a, fa3, LockKind::Shared, false).unwrap();
    fs.lock(b, fb, LockKind::Shared, false).unwrap();
    // An exclusive lock needs an fd open for writing, whichever fd would hold it.
    assert_eq!(
        fs.lock(a, fa3, LockKind::Exclusive, false)
            .unwrap_err()
            .errno,
        Errno::BadF
    );
    fs.unlock(a, fa2).unwrap();
    fs.lock(b, fb, LockKind::Exclusive, false).unwrap();
}

#[test]
fn kill_releases_locks_fds_and_maps() {
    let (_root, mut fs) = fs("kill");
    let a = fs.spawn("imapd");
    let b = fs.spawn("cyr_expire");
    let fa = fs.open(a, "f", RW_CREATE).unwrap();
    fs.write(a, fa, b"x").unwrap();
    let map = fs.mmap(a, fa, 1).unwrap();
    fs.lock(a, fa, LockKind::Exclusive, false).unwrap();
    let fb = fs.open(b, "f", OpenFlags::RDWR).unwrap();
    assert_eq!(
        fs.lock(b, fb, LockKind::Exclusive, false)
            .unwrap_err()
            .errno,
        Errno::WouldBlock
    );
    fs.kill(a).unwrap();
    fs.lock(b, fb, LockKind::Exclusive, false).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(fs.read(a, fa, &mut buf).unwrap_err().errno, Errno::Srch);
    assert_eq!(
        fs.map_read(a, map, 0, &mut buf).unwrap_err().errno,
        Errno::Srch
    );
    assert_eq!(fs.kill(a).unwrap_err().errno, Errno::Srch);
    assert_eq!(fs.stat("f").unwrap().size, 1, "kill leaves the disk alone");
}

#[test]
fn sparse_write_at_one_gib_allocates_almost_nothing() {
    let (_root, mut fs) = fs_with_budget("sparse", 2 << 30);
    let p = fs.spawn("p");
    let fd = fs.open(p, "sparse", RW_CREATE).unwrap();
    assert_eq!(fs.pwrite(p, fd, b"x", 1 << 30).unwrap(), 1);
    let st = fs.fstat(p, fd).unwrap();
    assert_eq!(st.size, (1 << 30) + 1);
    assert!(
        st.allocated > 0 && st.allocated <= 64 << 10,
        "allocated {}",
        st.allocated
    );
    let mut b = [9u8; 4];
    assert_eq!(fs.pread(p, fd, &mut b, 4096).unwrap(), 4);
    assert_eq!(b, [0; 4], "a hole reads as zeros");
}

#[test]
fn rename_over_an_open_file_leaves_the_old_fd_on_the_old_contents() {
    let (_root, mut fs) = fs("rename");
    let p = fs.spawn("imapd");
    let old = fs.open(p, "cyrus.expunge", RW_CREATE).unwrap();
    fs.write(p, old, b"old contents").unwrap();
    let new = fs
        .open(p, "cyrus.expunge.NEW", OpenFlags::RDWR_CREATE_TRUNC)
        .unwrap();
    fs.write(p, new, b"new").unwrap();
    fs.rename(p, "cyrus.expunge.NEW", "cyrus.expunge").unwrap();
    let mut buf = [0u8; 32];
    let n = fs.pread(p, old, &mut buf, 0).unwrap();
    assert_eq!(&buf[..n], b"old contents");
    // Appends through the old fd land in the old, nameless inode.
    fs.write(p, old, b"!").unwrap();
    let fresh = fs.open(p, "cyrus.expunge", RDONLY).unwrap();
    let n = fs.read(p, fresh, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"new");
    assert_ne!(
        fs.fstat(p, old).unwrap().ino,
        fs.fstat(p, fresh).unwrap().ino
    );
    assert_eq!(fs.list("").unwrap(), vec!["cyrus.expunge".to_string()]);
}

#[test]
fn fds_are_lowest_free_from_three_and_each_has_its_own_position() {
    let (_root, mut fs) = fs("fds");
    let p = fs.spawn("p");
    let a = fs.open(p, "f", RW_CREATE).unwrap();
    let b = fs.open(p, "f", RDONLY).unwrap();
    assert_eq!((a, b), (Fd(3), Fd(4)));
    fs.write(p, a, b"abcdef").unwrap();
    let mut buf = [0u8; 2];
    fs.read(p, b, &mut buf).unwrap();
    assert_eq!(&buf, b"ab");
    fs.close(p, a).unwrap();
    assert_eq!(fs.open(p, "f", RDONLY).unwrap(), Fd(3));
    assert_eq!(fs.open(p, "f", RDONLY).unwrap(), Fd(5));
    let q = fs.spawn("q");
    assert_eq!(
        fs.open(q, "f", RDONLY).unwrap(),
        Fd(3),
        "fd tables are per process"
    );
}

#[test]
fn kernel_refusals_come_back_as_errno_kinds() {
    let (_root, mut fs) = fs("errnos");
    let p = fs.spawn("p");
    assert_eq!(
        fs.open(p, "missing", RDONLY).unwrap_err().errno,
        Errno::NoEnt
    );
    let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE_EXCL).unwrap();
    assert_eq!(
        fs.open(p, "f", OpenFlags::RDWR_CREATE_EXCL)
            .unwrap_err()
            .errno,
        Errno::Exist
    );
    let ro = fs.open(p, "f", RDONLY).unwrap();
    assert_eq!(fs.write(p, ro, b"x").unwrap_err().errno, Errno::BadF);
    assert_eq!(fs.pwrite(p, ro, b"x", 5).unwrap_err().errno, Errno::BadF);
    assert_eq!(
        fs.lseek(p, fd, -1, Whence::Set).unwrap_err().errno,
        Errno::Inval
    );
    assert_eq!(fs.lseek(p, fd, 10, Whence::End).unwrap(), 10);
    assert_eq!(fs.write(p, fd, b"x").unwrap(), 1);
    assert_eq!(fs.fstat(p, fd).unwrap().size, 11);
    assert_eq!(
        fs.read(p, Fd(99), &mut [0; 1]).unwrap_err().errno,
        Errno::BadF
    );
    fs.close(p, fd).unwrap();
    assert_eq!(fs.close(p, fd).unwrap_err().errno, Errno::BadF);
    assert_eq!(fs.unlink(p, "missing").unwrap_err().errno, Errno::NoEnt);
    assert_eq!(
        fs.rename(p, "missing", "x").unwrap_err().errno,
        Errno::NoEnt
    );
    assert_eq!(fs.stat("f\0").unwrap_err().errno, Errno::Inval);
}

#[test]
fn directories_appear_implicitly_and_list_sorted_with_a_slash() {
    let (_root, mut fs) = fs("list");
    let p = fs.spawn("p");
    for path in ["user/b/cyrus.index", "user/a", "user/c.txt"] {
        let fd = fs.open(p, path, RW_CREATE).unwrap();
        fs.close(p, fd).unwrap();
    }
    assert_eq!(fs.list("user").unwrap(), vec!["a", "b/", "c.txt"]);
    assert_eq!(fs.list("").unwrap(), vec!["user/"]);
    fs.fsync_dir(p, "user/b").unwrap();
    fs.fsync_dir(p, "").unwrap();
    let fd = fs.open(p, "user/a", OpenFlags::RDWR).unwrap();
    fs.fsync(p, fd).unwrap();
    assert_eq!(
        fs.open(p, "nodir/x", OpenFlags::RDWR).unwrap_err().errno,
        Errno::NoEnt
    );
}
