//! Cyrus's own pattern, per coherence mode: map cyrus.index, append a record with write(),
//! overwrite the header in place, then read through the OLD map.

use sim::{Coherence, Errno, OpenFlags, SimConfig, SimFs, Vfs};

struct Seen {
    overwrite_seen: bool,
    append_seen: bool,
}

fn cyrus_pattern(coherence: Coherence) -> Seen {
    let mut fs = SimFs::new(SimConfig {
        coherence,
        ..SimConfig::default()
    });
    let p = fs.spawn("imapd");
    let fd = fs
        .open(p, "user/joe/cyrus.index", OpenFlags::RDWR_CREATE)
        .unwrap();
    fs.write(p, fd, &[b'h'; 100]).unwrap(); // header, 100 bytes
    // Map with room to spare, as map_refresh does: the map is longer than the file.
    let map = fs.mmap(p, fd, 4096).unwrap();
    fs.write(p, fd, &[b'r'; 88]).unwrap(); // an appended record at 100..188
    fs.pwrite(p, fd, b"H", 0).unwrap(); // the header rewritten in place
    let mut head = [0u8; 1];
    fs.map_read(p, map, 0, &mut head).unwrap();
    let mut rec = [0u8; 88];
    fs.map_read(p, map, 100, &mut rec).unwrap();
    let append_seen = rec == [b'r'; 88];
    assert!(
        append_seen || rec == [0; 88],
        "{coherence:?}: appended bytes read as {rec:?}"
    );
    Seen {
        overwrite_seen: head == *b"H",
        append_seen,
    }
}

#[test]
fn shared_maps_see_both_overwrites_and_appends() {
    let s = cyrus_pattern(Coherence::Shared);
    assert!(s.overwrite_seen && s.append_seen);
}

#[test]
fn stupidshared_maps_see_overwrites_but_not_appends() {
    let s = cyrus_pattern(Coherence::StupidShared);
    assert!(s.overwrite_seen && !s.append_seen);
}

#[test]
fn nommap_maps_see_neither() {
    let s = cyrus_pattern(Coherence::NoMmap);
    assert!(!s.overwrite_seen && !s.append_seen);
}

#[test]
fn reads_at_or_past_the_map_length_segfault_in_every_mode() {
    for coherence in [
        Coherence::Shared,
        Coherence::StupidShared,
        Coherence::NoMmap,
    ] {
        let mut fs = SimFs::new(SimConfig {
            coherence,
            ..SimConfig::default()
        });
        let p = fs.spawn("imapd");
        let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
        fs.write(p, fd, &[1; 10_000]).unwrap();
        let map = fs.mmap(p, fd, 5000).unwrap();
        assert_eq!(fs.map_len(p, map).unwrap(), 5000);
        let mut b = [0u8; 8];
        assert!(fs.map_read(p, map, 4992, &mut b).is_ok());
        assert_eq!(
            fs.map_read(p, map, 4993, &mut b).unwrap_err().errno,
            Errno::Segv
        );
        assert_eq!(
            fs.map_read(p, map, 5000, &mut []).unwrap_err().errno,
            Errno::Segv
        );
        // The file grows; the map does not.
        fs.write(p, fd, &[2; 10_000]).unwrap();
        assert_eq!(
            fs.map_read(p, map, 6000, &mut b).unwrap_err().errno,
            Errno::Segv
        );
        let segv = fs
            .events()
            .iter()
            .filter(|e| e.kind == sim::EventKind::Segv)
            .count();
        assert_eq!(segv, 3, "{coherence:?}: every map fault is an event");
    }
}

#[test]
fn a_page_wholly_past_eof_after_a_shrink_is_sigbus_and_the_last_page_tail_reads_zero() {
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
    fs.write(p, fd, &[7; 3 * 4096]).unwrap();
    let map = fs.mmap(p, fd, 3 * 4096).unwrap();
    fs.ftruncate(p, fd, 4096 + 10).unwrap();
    let mut b = [9u8; 16];
    fs.map_read(p, map, 4096, &mut b).unwrap();
    assert_eq!(&b[..10], &[7; 10]);
    assert_eq!(
        &b[10..],
        &[0; 6],
        "the tail of the last page past EOF reads zeros"
    );
    let e = fs.map_read(p, map, 2 * 4096, &mut b).unwrap_err();
    assert_eq!(e.errno, Errno::Bus, "{e}");
    let e = fs.map_read(p, map, 2 * 4096 - 8, &mut b).unwrap_err();
    assert_eq!(
        e.errno,
        Errno::Bus,
        "a read straddling into a page past EOF faults too"
    );
    assert_eq!(
        fs.events().last().map(|e| e.kind),
        Some(sim::EventKind::Bus)
    );
}

