//! `mailbox_upgrade_index` and `mailbox_upgrade_index_work` (imap/mailbox.c T12:1541-1825):
//! the first 2.3.10+ open of a minor-9 mailbox rewrites cyrus.index, then cyrus.expunge.
//! The loop trusts the old header's `exists`: no UID check, no bounds check.

use sim::{Errno, OpenFlags};

use crate::cx::{CResult, Cx, CyrusError, NoteKind};
use crate::layout::*;
use crate::lock::{lock_blocking, lock_reopen, lock_unlock};
use crate::mailbox::*;
use crate::map::{CyrusMap, map_free, map_refresh};
use crate::stdio::StdioFile;

/// `mailbox_upgrade_index(mailbox)`.
pub fn mailbox_upgrade_index(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    mailbox_lock_header(cx, mb)?;
    // mailbox_lock_index_for_upgrade: lock without re-reading the header.
    mb.index_lock_count += 1;
    if mb.index_lock_count == 1 {
        let fd = mb
            .index_fd
            .ok_or_else(|| CyrusError::BadFormat(mb.name.clone()))?;
        if let Err(e) = lock_blocking(cx, fd) {
            mb.index_lock_count -= 1;
            mailbox_unlock_header(cx, mb)?;
            return Err(e);
        }
    }
    if let Err(e) = mailbox_lock_pop(cx, mb) {
        mailbox_unlock_index(cx, mb)?;
        mailbox_unlock_header(cx, mb)?;
        return Err(e);
    }
    let r = upgrade_files(cx, mb);
    if let Err(CyrusError::Died(k, d)) = r {
        return Err(CyrusError::Died(k, d));
    }
    mailbox_unlock_pop(cx, mb)?;
    mailbox_unlock_index(cx, mb)?;
    mailbox_unlock_header(cx, mb)?;
    r
}

fn upgrade_files(cx: &mut Cx, mb: &mut Mailbox) -> CResult<()> {
    let ip = mb.fname(FNAME_INDEX);
    let newp = format!("{ip}.NEW");
    let Some(mut ni) = StdioFile::fopen_w_plus(cx, &newp)? else {
        return Err(cx.ioerror(format!("creating {newp}")));
    };
    let index_map = mb.index_map;
    cx.story(format!(
        "{}: upgrading cyrus.index to minor version {}",
        mb.name,
        cx.site.version.minor_version()
    ));
    mailbox_upgrade_index_work(cx, mb, &mut ni, &index_map)?;
    ni.fflush(cx)?;
    if ni.ferror() || !ni.fsync(cx)? {
        ni.fclose(cx)?;
        return Err(cx.ioerror(format!("writing index for {}", mb.name)));
    }
    if let Err(e) = cx.fs.rename(cx.pid, &newp, &ip) {
        cx.check(e);
        ni.fclose(cx)?;
        return Err(cx.ioerror(format!("renaming index file for {}", mb.name)));
    }
    ni.fclose(cx)?;

    let ep = mb.fname(FNAME_EXPUNGE);
    let efd = match cx.fs.open(cx.pid, &ep, OpenFlags::RDWR) {
        Ok(fd) => fd,
        Err(e) if e.errno == Errno::NoEnt => return Ok(()),
        Err(e) => {
            let err = cx.check(e);
            if let CyrusError::Died(..) = err {
                return Err(err);
            }
            return Ok(());
        }
    };
    let newep = format!("{ep}.NEW");
    let Some(mut ne) = StdioFile::fopen_w_plus(cx, &newep)? else {
        let r = cx.fs.close(cx.pid, efd);
        cx.ignore(r)?;
        return Err(cx.ioerror(format!("creating {newep}")));
    };
    let (efd, est) = match lock_reopen(cx, efd, &ep) {
        Ok(v) => v,
        Err(e) => {
            if let CyrusError::Died(..) = e {
                return Err(e);
            }
            ne.fclose(cx)?;
            return Err(cx.ioerror(format!("locking expunge index for {}", mb.name)));
        }
    };
    let mut emap = CyrusMap::default();
    map_refresh(cx, efd, true, &mut emap, Some(est.size), "expunge")?;
    cx.story(format!(
        "{}: upgrading cyrus.expunge ({} bytes apparent, {} allocated)",
        mb.name, est.size, est.allocated
    ));
    mailbox_upgrade_index_work(cx, mb, &mut ne, &emap)?;
    map_free(cx, &mut emap)?;
    lock_unlock(cx, efd)?;
    let r = cx.fs.close(cx.pid, efd);
    cx.ignore(r)?;
    ne.fflush(cx)?;
    if ne.ferror() || !ne.fsync(cx)? {
        let why = ne.first_error.clone().unwrap_or_default();
        // The fail path leaves cyrus.expunge.NEW where it is (T12:1812-1818).
        ne.fclose(cx)?;
        return Err(cx.ioerror(format!(
            "writing index for {} ({why}); {newep} left behind",
            mb.name
        )));
    }
    if let Err(e) = cx.fs.rename(cx.pid, &newep, &ep) {
        cx.check(e);
        ne.fclose(cx)?;
        return Err(cx.ioerror(format!("renaming expunge file for {}", mb.name)));
    }
    ne.fclose(cx)
}

