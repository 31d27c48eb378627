//! `struct mailbox` and its life cycle: create, open, lock, read the index header, close
//! (imap/mailbox.c, cyrus-imapd-2.3.12-p1 unless noted).

use sim::{Fd, OpenFlags, Whence};

use crate::cx::{CResult, Cx, CyrusError};
use crate::layout::*;
use crate::lock::{lock_blocking, lock_nonblocking, lock_reopen, lock_unlock};
use crate::map::{CyrusMap, map_free, map_refresh};

pub const FNAME_HEADER: &str = "cyrus.header";
pub const FNAME_INDEX: &str = "cyrus.index";
pub const FNAME_CACHE: &str = "cyrus.cache";
pub const FNAME_EXPUNGE: &str = "cyrus.expunge";

/// Where a mailbox called `user.bob.Spam` lives: `user/bob/Spam`.
pub fn mailbox_path(name: &str) -> String {
    name.replace('.', "/")
}

/// `dir/file`. Paths are built for most calls the model and the oracles make, so without
/// the formatting machinery (a `format!` costs several times this).
pub fn path_in(dir: &str, file: &str) -> String {
    let mut p = String::with_capacity(dir.len() + 1 + file.len());
    p.push_str(dir);
    p.push('/');
    p.push_str(file);
    p
}

/// The quota root of a mailbox: `user.bob` for every folder of bob.
pub fn quota_root(name: &str) -> String {
    let mut parts = name.split('.');
    match (parts.next(), parts.next()) {
        (Some("user"), Some(u)) => format!("user.{u}"),
        (Some(top), _) => top.to_string(),
        _ => name.to_string(),
    }
}

/// `mailbox_message_get_fname`: message files are `UID.` in the mailbox directory.
pub fn message_fname(path: &str, uid: u32) -> String {
    format!("{path}/{uid}.")
}

/// An open mailbox, as `struct mailbox` holds it.
#[derive(Debug, Clone, Default)]
pub struct Mailbox {
    pub name: String,
    pub path: String,
    pub header_fd: Option<Fd>,
    pub index_fd: Option<Fd>,
    pub cache_fd: Option<Fd>,
    pub index_map: CyrusMap,
    pub cache_map: CyrusMap,
    pub header_lock_count: u32,
    pub index_lock_count: u32,
    pub pop_lock_count: u32,
    pub generation_no: u32,
    pub format: u32,
    pub minor_version: u32,
    pub start_offset: u32,
    pub record_size: u32,
    pub exists: u32,
    pub last_appenddate: u32,
    pub last_uid: u32,
    pub quota_mailbox_used: u64,
    pub uidvalidity: u32,
    pub deleted: u32,
    pub answered: u32,
    pub flagged: u32,
    pub leaked_cache: u32,
    pub highestmodseq: u64,
    pub index_ino: u64,
    pub index_size: u64,
    pub cache_size: u64,
}

impl Mailbox {
    pub fn fname(&self, file: &str) -> String {
        path_in(&self.path, file)
    }

    /// Raw bytes of record `msgno` (1-based) through the index map, as
    /// `index_base + start_offset + (msgno-1)*record_size`; no bounds check, as in Cyrus.
    pub fn read_record_raw(&self, cx: &mut Cx, msgno: u32, buf: &mut [u8]) -> CResult<()> {
        let off = record_offset(cx, self.start_offset, self.record_size, msgno);
        let n = (self.record_size as usize).min(buf.len());
        self.index_map.read(cx, off, &mut buf[..n])
    }

