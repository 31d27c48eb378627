//! Names, fds and inodes: what Cyrus's rename dance relies on, and process bookkeeping.

use sim::{Errno, Fd, OpenFlags, Pid, SimFs, Vfs, Whence};

fn read_all(fs: &mut SimFs, p: Pid, fd: Fd) -> Vec<u8> {
    let size = fs.fstat(p, fd).unwrap().size;
    let mut buf = vec![0u8; size as usize];
    let n = fs.pread(p, fd, &mut buf, 0).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn an_open_fd_keeps_its_inode_across_rename_over_it() {
    // Cyrus pass 1 appends to cyrus.expunge through an fd, while another process renames a
    // new file over the name: the appends go to the old inode and vanish from the name.
    let mut fs = SimFs::default();
    let a = fs.spawn("imapd");
    let b = fs.spawn("cyr_expire");
    let old = fs
        .open(a, "m/cyrus.expunge", OpenFlags::RDWR_CREATE)
        .unwrap();
    let ino = fs.fstat(a, old).unwrap().ino;
    let new = fs
        .open(b, "m/cyrus.expunge.NEW", OpenFlags::RDWR_CREATE_TRUNC)
        .unwrap();
    fs.write(b, new, b"new").unwrap();
    fs.rename(b, "m/cyrus.expunge.NEW", "m/cyrus.expunge")
        .unwrap();
    fs.write(a, old, b"appended to the old inode").unwrap();
    assert_eq!(read_all(&mut fs, a, old), b"appended to the old inode");
    assert_eq!(fs.fstat(a, old).unwrap().ino, ino);
    assert_ne!(fs.stat("m/cyrus.expunge").unwrap().ino, ino);
    assert_eq!(fs.stat("m/cyrus.expunge").unwrap().size, 3);
    assert_eq!(fs.list("m").unwrap(), vec!["cyrus.expunge"]);
    let used = fs.partition().1;
    fs.close(a, old).unwrap();
    assert_eq!(
        fs.partition().1,
        used - 4096,
        "the replaced inode's block is freed on last close"
    );
    fs.check_invariants().unwrap();
}

#[test]
fn an_unlinked_open_file_stays_readable_until_its_last_close() {
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
    fs.write(p, fd, &[3; 10_000]).unwrap();
    fs.unlink(p, "f").unwrap();
    assert_eq!(fs.stat("f").unwrap_err().errno, Errno::NoEnt);
    assert_eq!(fs.partition().1, 3 * 4096);
    assert_eq!(read_all(&mut fs, p, fd).len(), 10_000);
    assert!(fs.files().is_empty());
    fs.close(p, fd).unwrap();
    assert_eq!(fs.partition().1, 0);
    fs.check_invariants().unwrap();
}

#[test]
fn kill_closes_fds_but_leaves_the_disk_alone() {
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
    fs.write(p, fd, b"data").unwrap();
    fs.unlink(p, "g").unwrap_err();
    fs.kill(p).unwrap();
    assert_eq!(fs.write(p, fd, b"x").unwrap_err().errno, Errno::Srch);
    assert_eq!(fs.kill(p).unwrap_err().errno, Errno::Srch);
    assert_eq!(fs.stat("f").unwrap().size, 4);
    assert_eq!(fs.process_name(p), Some("imapd"));
    assert_eq!(fs.spawn("imapd"), Pid(2), "pids are never reused");
}

#[test]
fn fds_check_their_access_mode_and_positions_follow_posix() {
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let w = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
    assert_eq!(w, Fd(3));
    fs.write(p, w, b"0123456789").unwrap();
    let r = fs.open(p, "f", OpenFlags::RDONLY).unwrap();
    assert_eq!(r, Fd(4));
    assert_eq!(fs.write(p, r, b"x").unwrap_err().errno, Errno::BadF);
    assert_eq!(fs.ftruncate(p, r, 0).unwrap_err().errno, Errno::Inval);
    let mut b = [0u8; 4];
    assert_eq!(fs.read(p, r, &mut b).unwrap(), 4);
    assert_eq!(fs.lseek(p, r, 0, Whence::Cur).unwrap(), 4);
    assert_eq!(fs.lseek(p, r, -2, Whence::End).unwrap(), 8);
    assert_eq!(fs.read(p, r, &mut b).unwrap(), 2);
    assert_eq!(fs.read(p, r, &mut b).unwrap(), 0, "read at EOF gives 0");
    assert_eq!(
        fs.lseek(p, r, -1, Whence::Set).unwrap_err().errno,
        Errno::Inval
    );
    // Seeking past EOF allocates nothing; writing there leaves a hole.
    assert_eq!(fs.lseek(p, w, 1 << 20, Whence::Set).unwrap(), 1 << 20);
    assert_eq!(fs.fstat(p, w).unwrap().allocated, 4096);
    fs.write(p, w, b"x").unwrap();
    assert_eq!(fs.fstat(p, w).unwrap().allocated, 2 * 4096);
    // O_APPEND writes at EOF whatever the position.
    let a = fs
        .open(
            p,
            "f",
            OpenFlags {
                append: true,
                ..OpenFlags::RDWR
            },
        )
        .unwrap();
    fs.write(p, a, b"END").unwrap();
    assert_eq!(fs.stat("f").unwrap().size, (1 << 20) + 4);
    // As on Linux, pwrite on an O_APPEND fd appends too.
    fs.pwrite(p, a, b"!", 0).unwrap();
    assert_eq!(fs.stat("f").unwrap().size, (1 << 20) + 5);
    assert_eq!(fs.close(p, Fd(99)).unwrap_err().errno, Errno::BadF);
    fs.close(p, r).unwrap();
    assert_eq!(
        fs.open(p, "g", OpenFlags::RDWR_CREATE).unwrap(),
        Fd(4),
        "lowest free fd"
    );
}

#[test]
fn open_flags_follow_posix() {
    let mut fs = SimFs::default();
    let p = fs.spawn("lmtpd");
    assert_eq!(
        fs.open(p, "f", OpenFlags::RDWR).unwrap_err().errno,
        Errno::NoEnt
    );
    let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE_EXCL).unwrap();
    fs.write(p, fd, b"abc").unwrap();
    assert_eq!(
        fs.open(p, "f", OpenFlags::RDWR_CREATE_EXCL)
            .unwrap_err()
            .errno,
        Errno::Exist
    );
    let t = fs.open(p, "f", OpenFlags::RDWR_CREATE_TRUNC).unwrap();
    assert_eq!(fs.fstat(p, t).unwrap().size, 0);
    assert_eq!(fs.fstat(p, t).unwrap().allocated, 0);
}

