//! Resources shared by every log of one process (or one topic manager): the I/O path, the
//! buffer pool and the read cache. Memory is budgeted here, not per partition, so ten thousand
//! mostly idle partitions cost little.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use ringlog_sys::direct::{DirectIoError, probe_direct_io};
use ringlog_sys::{Ring, UringError};

use crate::buffer_pool::BufferPool;
use crate::cache::ReadCache;
use crate::cache::record_positions::RecordPositions;
use crate::config::{
    BUFFER_POOL_HEADROOM_BYTES, DEFAULT_CACHE_BYTES, DEFAULT_RING_ENTRIES,
    DEFAULT_WRITE_CHUNK_BYTES, DEFAULT_WRITE_CHUNK_GROWTH, IoMode, default_cache_bytes,
};
use crate::error::OpenError;
use crate::flusher::Flusher;
use crate::io::portable::PortableStorage;
use crate::io::uring::UringStorage;
use crate::io::{IoPath, Storage};

/// Alignment every write chunk and read keeps even on buffered paths: the disk's physical
/// block, so a page is never written partially by two different writes at once.
pub const PAGE_BYTES: usize = 4096;

/// Settings of the resources shared by many logs.
#[derive(Clone, Debug)]
pub struct SharedConfig {
    /// The I/O path to use.
    pub io_mode: IoMode,
    /// Size of each pooled buffer: one write chunk, and the unit of read-ahead
    /// ([`DEFAULT_WRITE_CHUNK_BYTES`]).
    pub buffer_bytes: usize,
    /// How far a busy log's write chunk grows: it doubles each time one fills, up to
    /// `buffer_bytes * write_chunk_growth` ([`DEFAULT_WRITE_CHUNK_GROWTH`]); a power of two, 1
    /// keeps every chunk at `buffer_bytes`.
    pub write_chunk_growth: usize,
    /// Memory budget of the buffer pool (by default the read cache's plus
    /// [`BUFFER_POOL_HEADROOM_BYTES`]).
    pub buffer_pool_bytes: usize,
    /// Memory budget of the read cache (by default sized from the machine's memory:
    /// [`default_cache_bytes`]).
    pub cache_bytes: usize,
    /// The part of the read cache that recently written chunks may hold, the written window
    /// ([`DEFAULT_CACHE_BYTES`]; at most `cache_bytes`; see [`crate::cache`]).
    pub written_cache_bytes: usize,
    /// The part of the read cache that ranges read ahead of sequential consumers may hold, the
    /// read-ahead window (by default the whole cache, as the page cache keeps what it read; at
    /// most `cache_bytes`; see [`crate::cache`]). A quarter of it bounds the read-ahead reads in
    /// flight over every log.
    pub read_ahead_cache_bytes: usize,
    /// Submission queue size of the io_uring ([`DEFAULT_RING_ENTRIES`]).
    pub ring_entries: u32,
}

impl Default for SharedConfig {
    /// The defaults: the read cache sized from the machine's memory
    /// ([`default_cache_bytes`]), the buffer pool holding it plus
    /// [`BUFFER_POOL_HEADROOM_BYTES`].
    fn default() -> Self {
        let cache_bytes = default_cache_bytes();
        SharedConfig {
            io_mode: IoMode::DEFAULT,
            buffer_bytes: DEFAULT_WRITE_CHUNK_BYTES,
            write_chunk_growth: DEFAULT_WRITE_CHUNK_GROWTH,
            buffer_pool_bytes: cache_bytes + BUFFER_POOL_HEADROOM_BYTES,
            cache_bytes,
            written_cache_bytes: DEFAULT_CACHE_BYTES,
            read_ahead_cache_bytes: cache_bytes,
            ring_entries: DEFAULT_RING_ENTRIES,
        }
    }
}