    /// The header fields as a 96-byte buffer (mailbox_write_index_header's layout).
    pub fn header_bytes(&self, base: &[u8; INDEX_HEADER_SIZE]) -> [u8; INDEX_HEADER_SIZE] {
        let mut b = *base;
        put32(&mut b, OFFSET_GENERATION_NO, self.generation_no);
        put32(&mut b, OFFSET_FORMAT, self.format);
        put32(&mut b, OFFSET_MINOR_VERSION, self.minor_version);
        put32(&mut b, OFFSET_START_OFFSET, self.start_offset);
        put32(&mut b, OFFSET_RECORD_SIZE, self.record_size);
        put32(&mut b, OFFSET_EXISTS, self.exists);
        put32(&mut b, OFFSET_LAST_APPENDDATE, self.last_appenddate);
        put32(&mut b, OFFSET_LAST_UID, self.last_uid);
        put64(&mut b, OFFSET_QUOTA_MAILBOX_USED64, self.quota_mailbox_used);
        put32(&mut b, OFFSET_UIDVALIDITY, self.uidvalidity);
        put32(&mut b, OFFSET_DELETED, self.deleted);
        put32(&mut b, OFFSET_ANSWERED, self.answered);
        put32(&mut b, OFFSET_FLAGGED, self.flagged);
        put32(&mut b, OFFSET_LEAKED_CACHE, self.leaked_cache);
        put64(&mut b, OFFSET_HIGHESTMODSEQ_64, self.highestmodseq);
        b
    }
}

/// `start_offset + (msgno - 1) * record_size` in C's `unsigned long`.
pub fn record_offset(cx: &Cx, start_offset: u32, record_size: u32, msgno: u32) -> u64 {
    let v = start_offset as u128 + (msgno as u128).wrapping_sub(1) * record_size as u128;
    cx.site.arch.ulong(v)
}

/// Write all of `data` at the fd's position, as Cyrus's `retry_write` does. Returns the
/// bytes written (short only on error).
pub fn retry_write(cx: &mut Cx, fd: Fd, data: &[u8]) -> CResult<usize> {
    let mut done = 0;
    while done < data.len() {
        match cx.fs.write(cx.pid, fd, &data[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) => {
                let err = cx.check(e);
                if let CyrusError::Died(..) = err {
                    return Err(err);
                }
                break;
            }
        }
    }
    Ok(done)
}

/// Read up to `buf.len()` bytes at the fd's position (`read(2)`, looped).
pub fn read_full(cx: &mut Cx, fd: Fd, buf: &mut [u8]) -> CResult<usize> {
    let mut got = 0;
    while got < buf.len() {
        match cx.fs.read(cx.pid, fd, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => {
                let err = cx.check(e);
                if let CyrusError::Died(..) = err {
                    return Err(err);
                }
                break;
            }
        }
    }
    Ok(got)
}

/// `mailbox_create`: a new, empty mailbox in this version's format.
pub fn mailbox_create(cx: &mut Cx, name: &str, uidvalidity: u32) -> CResult<()> {
    let path = mailbox_path(name);
    let minor = cx.site.version.minor_version();
    let mb = Mailbox {
        name: name.to_string(),
        path: path.clone(),
        generation_no: 0,
        format: 0,
        minor_version: minor,
        start_offset: INDEX_HEADER_SIZE as u32,
        record_size: cx.site.version.record_size(),
        uidvalidity,
        highestmodseq: 1,
        ..Mailbox::default()
    };
    let files: [(&str, Vec<u8>); 3] = [
        (
            FNAME_HEADER,
            format!("\u{a1}\u{2}\u{8b}\u{d}Cyrus mailbox header\n{name}\n").into_bytes(),
        ),
        (FNAME_CACHE, 0u32.to_be_bytes().to_vec()),
        (
            FNAME_INDEX,
            mb.header_bytes(&[0; INDEX_HEADER_SIZE]).to_vec(),
        ),
    ];
    for (file, bytes) in files {
        let p = mb.fname(file);
        let fd = cx
            .fs
            .open(cx.pid, &p, OpenFlags::RDWR_CREATE_EXCL)
            .map_err(|e| cx.check(e))?;
        let n = retry_write(cx, fd, &bytes)?;
        let synced = cx.fs.fsync(cx.pid, fd);
        let r = cx.fs.close(cx.pid, fd);
        cx.ignore(r)?;
        if n != bytes.len() || cx.ignore(synced)?.is_none() {
            return Err(cx.ioerror(format!("creating {p}")));
        }
    }
    let r = cx.fs.fsync_dir(cx.pid, &path);
    cx.ignore(r)?;
    Ok(())
}

