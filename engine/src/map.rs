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
        Err(e) => Err(cx.fail_with(e, |cx| cx.fatal(format!("failed to mmap {name} file")))),
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
        Err(e) => Err(cx.fail_with(e, |cx| cx.fatal(format!("failed to read {name} file")))),
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

/// Records of a record file read through `m` whose first `4` bytes (the UID) lie in a hole
/// of the file, starting at record offset `off`: they all read as UID 0, so loops over a
/// huge sparse file (a wrapped `exists`) can count them without reading each. `next_data`
/// caches where the file's next data starts; `rs` is the record stride, `remaining` the
/// records left in the loop, `until` an exclusive bound the last record counted must end
/// by (`u64::MAX` for none). Returns 0 when the record at `off` is not in a hole. On ILP32
/// the run stops where the 32-bit offset wraps.
pub fn uid_hole_run(
    cx: &mut Cx,
    m: &CyrusMap,
    off: u64,
    next_data: &mut u64,
    rs: u64,
    remaining: u64,
    until: u64,
) -> u64 {
    if off >= *next_data {
        *next_data = match m.map {
            Some(id) => cx.fs.map_next_data(cx.pid, id, off).unwrap_or(off),
            None => off,
        };
    }
    if rs == 0 || off + 4 > *next_data || *next_data > m.len {
        return 0;
    }
    let mut k = (*next_data - off - 4) / rs + 1;
    if cx.site.arch == crate::site::Arch::Ilp32 {
        let to_wrap = ((1u128 << 32) - off as u128 - 1) / rs as u128 + 1;
        k = k.min(to_wrap as u64);
    }
    if until != u64::MAX {
        // The last record counted, at off + (k-1)*rs, must end by `until`.
        let fit = until.saturating_sub(off).saturating_sub(rs);
        k = k.min(if until >= off + rs { fit / rs + 1 } else { 0 });
    }
    k.min(remaining)
}
