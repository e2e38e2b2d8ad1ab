//! The memory-mapped path (cargo feature `mmap`), for comparison with io_uring + O_DIRECT.
//!
//! Segment files are opened buffered and mapped `MAP_SHARED` (see `ringlog_sys::mmap`): the
//! write path copies batches into the active segment's mapping and publishes them, `Sync`
//! durability is an `msync` of the dirty range, and fetches are slices of the mapping. This
//! storage serves everything else (recovery scans, preallocation, truncation) with positional
//! syscalls, like the portable path.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ringlog_sys::AlignedBuf;

use super::portable::PortableStorage;
use super::{IoPath, PendingWrite, Storage};

/// Storage for memory-mapped segments.
pub struct MmapStorage {
    files: PortableStorage,
}

impl MmapStorage {
    /// Buffered files, mapped by the log.
    pub fn new() -> Self {
        MmapStorage {
            files: PortableStorage::new(None),
        }
    }
}

impl Default for MmapStorage {
    fn default() -> Self {
        MmapStorage::new()
    }
}

impl Storage for MmapStorage {
    fn io_path(&self) -> IoPath {
        IoPath::Mmap
    }

    fn alignment(&self) -> usize {
        1
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<File>> {
        self.files.open(path, create)
    }

    fn submit_write(&self, file: &Arc<File>, data: Bytes, offset: u64) -> io::Result<PendingWrite> {
        self.files.submit_write(file, data, offset)
    }

    fn read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> (io::Result<usize>, AlignedBuf) {
        self.files.read(file, buf, offset, len)
    }

    fn sync_data(&self, file: &Arc<File>) -> io::Result<()> {
        self.files.sync_data(file)
    }

    fn allocate(&self, file: &Arc<File>, offset: u64, len: u64) -> io::Result<()> {
        self.files.allocate(file, offset, len)
    }

    fn set_len(&self, file: &Arc<File>, len: u64) -> io::Result<()> {
        self.files.set_len(file, len)
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