/// `mailbox_open_header`: open cyrus.header (the ACL and quota root live there).
pub fn mailbox_open_header(cx: &mut Cx, name: &str) -> CResult<Mailbox> {
    let path = mailbox_path(name);
    let mut mb = Mailbox {
        name: name.to_string(),
        path,
        ..Mailbox::default()
    };
    let p = mb.fname(FNAME_HEADER);
    match cx.fs.open(cx.pid, &p, OpenFlags::RDWR) {
        Ok(fd) => mb.header_fd = Some(fd),
        Err(e) if e.errno == sim::Errno::NoEnt => {
            return Err(CyrusError::NonExistent(name.to_string()));
        }
        Err(e) => return Err(cx.check(e)),
    }
    Ok(mb)
}

/// `mailbox_open_index`: open and map cyrus.index and cyrus.cache, retry while their
/// generation numbers differ (MAXTRIES), then read the header (which may upgrade).
pub fn mailbox_open_index(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    const MAXTRIES: u32 = 60;
    close_index_and_cache(cx, mb)?;
    let mut tries = 0;
    loop {
        let ip = mb.fname(FNAME_INDEX);
        let fd = match cx.fs.open(cx.pid, &ip, OpenFlags::RDWR) {
            Ok(fd) => fd,
            Err(e) => {
                return Err(cx.fail_with(e, |cx| cx.ioerror(format!("opening {ip}"))));
            }
        };
        mb.index_fd = Some(fd);
        map_refresh(cx, fd, false, &mut mb.index_map, None, "index")?;
        let cp = mb.fname(FNAME_CACHE);
        let cfd = match cx.fs.open(cx.pid, &cp, OpenFlags::RDWR) {
            Ok(fd) => fd,
            Err(e) => {
                return Err(cx.fail_with(e, |cx| cx.ioerror(format!("opening {cp}"))));
            }
        };
        mb.cache_fd = Some(cfd);
        let st = match cx.fs.fstat(cx.pid, cfd) {
            Ok(st) => st,
            Err(e) => {
                cx.check(e);
                return Err(cx.fatal("can't fstat cache file"));
            }
        };
        mb.cache_size = st.size;
        map_refresh(cx, cfd, false, &mut mb.cache_map, Some(st.size), "cache")?;
        let istat = cx.fs.fstat(cx.pid, fd).map_err(|e| cx.check(e))?;
        if istat.size < 4 || mb.cache_size < 4 {
            return Err(CyrusError::BadFormat(format!(
                "{}: index or cache too short",
                mb.name
            )));
        }
        let mut g = [0u8; 4];
        mb.index_map.read(cx, 0, &mut g)?;
        let index_gen = u32::from_be_bytes(g);
        mb.cache_map.read(cx, 0, &mut g)?;
        let cache_gen = u32::from_be_bytes(g);
        if index_gen == cache_gen {
            mb.generation_no = index_gen;
            break;
        }
        close_index_and_cache(cx, mb)?;
        tries += 1;
        if tries >= MAXTRIES {
            cx.story(format!(
                "{}: index generation {index_gen} != cache generation {cache_gen}",
                mb.name
            ));
            return Err(CyrusError::BadFormat(format!(
                "{}: generation mismatch (index {index_gen}, cache {cache_gen})",
                mb.name
            )));
        }
    }
    mailbox_read_index_header(cx, mb)
}

fn close_index_and_cache(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    if let Some(fd) = mb.index_fd.take() {
        let r = cx.fs.close(cx.pid, fd);
        cx.ignore(r)?;
        map_free(cx, &mut mb.index_map)?;
    }
    if let Some(fd) = mb.cache_fd.take() {
        let r = cx.fs.close(cx.pid, fd);
        cx.ignore(r)?;
        map_free(cx, &mut mb.cache_map)?;
    }
    Ok(())
}

