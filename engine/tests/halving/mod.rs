//! A [`Storage`] that shortens reads and writes, for the integration tests: it forwards every
//! call to the real storage, but while switched on, a read returns at most half the bytes it
//! asked for and a write writes only its first half and completes saying so. Half is rounded
//! down to the storage's alignment and is at least one alignment unit, as a kernel's short
//! transfer of a direct read or write would be; a call of one unit or less goes through whole.
//!
//! A short read is a legal answer of `Storage::read` (as of `pread(2)`): the engine must
//! continue it, and never take it for the end of the file. A short write completes finished
//! ([`PendingWrite::done`]) with fewer bytes than submitted: the engine must not acknowledge it.
//!
//! On the mmap path appends are copies into the mapping and make no `submit_write` call, so
//! only reads (recovery, and fetches the mapping does not cover) are shortened there.

// Each test crate uses a different subset of the wrapper.
#![allow(
    dead_code,
    reason = "each test crate uses a different subset of the wrapper"
)]

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use ringlog::io::{PendingWrite, Storage};
use ringlog::{OpenError, Shared, SharedConfig};
use ringlog_sys::AlignedBuf;

/// The storage wrapper. Build it with [`Halving::shared`].
pub struct Halving {
    inner: Arc<dyn Storage>,
    /// Whether reads are shortened. Relaxed, as are the counters: each flag and counter is
    /// read as a value of its own and orders no other memory.
    halve_reads: AtomicBool,
    /// Whether writes are shortened.
    halve_writes: AtomicBool,
    short_reads: AtomicU64,
    short_writes: AtomicU64,
}

impl Halving {
    /// A [`Shared`] for `data_dir` whose storage is wrapped, and the wrapper, shortening
    /// reads and writes as `reads` and `writes` say.
    ///
    /// # Errors
    /// As [`Shared::new`].
    pub fn shared(
        data_dir: &Path,
        config: &SharedConfig,
        reads: bool,
        writes: bool,
    ) -> Result<(Arc<Shared>, Arc<Halving>), OpenError> {
        let mut halving = None;
        let shared = Shared::with_storage(data_dir, config, |inner| {
            let wrapper = Arc::new(Halving {
                inner,
                halve_reads: AtomicBool::new(reads),
                halve_writes: AtomicBool::new(writes),
                short_reads: AtomicU64::new(0),
                short_writes: AtomicU64::new(0),
            });
            halving = Some(Arc::clone(&wrapper));
            wrapper
        })?;
        Ok((shared, halving.expect("with_storage calls the wrapper")))
    }

    /// Switches the shortening of reads on or off.
    pub fn set_halve_reads(&self, on: bool) {
        self.halve_reads.store(on, Ordering::Relaxed);
    }

    /// Switches the shortening of writes on or off.
    pub fn set_halve_writes(&self, on: bool) {
        self.halve_writes.store(on, Ordering::Relaxed);
    }

    /// Reads that were shortened so far.
    pub fn short_reads(&self) -> u64 {
        self.short_reads.load(Ordering::Relaxed)
    }

    /// Writes that were shortened so far.
    pub fn short_writes(&self) -> u64 {
        self.short_writes.load(Ordering::Relaxed)
    }

    /// Half of `len`, rounded down to the alignment, at least one unit; `None` when `len` is
    /// one unit or less and goes through whole.
    fn half(&self, len: usize) -> Option<usize> {
        let unit = self.inner.alignment().max(1);
        (len > unit).then(|| (len / 2 / unit * unit).max(unit))
    }
}

impl Storage for Halving {
    fn submit_write(&self, file: &Arc<File>, data: Bytes, offset: u64) -> io::Result<PendingWrite> {
        let len = data.len();
        let half = self
            .halve_writes
            .load(Ordering::Relaxed)
            .then(|| self.half(len))
            .flatten();
        let Some(half) = half else {
            return self.inner.submit_write(file, data, offset);
        };
        self.short_writes.fetch_add(1, Ordering::Relaxed);
        let result = self
            .inner
            .submit_write(file, data.slice(..half), offset)
            .and_then(PendingWrite::wait)
            .map(|()| half);
        Ok(PendingWrite::done(result, len))
    }

    fn read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> (io::Result<usize>, AlignedBuf) {
        let half = self
            .halve_reads
            .load(Ordering::Relaxed)
            .then(|| self.half(len))
            .flatten();
        match half {
            Some(half) => {
                self.short_reads.fetch_add(1, Ordering::Relaxed);
                self.inner.read(file, buf, offset, half)
            }
            None => self.inner.read(file, buf, offset, len),
        }
    }

    ringlog::forward_storage!(inner; io_path, alignment, open, sync_data, allocate, set_len, rename, sync_dir, sync_mapped);
    ringlog::forward_namespace!(inner);
}
