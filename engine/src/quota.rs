//! quota.db, reduced to what the expunge path touches: the used bytes of a quota root.
//! Stored as one decimal line in `quota/<root>` (like quotalegacy's files).

use sim::{Errno, OpenFlags, Whence};

use crate::cx::{CResult, Cx};
use crate::mailbox::{path_in, quota_root, read_full, retry_write};

pub fn quota_path(root: &str) -> String {
    path_in("quota", root)
}

/// `quota_read`: the used bytes, or None when the root has no quota file.
pub fn quota_read(cx: &mut Cx, root: &str) -> CResult<Option<u64>> {
    let p = quota_path(root);
    let fd = match cx.fs.open(cx.pid, &p, OpenFlags::RDONLY) {
        Ok(fd) => fd,
        Err(e) if e.errno == Errno::NoEnt => return Ok(None),
        Err(e) => return Err(cx.check(e)),
    };
    let mut buf = [0u8; 32];
    let n = read_full(cx, fd, &mut buf)?;
    let r = cx.fs.close(cx.pid, fd);
    cx.ignore(r)?;
    let text = String::from_utf8_lossy(&buf[..n]);
    Ok(Some(text.trim().parse().unwrap_or(0)))
}

/// `quota_write` + commit: rewrite the file in place and fsync.
pub fn quota_write(cx: &mut Cx, root: &str, used: u64) -> CResult<()> {
    let p = quota_path(root);
    let fd = cx
        .fs
        .open(cx.pid, &p, OpenFlags::RDWR_CREATE)
        .map_err(|e| cx.check(e))?;
    let line = format!("{used}\n");
    let r = cx.fs.lseek(cx.pid, fd, 0, Whence::Set);
    cx.ignore(r)?;
    retry_write(cx, fd, line.as_bytes())?;
    let r = cx.fs.ftruncate(cx.pid, fd, line.len() as u64);
    cx.ignore(r)?;
    let r = cx.fs.fsync(cx.pid, fd);
    cx.ignore(r)?;
    let r = cx.fs.close(cx.pid, fd);
    cx.ignore(r)?;
    Ok(())
}

/// "Record quota release" in mailbox_expunge (T12:2330-2350): used -= released, floored at 0.
pub fn quota_release(cx: &mut Cx, mailbox: &str, released: u64) -> CResult<()> {
    let root = quota_root(mailbox);
    if let Some(used) = quota_read(cx, &root)? {
        quota_write(cx, &root, used.saturating_sub(released))?;
    }
    Ok(())
}

/// append's quota charge.
pub fn quota_charge(cx: &mut Cx, mailbox: &str, bytes: u64) -> CResult<()> {
    let root = quota_root(mailbox);
    let used = quota_read(cx, &root)?.unwrap_or(0);
    quota_write(cx, &root, used.wrapping_add(bytes))
}