/// `mailbox_read_index_header`: refresh the index map to the file's size and read the
/// header fields. From 2.3.10 a header older than this version's minor version is upgraded
/// first (mailbox.c T12:897-909), then the mailbox is opened again.
pub fn mailbox_read_index_header(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    let fd = mb
        .index_fd
        .ok_or_else(|| CyrusError::BadFormat(mb.name.clone()))?;
    let st = cx.fs.fstat(cx.pid, fd).map_err(|e| cx.check(e))?;
    mb.index_ino = st.ino;
    mb.index_size = st.size;
    map_refresh(cx, fd, false, &mut mb.index_map, Some(st.size), "index")?;
    if st.size < OFFSET_POP3_LAST_LOGIN as u64 {
        return Err(CyrusError::BadFormat(format!(
            "{}: index of {} bytes",
            mb.name, st.size
        )));
    }
    let mut h = [0u8; INDEX_HEADER_SIZE];
    let hl = (st.size.min(INDEX_HEADER_SIZE as u64)) as usize;
    mb.index_map.read(cx, 0, &mut h[..hl])?;
    if st.size < get32(&h, OFFSET_START_OFFSET) as u64 {
        return Err(CyrusError::BadFormat(format!(
            "{}: start_offset past EOF",
            mb.name
        )));
    }
    mb.format = get32(&h, OFFSET_FORMAT);
    mb.minor_version = get32(&h, OFFSET_MINOR_VERSION);
    mb.start_offset = get32(&h, OFFSET_START_OFFSET);
    mb.record_size = get32(&h, OFFSET_RECORD_SIZE);
    let version = cx.site.version;
    if mb.start_offset < (OFFSET_HIGHESTMODSEQ_64 + 8) as u32
        || mb.record_size < version.record_size()
        || mb.minor_version < version.minor_version()
    {
        if version.minor_version() >= 10 {
            crate::upgrade::mailbox_upgrade_index(cx, mb)?;
            return mailbox_open_index(cx, mb);
        }
        return Err(CyrusError::BadFormat(format!(
            "{}: minor version {} older than {}",
            mb.name,
            mb.minor_version,
            version.minor_version()
        )));
    }
    mb.exists = get32(&h, OFFSET_EXISTS);
    mb.last_appenddate = get32(&h, OFFSET_LAST_APPENDDATE);
    mb.last_uid = get32(&h, OFFSET_LAST_UID);
    mb.quota_mailbox_used = get64(&h, OFFSET_QUOTA_MAILBOX_USED64);
    mb.uidvalidity = get32(&h, OFFSET_UIDVALIDITY);
    mb.deleted = get32(&h, OFFSET_DELETED);
    mb.answered = get32(&h, OFFSET_ANSWERED);
    mb.flagged = get32(&h, OFFSET_FLAGGED);
    mb.leaked_cache = get32(&h, OFFSET_LEAKED_CACHE);
    mb.highestmodseq = get64(&h, OFFSET_HIGHESTMODSEQ_64);
    Ok(())
}

/// `mailbox_lock_header`: lock_reopen on cyrus.header (counted).
pub fn mailbox_lock_header(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    mb.header_lock_count += 1;
    if mb.header_lock_count > 1 {
        return Ok(());
    }
    let fd = mb
        .header_fd
        .ok_or_else(|| CyrusError::BadFormat(mb.name.clone()))?;
    let p = mb.fname(FNAME_HEADER);
    match lock_reopen(cx, fd, &p) {
        Ok((fd, _)) => {
            mb.header_fd = Some(fd);
            Ok(())
        }
        Err(e) => {
            mb.header_lock_count -= 1;
            Err(e)
        }
    }
}

