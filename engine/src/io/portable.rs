//! The portable path: positional `pread`/`pwrite`, for machines where io_uring is blocked.
//! Same format and guarantees; writes complete before `submit_write` returns.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ringlog_sys::AlignedBuf;

use super::{IoPath, PendingWrite, Storage, files, open_file, pread};

/// Segment I/O through positional syscalls.
pub struct PortableStorage {
    direct: bool,
    alignment: usize,
    /// Files are opened for reading only (read-only logs); nothing is created.
    read_only: bool,
}

impl PortableStorage {
    /// Storage with direct I/O at `alignment`, or buffered when `None`.
    pub fn new(alignment: Option<usize>) -> Self {
        PortableStorage {
            direct: alignment.is_some(),
            alignment: alignment.unwrap_or(1),
            read_only: false,
        }
    }

    /// Buffered storage that opens files for reading only and never creates one: what a
    /// read-only log reads through ([`crate::Log::open_read_only`]).
    pub fn read_only() -> Self {
        PortableStorage {
            direct: false,
            alignment: 1,
            read_only: true,
        }
    }
}

impl PortableStorage {
    fn writable(&self, op: &str, path: &Path) -> io::Result<()> {
        if self.read_only {
            return Err(files::read_only_refusal(op, path));
        }
        Ok(())
    }
}

impl Storage for PortableStorage {
    fn io_path(&self) -> IoPath {
        if self.direct {
            IoPath::PortableDirect
        } else {
            IoPath::PortableBuffered
        }
    }

    fn alignment(&self) -> usize {
        self.alignment
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<File>> {
        if self.read_only {
            if create {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("{} not created: read-only storage", path.display()),
                ));
            }
            return Ok(Arc::new(File::open(path)?));
        }
        open_file(path, create, self.direct)
    }

    fn submit_write(&self, file: &Arc<File>, data: Bytes, offset: u64) -> io::Result<PendingWrite> {
        let len = data.len();
        let result = file.write_all_at(&data, offset).map(|()| len);
        Ok(PendingWrite::done(result, len))
    }

    fn read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> (io::Result<usize>, AlignedBuf) {
        pread(file, buf, offset, len, self.alignment)
    }

    fn sync_data(&self, file: &Arc<File>) -> io::Result<()> {
        ringlog_sys::file::fdatasync(file)
    }

    fn allocate(&self, file: &Arc<File>, offset: u64, len: u64) -> io::Result<()> {
        ringlog_sys::file::fallocate(file, offset, len)
    }

    fn set_len(&self, file: &Arc<File>, len: u64) -> io::Result<()> {
        file.set_len(len)
    }

    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.writable("write", path)?;
        files::write_file(path, bytes)
    }

    fn read_file(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
        files::read_file(path, max_bytes)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.writable("remove", path)?;
        std::fs::remove_file(path)
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.writable("remove", dir)?;
        std::fs::remove_dir_all(dir)
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        self.writable("create", dir)?;
        std::fs::create_dir(dir)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
        files::list_dir(dir)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        files::exists(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.writable("rename", from)?;
        std::fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        ringlog_sys::file::fsync_dir(dir)
    }

    fn sync_mapped(
        &self,
        map: &ringlog_sys::mmap::MapReader,
        offset: usize,
        len: usize,
    ) -> io::Result<()> {
        map.sync(offset, len)
    }
}
