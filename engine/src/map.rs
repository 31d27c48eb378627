//! `map_refresh` / `map_free` (lib/map_shared.c, map_stupidshared.c, map_nommap.c,
//! cyrus-imapd-2.3.12-p1): a read-only view of a file whose length is fixed when it is made.

use sim::{Fd, MapId, Whence};

use crate::cx::{CResult, Cx};
use crate::site::MapVariant;

/// map_shared.c's SLOP.
pub const SLOP_SHARED: u64 = 8 * 1024;
/// map_nommap.c's SLOP.
pub const SLOP_NOMMAP: u64 = 4 * 1024;

/// A `(base, len)` pair as Cyrus keeps it: `len == 0` means nothing is mapped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CyrusMap {
    pub map: Option<MapId>,
    pub len: u64,
}

impl CyrusMap {
    /// Read through the map at `off`. Reading past the map's length is a segfault, a page
    /// wholly past EOF a SIGBUS: either kills the process.
    pub fn read(&self, cx: &mut Cx, off: u64, buf: &mut [u8]) -> CResult<()> {
        let Some(map) = self.map else {
            // Dereferencing a NULL base: a segfault.
            let e = sim::VfsError::new(
                sim::Errno::Segv,
                format!("read at {off} through an unmapped base"),
            );
            return Err(cx.check(e));
        };
        cx.fs
            .map_read(cx.pid, map, off, buf)
            .map_err(|e| cx.check(e))
    }
}

/// `map_refresh(fd, onceonly, &base, &len, newlen, name, mboxname)`.
/// `newlen` of `None` is MAP_UNKNOWN_LEN (fstat the file).
pub fn map_refresh(
    cx: &mut Cx,
    fd: Fd,
    onceonly: bool,
    m: &mut CyrusMap,
    newlen: Option<u64>,
    name: &str,
) -> CResult<()> {
    let newlen = match newlen {
        Some(n) => n,
        None => match cx.fs.fstat(cx.pid, fd) {
            Ok(st) => st.size,
            Err(e) => {
                cx.check(e);
                return Err(cx.fatal(format!("failed to fstat {name} file")));
            }
        },
    };
    let variant = cx.site.map_variant;
    if variant == MapVariant::NoMmap {
        return refresh_nommap(cx, fd, onceonly, m, newlen, name);
    }
    // Already mapped in.
    if m.len >= newlen {
        return Ok(());
    }
    map_free(cx, m)?;
    let mut len = newlen;
    if variant == MapVariant::Shared && !onceonly {
        len = (newlen + 2 * SLOP_SHARED - 1) & !(SLOP_SHARED - 1);
    }
    match cx.fs.mmap(cx.pid, fd, len) {
        Ok(id) => {
            *m = CyrusMap { map: Some(id), len };
            Ok(())
        }
        Err(e) => {
            let err = cx.check(e);
            if let crate::cx::CyrusError::Died(..) = err {
                return Err(err);
            }
            Err(cx.fatal(format!("failed to mmap {name} file")))
        }
    }
}

/// map_nommap.c: grow the malloc'd buffer if needed, then `lseek(fd, 0)` and read the whole
/// file into it. The simulated copy is a private map taken now; the lseek is real and moves
/// the fd's position.
fn refresh_nommap(
    cx: &mut Cx,
    fd: Fd,
    onceonly: bool,
    m: &mut CyrusMap,
    newlen: u64,
    name: &str,
) -> CResult<()> {
    let buflen = if m.len < newlen {
        let l = newlen + if onceonly { 0 } else { SLOP_NOMMAP };
        cx.xmalloc(l, &format!("{name} file copy"))?;
        l
    } else {
        m.len
    };
    let r = cx.fs.lseek(cx.pid, fd, 0, Whence::Set);
    cx.ignore(r)?;
    if let Some(old) = m.map.take() {
        let r = cx.fs.munmap(cx.pid, old);
        cx.ignore(r)?;
    }
    m.len = buflen;
    if newlen == 0 {
        return Ok(());
    }
    match cx.fs.mmap(cx.pid, fd, newlen) {
        Ok(id) => {
            m.map = Some(id);
            Ok(())
        }
        Err(e) => {
            let err = cx.check(e);
            if let crate::cx::CyrusError::Died(..) = err {
                return Err(err);
            }
            Err(cx.fatal(format!("failed to read {name} file")))
        }
    }
}

/// `map_free(&base, &len)`.
pub fn map_free(cx: &mut Cx, m: &mut CyrusMap) -> CResult<()> {
    if let Some(id) = m.map.take() {
        let r = cx.fs.munmap(cx.pid, id);
        cx.ignore(r)?;
    }
    m.len = 0;
    Ok(())
}