#[test]
fn paths_and_directories_are_checked() {
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let e = fs.open(p, "/etc/passwd", OpenFlags::RDONLY).unwrap_err();
    assert_eq!(e.errno, Errno::Acces);
    assert_eq!(
        fs.open(p, "../x", OpenFlags::RDWR_CREATE)
            .unwrap_err()
            .errno,
        Errno::Acces
    );
    assert_eq!(
        fs.open(p, "a//b", OpenFlags::RDWR_CREATE)
            .unwrap_err()
            .errno,
        Errno::Inval
    );
    fs.open(p, "user/joe/cyrus.index", OpenFlags::RDWR_CREATE)
        .unwrap();
    fs.open(p, "user/joe/1.", OpenFlags::RDWR_CREATE).unwrap();
    fs.open(p, "user/kim/cyrus.index", OpenFlags::RDWR_CREATE)
        .unwrap();
    assert_eq!(fs.list("").unwrap(), vec!["user/"]);
    assert_eq!(fs.list("user").unwrap(), vec!["joe/", "kim/"]);
    assert_eq!(fs.list("user/joe").unwrap(), vec!["1.", "cyrus.index"]);
    assert_eq!(fs.list("nope").unwrap_err().errno, Errno::NoEnt);
    assert!(fs.open(p, "user", OpenFlags::RDONLY).is_err());
    assert!(fs.open(p, "user/joe/1./x", OpenFlags::RDWR_CREATE).is_err());
    fs.unlink(p, "user/kim/cyrus.index").unwrap();
    assert_eq!(
        fs.list("user").unwrap(),
        vec!["joe/"],
        "an empty directory vanishes"
    );
    let files: Vec<String> = fs.files().into_iter().map(|(p, _)| p).collect();
    assert_eq!(files, vec!["user/joe/1.", "user/joe/cyrus.index"]);
}

