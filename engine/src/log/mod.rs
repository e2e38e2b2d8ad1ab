//! The partition log: an ordered sequence of segments with one active segment at the end.
//!
//! Threading: a [`Log`] is `Send + Sync`. Appends serialize on the writer lock only for the
//! time it takes to encode a batch into the tail; waiting for disk happens outside it (see
//! [`writer`]). Fetches take no lock for data on disk or in the read cache; only data of the
//! active segment not yet on disk is copied out under the writer lock (see [`reader`]).

mod compact;
mod open;
mod reader;
pub(crate) mod retention;
mod timestamp_window;
pub(crate) mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

use crate::config::{CleanupPolicy, Config};
use crate::error::{AppendError, MaintenanceError, OpenError};
use crate::io::IoPath;
use crate::record::{
    Record, encode_batch, encoded_batch_bytes, peek_batch_bytes, set_base_offset,
    validate_producer_batch,
};
use crate::segment::Segment;
use crate::shared::{Shared, SharedConfig};

pub use reader::{FetchedBatches, ReadRecord};
pub use retention::RetentionReport;
use timestamp_window::TimestampWindow;
use writer::{Level, Writer};

/// Name of the file written at a clean close; its presence at open spares the recovery scan.
pub const CLEAN_SHUTDOWN_FILE: &str = ".ringlog_clean_shutdown";

/// Offsets assigned to an appended batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the batch's first record.
    pub base_offset: u64,
    /// Offset of the batch's last record.
    pub last_offset: u64,
}

/// One partition's log. Cheap to share: wrap it in an `Arc` and use it from many threads.
pub struct Log {
    inner: Arc<LogInner>,
}

pub(crate) struct LogInner {
    /// Identifies this log's ranges in the shared read cache.
    id: u64,
    dir: PathBuf,
    config: Config,
    shared: Arc<Shared>,
    segments: RwLock<BTreeMap<u64, Arc<Segment>>>,
    writer: Mutex<Writer>,
    /// Signalled whenever a flusher gives up its role.
    flushed: Condvar,
    /// The next offset to be assigned, published after the batch is readable.
    next_offset: AtomicU64,
    /// The high watermark under `Write` and `Sync` durability: fetches serve records below it
    /// only, the records that reached the configured durability, so a consumer never sees a
    /// record that a crash or a failed write could take back. Under `None` fetches go to
    /// `next_offset` and this is unused.
    durable_offset: AtomicU64,
    /// The earliest offset held.
    start_offset: AtomicU64,
    /// One compaction of this log at a time.
    compaction: Mutex<()>,
    /// When the background flusher last ran retention (ms since the epoch).
    last_retention_ms: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.inner.dir)
            .field("start_offset", &self.start_offset())
            .field("next_offset", &self.next_offset())
            .field("io_path", &self.io_path())
            .finish_non_exhaustive()
    }
}

impl Log {
    /// Opens the log in `dir` (created if missing) with its own I/O resources, recovering it
    /// if it was not closed cleanly.
    ///
    /// # Errors
    /// See [`OpenError`]: bad configuration, io_uring refused under `IoMode::Uring`, file
    /// errors, or a sealed segment that is corrupt.
    pub fn open(dir: impl AsRef<Path>, config: Config) -> Result<Log, OpenError> {
        let dir = dir.as_ref();
        // Before `Shared` exists (its O_DIRECT probe needs the directory), so not through the
        // storage seam.
        create_dir(dir, ringlog_sys::file::fsync_dir)?;
        let shared_config = SharedConfig {
            io_mode: config.io_mode,
            ..SharedConfig::default()
        };
        let shared = Shared::new(dir, &shared_config)?;
        Log::open_with(dir, config, &shared)
    }

    /// Opens the log in `dir` on I/O resources shared with other logs.
    ///
    /// # Errors
    /// As [`Log::open`].
    pub fn open_with(
        dir: impl AsRef<Path>,
        config: Config,
        shared: &Arc<Shared>,
    ) -> Result<Log, OpenError> {
        config.validate().map_err(OpenError::Config)?;
        let dir = dir.as_ref();
        create_dir(dir, |parent| shared.storage().sync_dir(parent))?;
        let inner = Arc::new(open::open(dir, config, Arc::clone(shared))?);
        // Every log, whatever its intervals: the flusher also gives idle tails back.
        shared.flusher().register(&inner);
        Ok(Log { inner })
    }

