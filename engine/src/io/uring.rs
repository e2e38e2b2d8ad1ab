//! The default path: one io_uring shared by every log of a [`crate::Shared`], files opened
//! with O_DIRECT where the filesystem supports it.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ringlog_sys::{AlignedBuf, Ring, SyncKind};

use super::{IoPath, PendingRead, PendingSync, PendingWrite, Storage, open_file, read_until};

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
        let write = (offset, len, self.alignment);
        Ok(PendingWrite::on_ring(
            Arc::clone(&self.ring),
            ticket,
            file,
            write,
        ))
    }

    /// One ring read per call of `read_until`'s step: the first from `buf[0]`, continuations
    /// after short completions from where the last one stopped (aligned), until `len` bytes or
    /// the end of the file, as `io::pread` loops `pread`.
    fn read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> (io::Result<usize>, AlignedBuf) {
        let (capacity, align) = (buf.capacity(), buf.align());
        read_until(buf, len, len, self.alignment, |buf, start| {
            match self.ring.submit_read_from(file, buf, start, offset, len) {
                Ok(ticket) => self.ring.wait(ticket),
                // The ring could not take the read: the buffer went into the in-flight table
                // and stays there until the kernel is known to be done with it, so the caller
                // gets the error and a fresh buffer of the same size.
                Err(e) => (Err(e), AlignedBuf::new(capacity, align)),
            }
        })
    }

    fn reads_async(&self) -> bool {
        true
    }

    /// One ring read; a short completion is continued by `finish_read`.
    fn submit_read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> PendingRead {
        let (capacity, align) = (buf.capacity(), buf.align());
        match self.ring.submit_read(file, buf, offset, len) {
            Ok(ticket) => PendingRead::on_ring(Arc::clone(&self.ring), ticket),
            // As in `read`: the buffer stays with the ring until the kernel is done with it.
            Err(e) => PendingRead::done(Err(e), AlignedBuf::new(capacity, align)),
        }
    }

    fn sync_data(&self, file: &Arc<File>) -> io::Result<()> {
        self.submit_sync_data(file)?.wait()
    }

    fn syncs_async(&self) -> bool {
        true
    }

    fn submit_sync_data(&self, file: &Arc<File>) -> io::Result<PendingSync> {
        let ticket = self.ring.submit_sync(file, SyncKind::Data)?;
        Ok(PendingSync::on_ring(Arc::clone(&self.ring), ticket))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn storage() -> UringStorage {
        UringStorage::new(Arc::new(Ring::new(8).expect("an io_uring")), None)
    }

    /// A buffered file of `len` bytes whose byte `i` is `i % 251`.
    fn patterned_file(len: usize) -> (Arc<File>, Vec<u8>) {
        use std::io::Write;
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut file = tempfile::tempfile().expect("a temporary file");
        file.write_all(&bytes).expect("write the pattern");
        (Arc::new(file), bytes)
    }

    #[test]
    fn a_read_past_the_end_of_the_file_returns_what_the_file_holds() {
        // The kernel completes the read short at the end of the file; the loop asks again and
        // stops at the read of 0 bytes.
        let (file, bytes) = patterned_file(10_000);
        let (result, buf) = storage().read(&file, AlignedBuf::new(16_384, 4096), 4096, 16_384);
        assert_eq!(result.expect("the read succeeds"), 10_000 - 4096);
        assert_eq!(buf.as_slice(), &bytes[4096..]);
    }

    #[test]
    fn a_read_inside_the_file_returns_every_byte_asked_for() {
        let (file, bytes) = patterned_file(100_000);
        let (result, buf) = storage().read(&file, AlignedBuf::new(65_536, 4096), 100, 65_536);
        assert_eq!(result.expect("the read succeeds"), 65_536);
        assert_eq!(buf.as_slice(), &bytes[100..100 + 65_536]);
    }

    #[test]
    fn a_write_on_the_ring_completes_whole() {
        use std::os::unix::fs::FileExt;
        let (file, _) = patterned_file(0);
        let data = Bytes::from(vec![7u8; 20_000]);
        let storage = storage();
        let pending = storage
            .submit_write(&file, data.clone(), 4096)
            .expect("submitted");
        pending.wait().expect("the write completes");
        let mut back = vec![0u8; 20_000];
        file.read_exact_at(&mut back, 4096).expect("read back");
        assert_eq!(back, data);
    }
}
