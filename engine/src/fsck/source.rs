//! Where the fsck's bytes come from: a real file, a slice, or an in-memory sparse file. The
//! checks ask only for what a bounded scan needs: sizes, positioned reads, and where data
//! resumes after a hole.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::io::AsRawFd;

/// A file's bytes, as the fsck reads them.
pub trait ByteSource {
    /// Apparent size in bytes.
    fn len(&mut self) -> io::Result<u64>;

    /// Whether the apparent size is zero.
    fn is_empty(&mut self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Bytes really allocated (st_blocks * 512 for a real file).
    fn allocated(&mut self) -> io::Result<u64>;

    /// Reads at `offset` into `buf`; returns how many bytes were read (0 at or past the end).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// SEEK_DATA: the first offset `>= offset` that holds data, `None` if only hole (or
    /// nothing) remains. The default knows no holes.
    fn next_data(&mut self, offset: u64) -> io::Result<Option<u64>> {
        Ok((offset < self.len()?).then_some(offset))
    }
}

/// Fills `buf` from `offset` as far as the source goes; the rest of `buf` is zeroed.
/// Returns the bytes really read.
pub fn read_full_at(src: &mut dyn ByteSource, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = match src.read_at(offset + got as u64, &mut buf[got..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        got += n;
    }
    buf[got..].fill(0);
    Ok(got)
}

impl<S: ByteSource + ?Sized> ByteSource for &mut S {
    fn len(&mut self) -> io::Result<u64> {
        (**self).len()
    }
    fn allocated(&mut self) -> io::Result<u64> {
        (**self).allocated()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(offset, buf)
    }
    fn next_data(&mut self, offset: u64) -> io::Result<Option<u64>> {
        (**self).next_data(offset)
    }
}

impl ByteSource for File {
    fn len(&mut self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn allocated(&mut self) -> io::Result<u64> {
        Ok(self.metadata()?.blocks().saturating_mul(512))
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        FileExt::read_at(self, buf, offset)
    }

    fn next_data(&mut self, offset: u64) -> io::Result<Option<u64>> {
        let Ok(off) = libc::off_t::try_from(offset) else {
            return Ok(None);
        };
        // SAFETY: lseek on a descriptor this File owns; it moves only the file position, which
        // nothing here uses (reads are positioned).
        let r = unsafe { libc::lseek(self.as_raw_fd(), off, libc::SEEK_DATA) };
        if r >= 0 {
            return Ok(Some(r as u64));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENXIO) => Ok(None),
            // A filesystem without SEEK_DATA: every byte counts as data.
            Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => {
                Ok((offset < ByteSource::len(self)?).then_some(offset))
            }
            _ => Err(err),
        }
    }
}

impl ByteSource for &[u8] {
    fn len(&mut self) -> io::Result<u64> {
        Ok(<[u8]>::len(self) as u64)
    }
    fn allocated(&mut self) -> io::Result<u64> {
        Ok(<[u8]>::len(self) as u64)
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        Ok(copy_from(self, offset, buf))
    }
}

impl ByteSource for Vec<u8> {
    fn len(&mut self) -> io::Result<u64> {
        Ok(Vec::len(self) as u64)
    }
    fn allocated(&mut self) -> io::Result<u64> {
        Ok(Vec::len(self) as u64)
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        Ok(copy_from(self, offset, buf))
    }
}

fn copy_from(data: &[u8], offset: u64, buf: &mut [u8]) -> usize {
    let Ok(start) = usize::try_from(offset) else {
        return 0;
    };
    let Some(rest) = data.get(start..) else {
        return 0;
    };
    let n = rest.len().min(buf.len());
    buf[..n].copy_from_slice(&rest[..n]);
    n
}

/// An in-memory sparse file: an apparent length and extents of data; everything else is hole
/// and reads as zero. Memory follows the bytes written, never the apparent size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SparseBytes {
    len: u64,
    /// Non-overlapping, non-adjacent extents by start offset.
    extents: BTreeMap<u64, Vec<u8>>,
}

impl SparseBytes {
    pub fn new() -> SparseBytes {
        SparseBytes::default()
    }