    /// Appends `records` as one batch and returns the offsets assigned, once the log's
    /// durability is met.
    ///
    /// # Errors
    /// [`AppendError::Empty`], [`AppendError::TooLarge`], an invalid record (a length beyond
    /// the format's range), [`AppendError::InvalidTimestamp`] for a record timestamp outside
    /// `timestamp_before_max_ms`/`timestamp_after_max_ms` of the wall clock, or a write
    /// failure, after which the log is poisoned.
    pub fn append(&self, records: &[Record<'_>]) -> Result<AppendInfo, AppendError> {
        if records.is_empty() {
            return Err(AppendError::Empty);
        }
        TimestampWindow::new(&self.inner.config, now_ms())
            .check(records.iter().map(|r| r.timestamp_ms))?;
        if self.inner.config.cleanup_policy == CleanupPolicy::Compact
            && let Some(index) = records.iter().position(|r| r.key.is_none())
        {
            return Err(AppendError::KeyRequired { index });
        }
        let total = encoded_batch_bytes(records)?;
        let options = crate::record::BatchOptions::default();
        let (base_offset, last_offset) =
            self.inner
                .append_encoded(total, records.len() as u64, |dst, base| {
                    encode_batch(dst, base as i64, records, &options)
                })?;
        Ok(AppendInfo {
            base_offset,
            last_offset,
        })
    }

    /// Appends an already encoded batch (as a producer sends it): validated (lengths, magic,
    /// CRC, records, contiguous offset deltas, timestamps: see
    /// [`validate_producer_batch`]; every record timestamp within
    /// `timestamp_before_max_ms`/`timestamp_after_max_ms` of the wall clock), then its base
    /// offset rewritten to the log's next offset. `batch` must hold exactly one batch.
    ///
    /// # Errors
    /// [`AppendError::InvalidBatch`] naming what is wrong, [`AppendError::TooLarge`],
    /// [`AppendError::InvalidTimestamp`], or a write failure as for [`Log::append`].
    pub fn append_batch(&self, batch: &[u8]) -> Result<AppendInfo, AppendError> {
        let max_batch_bytes = self.inner.config.max_batch_bytes;
        // A whole batch over the limit is refused as too large, not as malformed, so the
        // message names the setting the operator controls.
        if let Ok(total) = peek_batch_bytes(batch, usize::MAX)
            && total > max_batch_bytes
            && total <= batch.len()
        {
            return Err(AppendError::TooLarge {
                bytes: total,
                max: max_batch_bytes,
            });
        }
        let header = validate_producer_batch(batch, max_batch_bytes)?;
        let total = header.total_bytes();
        if batch.len() != total {
            return Err(AppendError::TrailingBytes {
                batch_bytes: total,
                given_bytes: batch.len(),
            });
        }
        if header.records_count == 0 {
            return Err(AppendError::Empty);
        }
        TimestampWindow::new(&self.inner.config, now_ms()).check_batch(&header, batch)?;
        if self.inner.config.cleanup_policy == CleanupPolicy::Compact {
            // The batch was validated above, so its records decode.
            let unkeyed =
                crate::record::records(batch)?.position(|r| r.is_ok_and(|r| r.key.is_none()));
            if let Some(index) = unkeyed {
                return Err(AppendError::KeyRequired { index });
            }
        }
        let count = header.last_offset_delta as u64 + 1;
        let (base_offset, last_offset) = self.inner.append_encoded(total, count, |dst, base| {
            dst.copy_from_slice(batch);
            set_base_offset(dst, base as i64);
            let mut header = header;
            header.base_offset = base as i64;
            Ok(header)
        })?;
        Ok(AppendInfo {
            base_offset,
            last_offset,
        })
    }

    /// Writes everything appended so far and `fdatasync`s it, whatever the durability mode.
    ///
    /// # Errors
    /// A write or sync failure (the log is poisoned), or a log poisoned earlier.
    pub fn flush(&self) -> Result<(), AppendError> {
        let w = self.inner.lock_writer();
        let next = w.next_offset;
        drop(self.inner.flush_to(w, Level::Synced, next)?);
        Ok(())
    }

    /// Flushes, seals the active segment's file to its real size, writes the indexes and marks
    /// the log cleanly closed so the next open skips the recovery scan. Appends fail with
    /// [`AppendError::Closed`] afterwards. Dropping a log closes it too, ignoring errors.
    ///
    /// # Errors
    /// A write, sync or file failure; the log is then left for recovery at the next open.
    pub fn close(&self) -> Result<(), MaintenanceError> {
        self.inner.close()
    }

    /// The next offset to be assigned (Kafka's log end offset).
    pub fn next_offset(&self) -> u64 {
        self.inner.next_offset.load(Ordering::Acquire)
    }

    /// The high watermark: fetches return records below it. Under `Write` and `Sync`
    /// durability it is the end of what reached that durability (a record becomes visible to
    /// consumers when its append is acknowledged, never before, so nothing a consumer read can
    /// be taken back by a crash); under `None` it is [`Log::next_offset`].
    pub fn high_watermark(&self) -> u64 {
        self.inner.high_watermark()
    }

    /// The earliest offset the log holds (Kafka's log start offset).
    pub fn start_offset(&self) -> u64 {
        self.inner.start_offset.load(Ordering::Acquire)
    }

    /// The I/O path this log runs on.
    pub fn io_path(&self) -> IoPath {
        self.inner.shared.io_path()
    }

    /// The shared resources this log runs on.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The log's configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.inner
            .segments
            .read()
            .expect("segments lock poisoned")
            .len()
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<u64> {
        self.inner
            .segments
            .read()
            .expect("segments lock poisoned")
            .keys()
            .copied()
            .collect()
    }

    /// Bytes of batches held in all segments.
    pub fn size_bytes(&self) -> u64 {
        self.inner
            .segments
            .read()
            .expect("segments lock poisoned")
            .values()
            .map(|s| s.data_bytes())
            .sum()
    }

    /// The first write or sync failure, if the log is poisoned.
    pub fn poisoned(&self) -> Option<Arc<str>> {
        self.inner.lock_writer().poisoned.clone()
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = self.inner.close();
    }
}

impl LogInner {
    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().expect("writer lock poisoned")
    }

