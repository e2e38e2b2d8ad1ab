//! The partition log: an ordered sequence of segments with one active segment at the end.
//!
//! Threading: a [`Log`] is `Send + Sync`. Appends serialize on the writer lock only for the
//! time it takes to encode a batch into the tail; waiting for disk happens outside it (see
//! [`writer`]). Fetches take no lock for data on disk or in the read cache; only data of the
//! active segment not yet on disk is copied out under the writer lock (see [`reader`]).

mod checked;
mod compact;
mod handle;
mod open;
mod read_ahead;
mod reader;
mod record_read;
pub(crate) mod retention;
pub(crate) mod spares;
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
    BatchEncoder, BatchHeader, Record, peek_batch_bytes, set_base_offset, validate_producer_batch,
};
use crate::segment::Segment;
use crate::shared::{Shared, SharedConfig};

pub use handle::AppendHandle;
pub use reader::{FetchedBatches, ReadRecord};
pub use record_read::StoredRecord;
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
    /// Signalled when the appends a gathering flusher waits for have arrived (see
    /// `writer/group.rs`).
    appended: Condvar,
    /// The next offset to be assigned, published after the batch is readable.
    next_offset: AtomicU64,
    /// The high watermark under `Write` and `Sync` durability: fetches serve records below it
    /// only, the records that reached the configured durability, so a consumer never sees a
    /// record that a crash or a failed write could take back. Under `None` fetches go to
    /// `next_offset` and this is unused.
    durable_offset: AtomicU64,
    /// Wakers of pending [`AppendHandle`] futures, woken as `durable_offset` covers them, and
    /// the offset they need durable.
    waiters: handle::Waiters,
    /// The earliest offset held.
    start_offset: AtomicU64,
    /// The maintenance lock: held by compaction, retention and close for as long as they
    /// run, so that they never overlap (retention deleting a segment that a compaction has
    /// read and is about to swap out would bring its offsets back at the next open), and so
    /// that a log is never maintained after it was closed (its directory may be gone, or
    /// belong to a new topic of the same name). Taken before the segment map and the writer.
    maintenance: Mutex<()>,
    /// Set by `close` before it waits for the maintenance lock: a running compaction stops at
    /// its next batch (before its commit point) instead of keeping the close waiting, which
    /// with an I/O cap could be minutes.
    close_requested: std::sync::atomic::AtomicBool,
    /// When the background flusher last ran retention (ms since the epoch).
    last_retention_ms: std::sync::atomic::AtomicI64,
    /// Sequential consumers' reads in flight (`read_ahead.rs`).
    read_ahead: read_ahead::ReadAhead,
    /// Files of segments retention deleted, kept for rolls to write over (`spares.rs`).
    spares: spares::Spares,
    /// The write path's storage: records the first write or sync failure and refuses writes
    /// from then on (`checked.rs`).
    checked: checked::CheckedStorage,
    /// What recovery cut (or, read-only, ignored) at open: see [`Log::recovery_cuts`].
    recovery_cuts: Vec<crate::segment::RecoveryCut>,
    /// Opened with [`Log::open_read_only`]: nothing is ever written.
    read_only: bool,
    /// The directory's lock (`None` for a read-only open). Released when the [`Log`] handle is
    /// dropped, after its close, not when the last `Arc<LogInner>` goes: the background flusher
    /// may hold one for a moment, and a reopen right after a drop must not find the directory
    /// locked.
    lock: Mutex<Option<crate::lock::DirLock>>,
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
    ///
    /// The directory is locked (`.lock`, see [`crate::lock`]) before anything in it is read, and
    /// stays locked until the log is dropped: one writing process per directory.
    ///
    /// Recovery checks stored batches against the format only, never against `config`: a log
    /// written with larger limits (`max_batch_bytes`, `segment_bytes`, ...) opens with smaller
    /// ones, keeps every batch, and applies the new limits to new appends.
    ///
    /// # Errors
    /// See [`OpenError`]: bad configuration, [`OpenError::Locked`] when another opener holds
    /// the directory, io_uring refused under `IoMode::Uring`, file errors, or a sealed segment
    /// that is corrupt.
    pub fn open(dir: impl AsRef<Path>, config: Config) -> Result<Log, OpenError> {
        config.validate().map_err(OpenError::Config)?;
        let dir = dir.as_ref();
        // Before `Shared` exists (its O_DIRECT probe needs the directory), so not through the
        // storage seam.
        create_dir(&crate::io::portable::PortableStorage::new(None), dir)?;
        let lock = crate::lock::DirLock::acquire(dir)?;
        let shared_config = SharedConfig {
            io_mode: config.io_mode,
            ..SharedConfig::default()
        };
        let shared = Shared::new(dir, &shared_config)?;
        Log::open_locked(dir, config, &shared, lock)
    }

    /// Opens the log in `dir` on I/O resources shared with other logs, locking the directory as
    /// [`Log::open`] does.
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
        create_dir(shared.storage().as_ref(), dir)?;
        let lock = crate::lock::DirLock::acquire(dir)?;
        Log::open_locked(dir, config, shared, lock)
    }

    /// Opens the existing log in `dir` for reading only. Nothing on disk changes: no recovery
    /// truncation, no trimming, no index rewrite, no clean-shutdown marker, no interrupted
    /// compaction settled, no lock taken; so it works on a directory that a live process is
    /// writing, and reads only what is valid (what a recovering open would keep) as of the
    /// open. Reads go through the page cache with `pread` (no O_DIRECT probe file is written).
    /// Appends, flushes, retention and compaction fail with a read-only error.
    ///
    /// # Errors
    /// [`OpenError::NoLog`] when `dir` holds no segment files, bad configuration, file errors,
    /// or a sealed segment that is corrupt.
    pub fn open_read_only(dir: impl AsRef<Path>, config: Config) -> Result<Log, OpenError> {
        config.validate().map_err(OpenError::Config)?;
        let shared = Shared::read_only(&SharedConfig::default())?;
        Log::open_read_only_with(dir, config, &shared)
    }

    /// [`Log::open_read_only`] on given shared resources (a read-only topic manager's).
    ///
    /// # Errors
    /// As [`Log::open_read_only`].
    pub fn open_read_only_with(
        dir: impl AsRef<Path>,
        config: Config,
        shared: &Arc<Shared>,
    ) -> Result<Log, OpenError> {
        config.validate().map_err(OpenError::Config)?;
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(OpenError::NoLog {
                dir: dir.to_path_buf(),
            });
        }
        let inner = open::open(dir, config, Arc::clone(shared), open::Access::ReadOnly)?;
        Ok(Log {
            inner: Arc::new(inner),
        })
    }

    fn open_locked(
        dir: &Path,
        config: Config,
        shared: &Arc<Shared>,
        lock: crate::lock::DirLock,
    ) -> Result<Log, OpenError> {
        let access = open::Access::Write(lock);
        let inner = Arc::new(open::open(dir, config, Arc::clone(shared), access)?);
        // Every writable log, whatever its intervals: the flusher also gives idle tails back.
        let weak = Arc::downgrade(&inner);
        let weak: std::sync::Weak<dyn crate::flusher::Maintained> = weak;
        shared.flusher().register(weak);
        Ok(Log { inner })
    }

    /// Appends `records` as one batch and returns the offsets assigned, once the log's
    /// durability is met: [`Log::submit`] and [`AppendHandle::wait`] in one.
    ///
    /// # Errors
    /// [`AppendError::Empty`], [`AppendError::TooLarge`], an invalid record (a length beyond
    /// the format's range), [`AppendError::InvalidTimestamp`] for a record timestamp outside
    /// `timestamp_before_max_ms`/`timestamp_after_max_ms` of the wall clock, or a write
    /// failure, after which the log is poisoned.
    pub fn append(&self, records: &[Record<'_>]) -> Result<AppendInfo, AppendError> {
        let (base_offset, last_offset) = self.encoded(records, |bytes, header, count| {
            self.inner.append_encoded(bytes.len(), count, |dst, base| {
                place_batch(dst, bytes, header, base)
            })
        })?;
        Ok(AppendInfo {
            base_offset,
            last_offset,
        })
    }

    /// Appends `records` as one batch without waiting for durability: the returned handle
    /// resolves to the offsets once the log's durability is met (waited on with
    /// [`AppendHandle::wait`] or polled as a `Future`), so one producer can keep several
    /// durable appends in flight and have them share writes and `fdatasync`s. Handles resolve
    /// in offset order; a failed write or sync fails every handle not yet durable.
    ///
    /// # Errors
    /// As [`Log::append`] for everything found before the batch is in the log; a write
    /// failure may also be reported here (when the submission itself fails) or by the handle.
    pub fn submit(&self, records: &[Record<'_>]) -> Result<AppendHandle, AppendError> {
        let (base_offset, last_offset) = self.encoded(records, |bytes, header, count| {
            self.inner.submit_encoded(bytes.len(), count, |dst, base| {
                place_batch(dst, bytes, header, base)
            })
        })?;
        Ok(self.handle(base_offset, last_offset))
    }

    /// Checks `records` and encodes them as one batch (CRC included) in this thread's
    /// [`BatchEncoder`], outside the writer lock, then hands the bytes, their header and
    /// offset count to `append`, which only copies them into the log and sets the base offset.
    fn encoded<T>(
        &self,
        records: &[Record<'_>],
        append: impl FnOnce(&[u8], BatchHeader, u64) -> Result<T, AppendError>,
    ) -> Result<T, AppendError> {
        self.check_records(records)?;
        ENCODER.with_borrow_mut(|encoder| {
            let total = encoder.plan(records)?;
            let max = self.inner.config.max_batch_bytes;
            if total > max {
                return Err(AppendError::TooLarge { bytes: total, max });
            }
            let options = crate::record::BatchOptions::default();
            let (bytes, header) = encoder.write(records, 0, &options);
            append(bytes, header, records.len() as u64)
        })
    }

    fn handle(&self, base_offset: u64, last_offset: u64) -> AppendHandle {
        let info = AppendInfo {
            base_offset,
            last_offset,
        };
        let level = Level::for_durability(self.inner.config.durability);
        AppendHandle::new(Arc::clone(&self.inner), info, level)
    }

    /// Checks `records` before they are encoded.
    fn check_records(&self, records: &[Record<'_>]) -> Result<(), AppendError> {
        self.inner.refuse_read_only()?;
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
        Ok(())
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
        let header = self.check_batch(batch)?;
        let (total, count) = (header.total_bytes(), header.last_offset_delta as u64 + 1);
        let (base_offset, last_offset) = self.inner.append_encoded(total, count, |dst, base| {
            place_batch(dst, batch, header, base)
        })?;
        Ok(AppendInfo {
            base_offset,
            last_offset,
        })
    }

    /// [`Log::append_batch`] without waiting for durability, as [`Log::submit`] is to
    /// [`Log::append`].
    ///
    /// # Errors
    /// As [`Log::append_batch`]; a write failure may also be reported by the handle.
    pub fn submit_batch(&self, batch: &[u8]) -> Result<AppendHandle, AppendError> {
        let header = self.check_batch(batch)?;
        let (total, count) = (header.total_bytes(), header.last_offset_delta as u64 + 1);
        let (base_offset, last_offset) = self.inner.submit_encoded(total, count, |dst, base| {
            place_batch(dst, batch, header, base)
        })?;
        Ok(self.handle(base_offset, last_offset))
    }

    /// Checks a producer's batch before it is placed; returns its header.
    fn check_batch(&self, batch: &[u8]) -> Result<crate::record::BatchHeader, AppendError> {
        self.inner.refuse_read_only()?;
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
        Ok(header)
    }

    /// Writes everything appended so far and `fdatasync`s it, whatever the durability mode.
    ///
    /// # Errors
    /// A write or sync failure (the log is poisoned), or a log poisoned earlier.
    pub fn flush(&self) -> Result<(), AppendError> {
        self.inner.refuse_read_only()?;
        let w = self.inner.lock_writer();
        let next = w.next_offset;
        drop(self.inner.flush_to(w, Level::Synced, next)?);
        Ok(())
    }

    /// Flushes, seals the active segment's file to its real size, writes the indexes and marks
    /// the log cleanly closed so the next open skips the recovery scan. Waits first for a
    /// running compaction or retention. Appends fail with [`AppendError::Closed`] afterwards,
    /// and compaction and retention with [`MaintenanceError::Closed`], also when the close
    /// itself failed. Dropping a log closes it too, ignoring errors.
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
        self.inner.checked.poisoned()
    }

    /// Simulates a crash of this process for tests that reopen in the same process: the log
    /// stops without flushing, sealing or writing its marker (writes already submitted still
    /// complete, as they would after a real crash, and this waits for them; what was not yet
    /// submitted is lost), nothing of it writes again (a pending [`AppendHandle`] resolves to
    /// [`AppendError::Closed`]), and the directory's lock is released so the next open
    /// recovers the files as they are.
    #[doc(hidden)]
    pub fn abandon(self) {
        self.inner.abandon_writes();
        self.inner.lock.lock().expect("lock mutex poisoned").take();
        std::mem::forget(self);
    }

    /// Whether the log was opened with [`Log::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// What recovery did not keep at open, other than never-written (zero) space: torn or
    /// invalid batches and everything after them, with their byte ranges. Empty after a clean
    /// shutdown. Tools print these; a broker should log them as warnings.
    pub fn recovery_cuts(&self) -> &[crate::segment::RecoveryCut] {
        &self.inner.recovery_cuts
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = self.inner.close();
        // Even after a failed close nothing may write any more once the lock is released (the
        // background flusher skips closed logs), since the next opener recovers the files.
        self.inner.lock_writer().closed = true;
        self.inner.lock.lock().expect("lock mutex poisoned").take();
    }
}

impl LogInner {
    /// [`AppendError::ReadOnly`] for a log opened read-only.
    pub(crate) fn refuse_read_only(&self) -> Result<(), AppendError> {
        if self.read_only {
            return Err(AppendError::ReadOnly);
        }
        Ok(())
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().expect("writer lock poisoned")
    }

    /// Takes the maintenance lock (see `compaction`) for compaction or retention: waits for
    /// the one running, then refuses a closed log.
    ///
    /// # Errors
    /// [`MaintenanceError::Closed`].
    fn lock_maintenance(&self) -> Result<MutexGuard<'_, ()>, MaintenanceError> {
        let guard = self.maintenance.lock().expect("maintenance lock poisoned");
        self.refuse_closed()?;
        Ok(guard)
    }

    /// [`MaintenanceError::Closed`] once `close` was called: what a compaction checks between
    /// batches, so that a close never waits for the rest of one.
    pub(crate) fn refuse_close_requested(&self) -> Result<(), MaintenanceError> {
        if self.close_requested.load(Ordering::Acquire) {
            return Err(MaintenanceError::Closed {
                path: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// [`MaintenanceError::Closed`] once `close` ran, whatever it returned.
    fn refuse_closed(&self) -> Result<(), MaintenanceError> {
        if self.lock_writer().closed {
            return Err(MaintenanceError::Closed {
                path: self.dir.clone(),
            });
        }
        Ok(())
    }

    fn close(&self) -> Result<(), MaintenanceError> {
        // Waits for a running compaction or retention; none starts after this close, even one
        // that fails (see `lock_maintenance`), so once it returns nothing but this log's own
        // readers touches the directory.
        self.close_requested.store(true, Ordering::Release);
        let _maintenance = self.maintenance.lock().expect("maintenance lock poisoned");
        let w = self.lock_writer();
        // A read-only log starts closed: it never writes a marker or seals anything.
        if w.closed {
            drop(w);
            return self
                .checked
                .poisoned()
                .map_or(Ok(()), |cause| Err(MaintenanceError::Poisoned { cause }));
        }
        let w = self.drain_failed_writes(w);
        let mut w = match self.settle(w) {
            Ok(w) => w,
            Err(error) => {
                // Poisoned: nothing more can be made durable, but the log is closed all the
                // same, so that no maintenance runs on it from now on.
                self.lock_writer().closed = true;
                return Err(error.into());
            }
        };
        w.closed = true;
        self.seal_active(&mut w)
            .map_err(|(op, path, source)| MaintenanceError::Io { op, path, source })?;
        self.remove_spares()?;
        let marker = self.dir.join(CLEAN_SHUTDOWN_FILE);
        self.shared
            .storage()
            .write_file(&marker, format!("{}\n", w.next_offset).as_bytes())
            .map_err(|source| MaintenanceError::Io {
                op: "write",
                path: marker.clone(),
                source,
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
        // Closed for good: nothing writes any more, so the next opener may have the directory.
        drop(w);
        self.lock.lock().expect("lock mutex poisoned").take();
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
        // An active segment written under a larger `segment_bytes` may already hold more than
        // today's limit; the next append then rolls, so its data plus one batch suffices.
        let largest = self.config.segment_bytes.max(file_bytes.max(data_bytes));
        let map_len = (largest + self.config.max_batch_bytes as u64 + page).div_ceil(page) * page;
        let (writer, reader) = ringlog_sys::mmap::MapWriter::create(
            &segment.file,
            map_len as usize,
            file_bytes as usize,
            data_bytes as usize,
        )?;
        *segment.map.write().expect("map lock poisoned") = Some(reader);
        Ok(writer)
    }

    /// Creates the files of a new, empty segment at `base`, over a spare file when there is one
    /// (see `spares.rs`), and makes their names durable. Returns the segment and the bytes its
    /// file already holds (a spare's old size: written blocks, no preallocation needed).
    fn create_segment(
        &self,
        base: u64,
    ) -> Result<(Arc<Segment>, u64), (&'static str, PathBuf, std::io::Error)> {
        let path = self.dir.join(crate::segment::file_name(
            base,
            crate::segment::LOG_EXTENSION,
        ));
        let (file, file_bytes) = if let Some(reused) = self.take_spare(&path) {
            reused
        } else {
            let file = self
                .shared
                .storage()
                .open(&path, true)
                .map_err(|e| ("create", path.clone(), e))?;
            (file, 0)
        };
        let segment = Arc::new(Segment::new(&self.dir, base, file));
        segment
            .write_indexes(self.shared.storage().as_ref())
            .map_err(|e| ("create the indexes of", path.clone(), e))?;
        self.shared
            .storage()
            .sync_dir(&self.dir)
            .map_err(|e| ("fsync directory", self.dir.clone(), e))?;
        Ok((segment, file_bytes))
    }

    /// Deletes the spare files (at close: they hold nothing acknowledged, and a closed log
    /// rolls no more).
    fn remove_spares(&self) -> Result<(), MaintenanceError> {
        for spare in self.spares.drain() {
            match self.shared.storage().remove_file(&spare.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(MaintenanceError::Io {
                        op: "delete",
                        path: spare.path,
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// A spare file renamed to `path`, with its size. A spare whose rename or `fstat` fails is
    /// dropped (the next open deletes it) and the roll creates a new file instead: the spare
    /// holds nothing anybody needs.
    fn take_spare(&self, path: &Path) -> Option<(Arc<std::fs::File>, u64)> {
        let spare = self.spares.take()?;
        self.shared.storage().rename(&spare.path, path).ok()?;
        let file_bytes = spare.file.metadata().ok()?.len();
        Some((spare.file, file_bytes))
    }
}

impl crate::flusher::Maintained for LogInner {
    fn flush_if_due(&self) {
        LogInner::flush_if_due(self);
        self.read_ahead.drop_idle();
    }

    fn retention_if_due(&self, now_ms: i64) {
        LogInner::retention_if_due(self, now_ms);
    }
}

thread_local! {
    /// Each appending thread's encoder: it keeps the largest batch the thread encoded (at most
    /// `max_batch_bytes` of its logs), so steady-state appends do not allocate.
    static ENCODER: std::cell::RefCell<BatchEncoder> =
        std::cell::RefCell::new(BatchEncoder::default());
}

/// Copies an encoded batch (a validated producer batch, or one of the log's own encoder)
/// into `dst` with its base offset set to `base`.
#[expect(
    clippy::unnecessary_wraps,
    reason = "the shape `append_encoded` takes for an encoder"
)]
fn place_batch(
    dst: &mut [u8],
    batch: &[u8],
    mut header: BatchHeader,
    base: u64,
) -> Result<BatchHeader, crate::record::BatchError> {
    dst.copy_from_slice(batch);
    set_base_offset(dst, base as i64);
    header.base_offset = base as i64;
    Ok(header)
}

/// [`crate::io::create_dir_durable`] with the error an open reports.
fn create_dir(storage: &dyn crate::io::Storage, dir: &Path) -> Result<(), OpenError> {
    crate::io::create_dir_durable(storage, dir).map_err(|(op, path, source)| OpenError::Io {
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