    /// Sets the apparent length, dropping data past it (ftruncate).
    pub fn set_len(&mut self, len: u64) {
        self.len = len;
        let cut: Vec<u64> = self.extents.range(len..).map(|(k, _)| *k).collect();
        for k in cut {
            self.extents.remove(&k);
        }
        if let Some((k, v)) = self.extents.range_mut(..len).next_back() {
            let keep = (len - k) as usize;
            v.truncate(keep);
        }
    }

    /// Writes `data` at `offset` (pwrite), extending the apparent length as needed.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = offset + data.len() as u64;
        // Merge every extent that overlaps or touches [offset, end) into one.
        let touching: Vec<u64> = self
            .extents
            .range(..=end)
            .filter(|(k, v)| **k + v.len() as u64 >= offset)
            .map(|(k, _)| *k)
            .collect();
        let start = touching.first().map_or(offset, |k| (*k).min(offset));
        let mut merged_end = end;
        for k in &touching {
            merged_end = merged_end.max(k + self.extents[k].len() as u64);
        }
        let mut merged = vec![0u8; (merged_end - start) as usize];
        for k in touching {
            let v = self.extents.remove(&k).unwrap_or_default();
            let at = (k - start) as usize;
            merged[at..at + v.len()].copy_from_slice(&v);
        }
        let at = (offset - start) as usize;
        merged[at..at + data.len()].copy_from_slice(data);
        self.extents.insert(start, merged);
        self.len = self.len.max(end);
    }
}

impl ByteSource for SparseBytes {
    fn len(&mut self) -> io::Result<u64> {
        Ok(self.len)
    }

    fn allocated(&mut self) -> io::Result<u64> {
        Ok(self.extents.values().map(|v| v.len() as u64).sum())
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let n = ((self.len - offset).min(buf.len() as u64)) as usize;
        let out = &mut buf[..n];
        out.fill(0);
        let end = offset + n as u64;
        let first = self
            .extents
            .range(..=offset)
            .next_back()
            .map_or(offset, |(k, _)| *k);
        for (k, v) in self.extents.range(first..end) {
            let (ks, ke) = (*k, *k + v.len() as u64);
            let (s, e) = (ks.max(offset), ke.min(end));
            if s < e {
                out[(s - offset) as usize..(e - offset) as usize]
                    .copy_from_slice(&v[(s - ks) as usize..(e - ks) as usize]);
            }
        }
        Ok(n)
    }

    fn next_data(&mut self, offset: u64) -> io::Result<Option<u64>> {
        if let Some((k, v)) = self.extents.range(..=offset).next_back()
            && offset < k + v.len() as u64
        {
            return Ok(Some(offset));
        }
        Ok(self.extents.range(offset..).next().map(|(k, _)| *k))
    }
}

/// A forward-moving read window over a source, so that walking many small fields (cache item
/// lengths) costs one read per window instead of one per field.
pub(crate) struct Window<'a> {
    src: &'a mut dyn ByteSource,
    pub(crate) len: u64,
    base: u64,
    buf: Vec<u8>,
    valid: usize,
}

const WINDOW: usize = 64 * 1024;

impl<'a> Window<'a> {
    pub(crate) fn new(src: &'a mut dyn ByteSource) -> io::Result<Window<'a>> {
        let len = src.len()?;
        Ok(Window {
            src,
            len,
            base: 0,
            buf: Vec::new(),
            valid: 0,
        })
    }

    /// The big-endian u32 at `offset`, `None` if it does not lie wholly inside the source.
    pub(crate) fn u32_at(&mut self, offset: u64) -> io::Result<Option<u32>> {
        if offset.checked_add(4).is_none_or(|e| e > self.len) {
            return Ok(None);
        }
        let inside = offset >= self.base && offset + 4 <= self.base + self.valid as u64;
        if !inside {
            // Never more than the source holds from here: a small cache file costs its size.
            let want = WINDOW.min(usize::try_from(self.len - offset).unwrap_or(WINDOW));
            self.buf.resize(want, 0);
            self.base = offset;
            self.valid = read_full_at(self.src, offset, &mut self.buf)?;
            if self.valid < 4 {
                return Ok(None);
            }
        }
        let i = (offset - self.base) as usize;
        let b = &self.buf[i..i + 4];
        Ok(Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
    }
}