    fn close(&self) -> Result<(), MaintenanceError> {
        let w = self.lock_writer();
        if w.closed {
            return Ok(());
        }
        let w = self.drain_failed_writes(w);
        let mut w = self.settle(w)?;
        w.closed = true;
        self.seal_active(&mut w)
            .map_err(|(op, path, source)| MaintenanceError::Io { op, path, source })?;
        let marker = self.dir.join(CLEAN_SHUTDOWN_FILE);
        std::fs::write(&marker, format!("{}\n", w.next_offset)).map_err(|source| {
            MaintenanceError::Io {
                op: "write",
                path: marker.clone(),
                source,
            }
        })?;
        self.shared
            .storage()
            .sync_dir(&self.dir)
            .map_err(|source| MaintenanceError::Io {
                op: "fsync directory",
                path: self.dir.clone(),
                source,
            })?;
        self.shared.cache().remove_log(self.id);
        Ok(())
    }

    /// Maps the active segment for appends (mmap path): the mapping spans the largest the file
    /// can grow to, `file_bytes` of it backed by the file now, `data_bytes` valid.
    pub(crate) fn map_active(
        &self,
        segment: &Segment,
        file_bytes: u64,
        data_bytes: u64,
    ) -> std::io::Result<ringlog_sys::mmap::MapWriter> {
        let page = crate::shared::PAGE_BYTES as u64;
        let map_len = (self.config.segment_bytes + self.config.max_batch_bytes as u64 + page)
            .div_ceil(page)
            * page;
        let (writer, reader) = ringlog_sys::mmap::MapWriter::create(
            &segment.file,
            map_len as usize,
            file_bytes as usize,
            data_bytes as usize,
        )?;
        *segment.map.write().expect("map lock poisoned") = Some(reader);
        Ok(writer)
    }

    /// Creates the files of a new, empty segment at `base` and makes their names durable.
    fn create_segment(
        &self,
        base: u64,
    ) -> Result<Arc<Segment>, (&'static str, PathBuf, std::io::Error)> {
        let path = self.dir.join(crate::segment::file_name(
            base,
            crate::segment::LOG_EXTENSION,
        ));
        let file = self
            .shared
            .storage()
            .open(&path, true)
            .map_err(|e| ("create", path.clone(), e))?;
        let segment = Arc::new(Segment::new(&self.dir, base, file));
        segment
            .write_indexes()
            .map_err(|e| ("create the indexes of", path.clone(), e))?;
        self.shared
            .storage()
            .sync_dir(&self.dir)
            .map_err(|e| ("fsync directory", self.dir.clone(), e))?;
        Ok(segment)
    }
}

/// [`crate::io::create_dir_durable`] with the error an open reports.
fn create_dir(
    dir: &Path,
    sync_dir: impl Fn(&Path) -> std::io::Result<()>,
) -> Result<(), OpenError> {
    crate::io::create_dir_durable(dir, sync_dir).map_err(|(op, path, source)| OpenError::Io {
        op,
        path,
        source,
    })
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