/// The I/O path, buffer pool and read cache shared by many logs.
pub struct Shared {
    storage: Arc<dyn Storage>,
    pool: Arc<BufferPool>,
    cache: ReadCache,
    positions: RecordPositions,
    read_ahead: ReadAheadAllowance,
    next_log_id: AtomicU64,
    fallback_reason: Option<String>,
    flusher: Flusher,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("io_path", &self.storage.io_path())
            .field("fallback_reason", &self.fallback_reason)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Sets up the I/O path for data kept under `data_dir` (which must exist): probes io_uring
    /// and whether the filesystem accepts O_DIRECT, as `config.io_mode` asks.
    ///
    /// # Errors
    /// [`OpenError::Uring`] when `IoMode::Uring` was asked for and io_uring cannot be used (the
    /// message names the cause and the fix); [`OpenError::DirectIo`] or [`OpenError::Io`] when
    /// the probe itself fails; [`OpenError::Config`] for a bad buffer size.
    pub fn new(data_dir: &Path, config: &SharedConfig) -> Result<Arc<Shared>, OpenError> {
        check_buffer_bytes(config)?;
        let (alignment, mut fallback_reason) = match probe_direct_io(data_dir) {
            Ok(dio) => (Some(dio.memory.max(dio.offset).max(PAGE_BYTES)), None),
            Err(DirectIoError::Unsupported { filesystem, .. }) => (
                None,
                Some(format!(
                    "the {filesystem} filesystem refuses O_DIRECT; using buffered I/O"
                )),
            ),
            // The probe writes one block: name the directory, so that a full disk (which
            // fails here before recovery could trim anything) says where to free space.
            Err(DirectIoError::Io(source)) => {
                return Err(OpenError::Io {
                    op: "probe O_DIRECT (write and read back one block) in",
                    path: data_dir.to_path_buf(),
                    source,
                });
            }
            Err(e) => return Err(OpenError::DirectIo(e)),
        };
        let storage: Arc<dyn Storage> = match config.io_mode {
            IoMode::Portable => Arc::new(PortableStorage::new(alignment)),
            // Mappings go through the page cache: buffered files, no direct-I/O alignment.
            #[cfg(feature = "mmap")]
            IoMode::Mmap => Arc::new(crate::io::mmap::MmapStorage::new()),
            IoMode::Uring => Arc::new(UringStorage::new(
                Arc::new(Ring::new(config.ring_entries)?),
                alignment,
            )),
            IoMode::Auto => match Ring::new(config.ring_entries) {
                Ok(ring) => Arc::new(UringStorage::new(Arc::new(ring), alignment)),
                Err(e) => {
                    let reason = fallback_message(&e);
                    fallback_reason = Some(match fallback_reason {
                        Some(previous) => format!("{previous}; {reason}"),
                        None => reason,
                    });
                    Arc::new(PortableStorage::new(alignment))
                }
            },
        };
        let align = storage.alignment().max(PAGE_BYTES);
        Ok(Arc::new(Shared {
            storage,
            pool: pool(config, align),
            cache: cache(config),
            read_ahead: ReadAheadAllowance::new(config),
            positions: RecordPositions::new(positions_budget(config)),
            next_log_id: AtomicU64::new(1),
            fallback_reason,
            flusher: Flusher::new(),
        }))
    }

    /// Resources for read-only logs ([`crate::Log::open_read_only`]): buffered `pread`s of
    /// files opened read-only. Nothing is probed, so nothing is written anywhere.
    ///
    /// # Errors
    /// [`OpenError::Config`] for a bad buffer size.
    pub fn read_only(config: &SharedConfig) -> Result<Arc<Shared>, OpenError> {
        check_buffer_bytes(config)?;
        Ok(Arc::new(Shared {
            storage: Arc::new(PortableStorage::read_only()),
            pool: pool(config, PAGE_BYTES),
            cache: cache(config),
            read_ahead: ReadAheadAllowance::new(config),
            positions: RecordPositions::new(positions_budget(config)),
            next_log_id: AtomicU64::new(1),
            fallback_reason: Some("read-only: buffered pread through the page cache".to_string()),
            flusher: Flusher::new(),
        }))
    }

    /// The I/O path in use.
    pub fn io_path(&self) -> IoPath {
        self.storage.io_path()
    }

    /// Whether segments are memory-mapped (the `mmap` path).
    pub(crate) fn uses_mmap(&self) -> bool {
        self.storage.io_path() == IoPath::Mmap
    }

    /// Why `IoMode::Auto` did not get io_uring with O_DIRECT, if it did not.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// The read cache.
    pub fn cache(&self) -> &ReadCache {
        &self.cache
    }

    /// The record position tables of point-read batches (see
    /// [`crate::cache::record_positions`]).
    pub fn record_positions(&self) -> &RecordPositions {
        &self.positions
    }

