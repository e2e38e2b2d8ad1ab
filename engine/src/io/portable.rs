//! The portable path: positional `pread`/`pwrite`, for machines where io_uring is blocked.
//! Same format and guarantees; writes complete before `submit_write` returns.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ringlog_sys::AlignedBuf;

use super::{IoPath, PendingWrite, Storage, open_file, pread};

/// Segment I/O through positional syscalls.
pub struct PortableStorage {
    direct: bool,
    alignment: usize,
}

impl PortableStorage {
    /// Storage with direct I/O at `alignment`, or buffered when `None`.
    pub fn new(alignment: Option<usize>) -> Self {
        PortableStorage {
            direct: alignment.is_some(),
            alignment: alignment.unwrap_or(1),
        }
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

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
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
