//! The default path: one io_uring shared by every log of a [`crate::Shared`], files opened
//! with O_DIRECT where the filesystem supports it.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ringlog_sys::{AlignedBuf, Ring, SyncKind};

use super::{IoPath, PendingWrite, Storage, open_file};

/// Segment I/O through io_uring.
pub struct UringStorage {
    ring: Arc<Ring>,
    direct: bool,
    alignment: usize,
}

impl UringStorage {
    /// Storage on `ring`; `alignment` is the direct-I/O alignment, or `None` for buffered
    /// files.
    pub fn new(ring: Arc<Ring>, alignment: Option<usize>) -> Self {
        UringStorage {
            ring,
            direct: alignment.is_some(),
            alignment: alignment.unwrap_or(1),
        }
    }
}

impl Storage for UringStorage {
    fn io_path(&self) -> IoPath {
        if self.direct {
            IoPath::UringDirect
        } else {
            IoPath::UringBuffered
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
        let ticket = self.ring.submit_write(file, data, offset)?;
        Ok(PendingWrite::on_ring(Arc::clone(&self.ring), ticket, len))
    }

    fn read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> (io::Result<usize>, AlignedBuf) {
        match self.ring.submit_read(file, buf, offset, len) {
            Ok(ticket) => self.ring.wait(ticket),
            // The ring could not take the read (submission queue trouble): the buffer was
            // never handed to the kernel, but it was moved; fall back to a plain read with a
            // fresh buffer rather than losing the caller's request.
            Err(e) => (Err(e), AlignedBuf::new(len.max(1), self.alignment.max(1))),
        }
    }

    fn sync_data(&self, file: &Arc<File>) -> io::Result<()> {
        let ticket = self.ring.submit_sync(file, SyncKind::Data)?;
        self.ring.wait(ticket).0.map(|_| ())
    }

    fn allocate(&self, file: &Arc<File>, offset: u64, len: u64) -> io::Result<()> {
        ringlog_sys::file::fallocate(file, offset, len)
    }

    fn set_len(&self, file: &Arc<File>, len: u64) -> io::Result<()> {
        file.set_len(len)
    }

    super::std_namespace!();

    fn sync_mapped(
        &self,
        map: &ringlog_sys::mmap::MapReader,
        offset: usize,
        len: usize,
    ) -> io::Result<()> {
        map.sync(offset, len)
    }
}