#[test]
fn map_reads_are_not_traced_calls() {
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
    fs.write(p, fd, b"abc").unwrap();
    let map = fs.mmap(p, fd, 3).unwrap();
    let (calls, digest) = (fs.calls(), fs.trace_digest());
    let mut b = [0u8; 3];
    for _ in 0..10 {
        fs.map_read(p, map, 0, &mut b).unwrap();
    }
    fs.map_len(p, map).unwrap();
    assert_eq!((fs.calls(), fs.trace_digest()), (calls, digest));
    assert_eq!(&b, b"abc");
}

#[test]
fn a_map_keeps_an_unlinked_file_readable() {
    let mut fs = SimFs::default();
    let p = fs.spawn("imapd");
    let fd = fs.open(p, "f", OpenFlags::RDWR_CREATE).unwrap();
    fs.write(p, fd, b"still here").unwrap();
    let map = fs.mmap(p, fd, 10).unwrap();
    fs.close(p, fd).unwrap();
    fs.unlink(p, "f").unwrap();
    let mut b = [0u8; 10];
    fs.map_read(p, map, 0, &mut b).unwrap();
    assert_eq!(&b, b"still here");
    assert_eq!(fs.partition().1, 4096);
    fs.munmap(p, map).unwrap();
    assert_eq!(fs.partition().1, 0);
    assert_eq!(
        fs.map_read(p, map, 0, &mut b).unwrap_err().errno,
        Errno::Inval
    );
}

#[test]
fn map_next_data_skips_holes_and_never_skips_data() {
    for coherence in [
        Coherence::Shared,
        Coherence::StupidShared,
        Coherence::NoMmap,
    ] {
        let mut fs = SimFs::new(SimConfig {
            coherence,
            ..SimConfig::default()
        });
        let pid = fs.spawn("t");
        let fd = fs.open(pid, "f", OpenFlags::RDWR_CREATE).unwrap();
        fs.pwrite(pid, fd, b"head", 0).unwrap();
        let far = 1u64 << 40;
        fs.pwrite(pid, fd, b"tail", far).unwrap();
        let len = far + 4;
        let m = fs.mmap(pid, fd, len).unwrap();
        // Data at 0: no skipping there.
        assert_eq!(fs.map_next_data(pid, m, 0).unwrap(), 0, "{coherence:?}");
        // From just past the first block, the next data is the block holding "tail".
        let next = fs.map_next_data(pid, m, 4096).unwrap();
        assert_eq!(next, far / 4096 * 4096, "{coherence:?}");
        let mut buf = [0u8; 4];
        fs.map_read(pid, m, far, &mut buf).unwrap();
        assert_eq!(&buf, b"tail");
        // Inside the data block: right there.
        assert_eq!(fs.map_next_data(pid, m, len - 1).unwrap(), len - 1);
        // A trailing hole (the file extended by ftruncate): nothing more, the map's length.
        fs.ftruncate(pid, fd, len + (1 << 20)).unwrap();
        let m2 = fs.mmap(pid, fd, len + (1 << 20)).unwrap();
        assert_eq!(
            fs.map_next_data(pid, m2, len + 4096).unwrap(),
            len + (1 << 20),
            "{coherence:?}"
        );
    }
}

#[test]
fn with_page_tails_a_read_past_the_length_inside_the_last_page_reads_the_file() {
    let mut fs = SimFs::new(SimConfig {
        map_tail: sim::MapTail::Page,
        ..SimConfig::default()
    });
    let pid = fs.spawn("t");
    let fd = fs.open(pid, "f", OpenFlags::RDWR_CREATE).unwrap();
    fs.pwrite(pid, fd, &[7u8; 336], 0).unwrap();
    let m = fs.mmap(pid, fd, 336).unwrap();
    // Past the length, past EOF, inside the page: zeros, and a map_tail event.
    let mut buf = [1u8; 80];
    fs.map_read(pid, m, 336, &mut buf).unwrap();
    assert_eq!(buf, [0u8; 80]);
    assert_eq!(fs.events().last().unwrap().kind, sim::EventKind::MapTail);
    // The file grows: the same bytes of the page now show its data.
    fs.pwrite(pid, fd, &[9u8; 100], 336).unwrap();
    fs.map_read(pid, m, 336, &mut buf).unwrap();
    assert_eq!(buf, [9u8; 80]);
    // Past the last page: a segfault as before.
    let e = fs.map_read(pid, m, 4096, &mut buf).unwrap_err();
    assert_eq!(e.errno, sim::Errno::Segv);
    // With the default, the first read past the length already faults.
    let mut strict = SimFs::new(SimConfig::default());
    let pid = strict.spawn("t");
    let fd = strict.open(pid, "f", OpenFlags::RDWR_CREATE).unwrap();
    strict.pwrite(pid, fd, &[7u8; 336], 0).unwrap();
    let m = strict.mmap(pid, fd, 336).unwrap();
    assert_eq!(
        strict.map_read(pid, m, 336, &mut buf).unwrap_err().errno,
        sim::Errno::Segv
    );
}