#[test]
fn offsets_past_the_largest_file_size_are_efbig() {
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
    let max = fs.config().max_file_size;
    assert_eq!(fs.pwrite(p, fd, b"x", max).unwrap_err().errno, Errno::FBig);
    assert_eq!(
        fs.pwrite(p, fd, b"xy", max - 1).unwrap(),
        1,
        "written up to the limit"
    );
    assert_eq!(
        fs.pwrite(p, fd, b"x", u64::MAX).unwrap_err().errno,
        Errno::FBig
    );
    assert_eq!(fs.ftruncate(p, fd, max + 1).unwrap_err().errno, Errno::FBig);
    assert_eq!(
        fs.lseek(p, fd, i64::MAX, Whence::Set).unwrap_err().errno,
        Errno::FBig
    );
    let mut b = [0u8; 4];
    assert_eq!(fs.pread(p, fd, &mut b, u64::MAX).unwrap(), 0);
}

#[test]
fn simfs_is_send_and_a_clone_is_an_independent_copy() {
    fn assert_send<T: Send>() {}
    assert_send::<SimFs>();
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
    fs.write(p, fd, b"before").unwrap();
    let mut fork = fs.clone();
    fork.pwrite(p, fd, b"AFTER!", 0).unwrap();
    assert_eq!(read_all(&mut fs, p, fd), b"before");
    assert_eq!(read_all(&mut fork, p, fd), b"AFTER!");
    assert_ne!(fs.trace_digest(), fork.trace_digest());
}

#[test]
fn a_snapshot_and_its_origin_change_apart_though_they_share_inodes_and_names() {
    use sim::{OpenFlags, SimConfig, SimFs, Vfs};
    let mut fs = SimFs::new(SimConfig::default());
    let p = fs.spawn("w");
    let fd = fs.open(p, "d/f", OpenFlags::RDWR_CREATE_TRUNC).unwrap();
    fs.write(p, fd, b"before").unwrap();
    let mut snap = fs.snapshot();
    // The origin changes the shared inode and the names after the copy.
    fs.pwrite(p, fd, b"AFTER!", 0).unwrap();
    fs.rename(p, "d/f", "d/g").unwrap();
    let q = snap.spawn("r");
    let sfd = snap.open(q, "d/f", OpenFlags::RDONLY).unwrap();
    let mut b = [0u8; 6];
    snap.pread(q, sfd, &mut b, 0).unwrap();
    assert_eq!(&b, b"before");
    assert!(snap.stat("d/g").is_err());
    // And the copy's own writes stay in the copy.
    let wfd = snap.open(q, "d/h", OpenFlags::RDWR_CREATE_TRUNC).unwrap();
    snap.write(q, wfd, b"copy").unwrap();
    assert!(fs.stat("d/h").is_err());
    let r = fs.spawn("r");
    let gfd = fs.open(r, "d/g", OpenFlags::RDONLY).unwrap();
    fs.pread(r, gfd, &mut b, 0).unwrap();
    assert_eq!(&b, b"AFTER!");
    assert!(fs.check_invariants().is_ok() && snap.check_invariants().is_ok());
}