/// `mailbox_lock_index`: blocking lock on cyrus.index; reopen if it was replaced; then
/// re-read the header (which refreshes the map to the file's current size).
pub fn mailbox_lock_index(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    mb.index_lock_count += 1;
    if mb.index_lock_count > 1 {
        return Ok(());
    }
    let p = mb.fname(FNAME_INDEX);
    loop {
        let fd = mb
            .index_fd
            .ok_or_else(|| CyrusError::BadFormat(mb.name.clone()))?;
        if let Err(e) = lock_blocking(cx, fd) {
            mb.index_lock_count -= 1;
            return Err(e);
        }
        let fdst = cx.fs.fstat(cx.pid, fd).map_err(|e| cx.check(e))?;
        let pst = match cx.fs.stat(&p) {
            Ok(s) => s,
            Err(e) => {
                mailbox_unlock_index(cx, mb)?;
                return Err(cx.check(e));
            }
        };
        if fdst.ino == pst.ino {
            break;
        }
        mailbox_open_index(cx, mb)?;
    }
    if let Err(e) = mailbox_read_index_header(cx, mb) {
        mailbox_unlock_index(cx, mb)?;
        return Err(e);
    }
    Ok(())
}

/// `mailbox_lock_pop`: a non-blocking lock on the cache fd.
pub fn mailbox_lock_pop(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    mb.pop_lock_count += 1;
    if mb.pop_lock_count > 1 {
        return Ok(());
    }
    let fd = mb
        .cache_fd
        .ok_or_else(|| CyrusError::BadFormat(mb.name.clone()))?;
    if let Err(e) = lock_nonblocking(cx, fd) {
        mb.pop_lock_count -= 1;
        return Err(e);
    }
    Ok(())
}

pub fn mailbox_unlock_header(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    if mb.header_lock_count == 0 {
        return Ok(());
    }
    mb.header_lock_count -= 1;
    if mb.header_lock_count == 0
        && let Some(fd) = mb.header_fd
    {
        lock_unlock(cx, fd)?;
    }
    Ok(())
}

pub fn mailbox_unlock_index(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    if mb.index_lock_count == 0 {
        return Ok(());
    }
    mb.index_lock_count -= 1;
    if mb.index_lock_count == 0
        && let Some(fd) = mb.index_fd
    {
        lock_unlock(cx, fd)?;
    }
    Ok(())
}

pub fn mailbox_unlock_pop(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    if mb.pop_lock_count == 0 {
        return Ok(());
    }
    mb.pop_lock_count -= 1;
    if mb.pop_lock_count == 0
        && let Some(fd) = mb.cache_fd
    {
        lock_unlock(cx, fd)?;
    }
    Ok(())
}

/// `mailbox_close`: close every fd and free every map (closing drops the locks).
pub fn mailbox_close(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    if let Some(fd) = mb.header_fd.take() {
        let r = cx.fs.close(cx.pid, fd);
        cx.ignore(r)?;
    }
    close_index_and_cache(cx, mb)?;
    mb.header_lock_count = 0;
    mb.index_lock_count = 0;
    mb.pop_lock_count = 0;
    Ok(())
}

/// `mailbox_open_locked`-style helper used by every process model: open the header and
/// the index, lock header then index.
pub fn mailbox_open_and_lock(cx: &mut Cx, name: &str) -> CResult<Mailbox> {
    let mut mb = mailbox_open_header(cx, name)?;
    let r = (|| {
        mailbox_lock_header(cx, &mut mb)?;
        mailbox_open_index(cx, &mut mb)?;
        mailbox_lock_index(cx, &mut mb)
    })();
    if let Err(e) = r {
        if !matches!(e, CyrusError::Died(..)) {
            mailbox_close(cx, &mut mb)?;
        }
        return Err(e);
    }
    Ok(mb)
}

/// `mailbox_write_index_header`: write the header at offset 0 and fsync.
pub fn mailbox_write_index_header(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    let fd = mb
        .index_fd
        .ok_or_else(|| CyrusError::BadFormat(mb.name.clone()))?;
    let mut base = [0u8; INDEX_HEADER_SIZE];
    mb.index_map.read(cx, 0, &mut base)?;
    let h = mb.header_bytes(&base);
    let r = cx.fs.lseek(cx.pid, fd, 0, Whence::Set);
    cx.ignore(r)?;
    let n = retry_write(cx, fd, &h)?;
    let s = cx.fs.fsync(cx.pid, fd);
    if n != h.len() || cx.ignore(s)?.is_none() {
        return Err(cx.ioerror(format!("writing index header for {}", mb.name)));
    }
    Ok(())
}
