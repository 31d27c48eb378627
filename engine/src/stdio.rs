//! A `FILE *` opened "w+": what Cyrus writes every `.NEW` file through.
//!
//! glibc buffers `fwrite` in a buffer of st_blksize bytes and issues one `write()` each time
//! it fills; `fflush`, `rewind`, `fseek` and `fclose` flush. A failed `write()` sets the
//! error flag and (as modelled here) discards the buffer; later `fwrite`s keep trying, as
//! glibc does, and `ferror` reports the flag. Callers that check nothing (Cyrus's upgrade
//! loop) only learn of ENOSPC at `fflush`/`ferror`.

use sim::{Fd, OpenFlags, Whence};

use crate::cx::{CResult, Cx, NoteKind};

pub struct StdioFile {
    pub fd: Fd,
    pub path: String,
    buf: Vec<u8>,
    bufsiz: usize,
    error: bool,
    /// The errno-name of the first failure, for the story.
    pub first_error: Option<String>,
    /// Failed write() calls so far.
    pub failed_writes: u64,
}

impl StdioFile {
    /// `fopen(path, "w+")`: O_RDWR|O_CREAT|O_TRUNC. `None` is Cyrus's NULL return.
    pub fn fopen_w_plus(cx: &mut Cx, path: &str) -> CResult<Option<StdioFile>> {
        match cx.fs.open(cx.pid, path, OpenFlags::RDWR_CREATE_TRUNC) {
            Ok(fd) => Ok(Some(StdioFile {
                fd,
                path: path.to_string(),
                buf: Vec::with_capacity(cx.site.stdio_bufsiz),
                bufsiz: cx.site.stdio_bufsiz,
                error: false,
                first_error: None,
                failed_writes: 0,
            })),
            Err(e) => {
                let err = cx.check(e);
                match err {
                    crate::cx::CyrusError::Died(..) => Err(err),
                    _ => Ok(None),
                }
            }
        }
    }

    /// `fwrite(data, 1, len, f)`.
    pub fn fwrite(&mut self, cx: &mut Cx, data: &[u8]) -> CResult<()> {
        let mut rest = data;
        while !rest.is_empty() {
            let room = self.bufsiz - self.buf.len();
            let take = room.min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() == self.bufsiz {
                self.flush_buffer(cx)?;
            }
        }
        Ok(())
    }

    /// `putc(c, f)`.
    pub fn putc(&mut self, cx: &mut Cx, c: u8) -> CResult<()> {
        self.fwrite(cx, &[c])
    }

    /// Whether the stream has failed and every further flush fails the same way: the
    /// partition is full and nothing in this process can free it.
    pub fn stuck_on_enospc(&self) -> bool {
        self.error && self.first_error.as_deref() == Some("ENOSPC")
    }

    fn flush_buffer(&mut self, cx: &mut Cx) -> CResult<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut off = 0;
        while off < self.buf.len() {
            match cx.fs.write(cx.pid, self.fd, &self.buf[off..]) {
                Ok(0) => {
                    self.fail("short write of 0 bytes");
                    break;
                }
                Ok(n) => off += n,
                Err(e) => {
                    if e.errno == sim::Errno::Srch {
                        return Err(cx.check(e));
                    }
                    let name = e.errno.name().to_string();
                    if self.first_error.is_none() {
                        if e.errno == sim::Errno::NoSpc {
                            cx.note(NoteKind::Enospc, format!("write {}: {e}", self.path));
                        } else {
                            cx.note(NoteKind::IoError, format!("write {}: {e}", self.path));
                        }
                    }
                    self.fail(&name);
                    break;
                }
            }
        }
        self.buf.clear();
        Ok(())
    }

    fn fail(&mut self, what: &str) {
        self.error = true;
        self.failed_writes += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what.to_string());
        }
    }

    /// `fflush(f)`.
    pub fn fflush(&mut self, cx: &mut Cx) -> CResult<()> {
        self.flush_buffer(cx)
    }

    /// `ferror(f)`.
    pub fn ferror(&self) -> bool {
        self.error
    }

    /// `rewind(f)`: flush, seek to 0, clear the error flag.
    pub fn rewind(&mut self, cx: &mut Cx) -> CResult<()> {
        self.fseek(cx, 0)?;
        self.error = false;
        Ok(())
    }

    /// `fseek(f, off, SEEK_SET)`.
    pub fn fseek(&mut self, cx: &mut Cx, off: u64) -> CResult<()> {
        self.flush_buffer(cx)?;
        let r = cx.fs.lseek(cx.pid, self.fd, off as i64, Whence::Set);
        cx.ignore(r)?;
        Ok(())
    }

    /// `fread(buf, 1, len, f)` after a rewind: the bytes read.
    pub fn fread(&mut self, cx: &mut Cx, buf: &mut [u8]) -> CResult<usize> {
        self.flush_buffer(cx)?;
        let mut got = 0;
        while got < buf.len() {
            match cx.fs.read(cx.pid, self.fd, &mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) => {
                    if e.errno == sim::Errno::Srch {
                        return Err(cx.check(e));
                    }
                    self.error = true;
                    break;
                }
            }
        }
        Ok(got)
    }

    /// `fsync(fileno(f))`: true on success.
    pub fn fsync(&mut self, cx: &mut Cx) -> CResult<bool> {
        let r = cx.fs.fsync(cx.pid, self.fd);
        Ok(cx.ignore(r)?.is_some())
    }

    /// `fclose(f)`: flush and close.
    pub fn fclose(mut self, cx: &mut Cx) -> CResult<()> {
        self.flush_buffer(cx)?;
        let r = cx.fs.close(cx.pid, self.fd);
        cx.ignore(r)?;
        Ok(())
    }
}