/// `mailbox_upgrade_index_work(mailbox, newindex, index_base, index_len)`, for minor 9 to
/// 10 (and the older steps the source also has). `index_len` is unused in Cyrus, so the
/// loop reads wherever `exists` says.
///
/// Reading all-zero records from a hole is the same for every record; the model asks the
/// filesystem where data resumes ([`sim::Vfs::map_next_data`]) and skips the map reads of
/// records it knows are zero. Once the output stream is stuck on ENOSPC and the rest of
/// the source is a hole, every remaining iteration would fail the same way: the model
/// stops there and says how many records it did not walk.
pub fn mailbox_upgrade_index_work(
    cx: &mut Cx,
    mb: &Mailbox,
    out: &mut StdioFile,
    base: &CyrusMap,
) -> CResult<()> {
    let new_rs = cx.site.version.record_size() as usize;
    let new_minor = cx.site.version.minor_version();
    let mut h = [0u8; INDEX_HEADER_SIZE];
    base.read(cx, 0, &mut h)?;
    let exists = get32(&h, OFFSET_EXISTS) as u64;
    let old_minor = get32(&h, OFFSET_MINOR_VERSION);
    put32(&mut h, OFFSET_MINOR_VERSION, new_minor);
    let old_start = get32(&h, OFFSET_START_OFFSET) as u64;
    put32(&mut h, OFFSET_START_OFFSET, INDEX_HEADER_SIZE as u32);
    let old_rs = get32(&h, OFFSET_RECORD_SIZE) as u64;
    put32(&mut h, OFFSET_RECORD_SIZE, new_rs as u32);
    if old_rs > new_rs as u64 {
        return Err(cx.fatal(format!(
            "Mailbox {} needs reconstruct: Record size {old_rs} > {new_rs}",
            mb.name
        )));
    }
    for off in (76..96).step_by(4) {
        put32(&mut h, off, 0);
    }
    out.fwrite(cx, &h)?;

    let arch = cx.site.arch;
    let mut src = [0u8; MAX_RECORD_SIZE];
    let mut rec = vec![0u8; new_rs];
    let zero_rec = upgrade_record(&vec![0u8; old_rs as usize], old_minor, new_rs);
    let mut next_data: u64 = 0;
    let mut msgno: u64 = 1;
    while msgno <= exists {
        let off = arch.ulong(old_start as u128 + (msgno as u128 - 1) * old_rs as u128);
        if off >= next_data {
            next_data = match base.map {
                Some(m) => cx.fs.map_next_data(cx.pid, m, off).unwrap_or(off),
                None => off,
            };
        }
        let in_hole = off + old_rs <= next_data && off + old_rs <= base.len;
        if in_hole {
            if out.stuck_on_enospc() {
                let left = exists - msgno + 1;
                cx.note(
                    NoteKind::Story,
                    format!(
                        "{}: output stuck on ENOSPC and the source is a hole: {left} more record(s) would each fail the same way; not walked",
                        mb.name
                    ),
                );
                break;
            }
            out.fwrite(cx, &zero_rec)?;
        } else {
            base.read(cx, off, &mut src[..old_rs as usize])?;
            if old_minor == new_minor {
                out.fwrite(cx, &src[..new_rs.min(old_rs as usize)])?;
            } else {
                rec.copy_from_slice(&upgrade_record(&src[..old_rs as usize], old_minor, new_rs));
                out.fwrite(cx, &rec)?;
            }
        }
        msgno += 1;
    }
    Ok(())
}

/// One record from `old_minor` to the new layout (T12:1680-1708).
fn upgrade_record(old: &[u8], old_minor: u32, new_rs: usize) -> Vec<u8> {
    let mut buf = vec![0u8; new_rs];
    let n = old.len().min(new_rs);
    buf[..n].copy_from_slice(&old[..n]);
    if old_minor < 5 {
        put32(&mut buf, OFFSET_CONTENT_LINES, u32::MAX);
    }
    if old_minor < 6 {
        put32(&mut buf, OFFSET_CACHE_VERSION, 0);
    }
    if old_minor < 7 {
        buf[OFFSET_MESSAGE_GUID..OFFSET_MESSAGE_GUID + 20].fill(0);
    } else if old_minor < 10 && new_rs >= 88 {
        // GUID grows from 12 to 20 bytes: move what follows down by 8, pad with zeros.
        let src = OFFSET_MESSAGE_GUID + 12;
        let dst = OFFSET_MESSAGE_GUID + 20;
        let len = new_rs - dst;
        buf.copy_within(src..src + len, dst);
        buf[src..dst].fill(0);
    }
    if old_minor < 8 {
        put64(&mut buf, offset_modseq(10), 1);
    }
    buf
}