    /// The buffer pool.
    pub fn pool(&self) -> &Arc<BufferPool> {
        &self.pool
    }

    pub(crate) fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// Counts `bytes` of read-ahead in flight if they fit the allowance, or in any case with
    /// `always` (a stream's only read); whether they were counted. Given back with
    /// [`Shared::release_read_ahead`].
    pub(crate) fn reserve_read_ahead(&self, bytes: usize, always: bool) -> bool {
        let allowance = &self.read_ahead;
        if always {
            allowance.in_flight.fetch_add(bytes, Ordering::Relaxed);
            return true;
        }
        allowance
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n + bytes <= allowance.max_bytes).then_some(n + bytes)
            })
            .is_ok()
    }

    /// Read-ahead bytes in flight (for tests).
    #[cfg(test)]
    pub(crate) fn read_ahead_in_flight(&self) -> usize {
        self.read_ahead.in_flight.load(Ordering::Relaxed)
    }

    /// Gives back read-ahead bytes counted by [`Shared::reserve_read_ahead`].
    pub(crate) fn release_read_ahead(&self, bytes: usize) {
        self.read_ahead
            .in_flight
            .fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Alignment of every write and read: the direct-I/O alignment, never below a page.
    pub(crate) fn align(&self) -> usize {
        self.pool.align()
    }

    pub(crate) fn flusher(&self) -> &Flusher {
        &self.flusher
    }

    pub(crate) fn new_log_id(&self) -> u64 {
        self.next_log_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Replaces the storage with a wrapper (tests: fault injection, crash simulation).
    #[doc(hidden)]
    pub fn with_storage(
        data_dir: &Path,
        config: &SharedConfig,
        wrap: impl FnOnce(Arc<dyn Storage>) -> Arc<dyn Storage>,
    ) -> Result<Arc<Shared>, OpenError> {
        let shared = Shared::new(data_dir, config)?;
        let mut shared = Arc::try_unwrap(shared).expect("a new Shared has one owner");
        shared.storage = wrap(shared.storage);
        Ok(Arc::new(shared))
    }
}

fn check_buffer_bytes(config: &SharedConfig) -> Result<(), OpenError> {
    let buffer_bytes = config.buffer_bytes;
    if buffer_bytes < PAGE_BYTES || !buffer_bytes.is_power_of_two() {
        return Err(OpenError::Config(format!(
            "buffer_bytes {buffer_bytes} must be a power of two of at least {PAGE_BYTES}"
        )));
    }
    let growth = config.write_chunk_growth;
    if !growth.is_power_of_two() || buffer_bytes.checked_mul(growth).is_none() {
        return Err(OpenError::Config(format!(
            "write_chunk_growth {growth} must be a power of two (1 for no growth) whose product \
             with buffer_bytes {buffer_bytes} fits in memory"
        )));
    }
    Ok(())
}

/// The record position tables' budget: 1/32 of the read cache's, so that the cache's batches
/// of 1 KiB records (8 bytes of table per record) can all have one.
fn positions_budget(config: &SharedConfig) -> usize {
    config.cache_bytes / 32
}

/// The read cache, with its written and read-ahead windows.
fn cache(config: &SharedConfig) -> ReadCache {
    ReadCache::with_windows(
        config.cache_bytes,
        config.written_cache_bytes,
        config.read_ahead_cache_bytes,
    )
}

/// Bytes of read-ahead reads in flight over every log of a [`Shared`], and their bound: a
/// quarter of the read-ahead window.
struct ReadAheadAllowance {
    in_flight: AtomicUsize,
    max_bytes: usize,
}

impl ReadAheadAllowance {
    fn new(config: &SharedConfig) -> Self {
        ReadAheadAllowance {
            in_flight: AtomicUsize::new(0),
            max_bytes: config.read_ahead_cache_bytes.min(config.cache_bytes) / 4,
        }
    }
}

/// The buffer pool: `buffer_bytes` buffers and the larger classes busy logs' chunks grow into.
fn pool(config: &SharedConfig, align: usize) -> Arc<BufferPool> {
    BufferPool::with_classes(
        config.buffer_bytes,
        config.buffer_bytes * config.write_chunk_growth,
        align,
        config.buffer_pool_bytes,
    )
}

fn fallback_message(error: &UringError) -> String {
    format!("io_uring unavailable ({error}); using pread/pwrite")
}
