//! The compaction worker: carries out what `crate::compaction::choice` decides.
//!
//! One round: build the offset map from the dirty sealed segments (as many as fit), rewrite
//! every sealed segment up to the end of the map group by group through the log's own I/O
//! path (`.cleaned` files, then the swap of `crate::compaction::swap`), replace the segments in
//! memory, and move the cleaner checkpoint. Rounds repeat until the dirty section is done:
//! the segments sealed when the compaction started (those sealed meanwhile wait for the next
//! compaction, as Kafka fixes its first uncleanable offset when a cleaning starts).
//! The active segment is never touched, so appends and fetches go on meanwhile; a reader that
//! holds a replaced segment keeps reading its (unlinked) file until it lets go.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;

use super::{Log, LogInner};
use crate::buffer_pool::{BufferPool, PooledBuf};
use crate::compaction::choice::{SegmentInfo, choose_cleaning, starts_new_segment};
use crate::compaction::filter::{HorizonStamp, filter_batch};
use crate::compaction::horizon::{new_delete_horizon_ms, retains_tombstones};
use crate::compaction::offset_map::{DEFAULT_LOAD_FACTOR, OffsetMap};
use crate::compaction::swap::{self, CLEANED_SUFFIX, PassManifest, StepBudget};
use crate::compaction::throttle::IoThrottle;
use crate::compaction::{CLEANER_CHECKPOINT_FILE, CompactOptions, CompactionReport, merge};
use crate::config::CleanupPolicy;
use crate::error::MaintenanceError;
use crate::io::{PendingSync, PendingWrite, Storage};
use crate::record::{BatchHeader, RecordView, records};
use crate::segment::{INDEX_EXTENSION, IndexBuilder, LOG_EXTENSION, Segment, TIME_INDEX_EXTENSION};

/// Syncs of a pass's staged files kept in flight at once (data and index files of several new
/// segments), so that they overlap one another and the cleaning instead of running one by one.
const MAX_SYNCS_IN_FLIGHT: usize = 16;

/// New segments of a pass whose writes may still be in flight behind the one being written.
const MAX_CLOSING_SEGMENTS: usize = 3;

/// The cleaner checkpoint holds one decimal offset; anything larger is not one.
const MAX_CHECKPOINT_BYTES: u64 = 64;

/// Upper bound on rounds of one call (each round makes progress; this only guards loops).
const MAX_ROUNDS: usize = 10_000;

/// Largest cleaned segment that stamping delete horizons may grow a group to (rewritten
/// timestamp deltas take more bytes): the largest `segment_bytes` that `Config::validate`
/// accepts, so every batch position stays exact in the 32-bit index.
const MAX_CLEANED_SEGMENT_BYTES: u64 = u32::MAX as u64 / 2;

impl Log {
    /// Compacts the sealed segments (Kafka's log cleaner): keeps the latest record of every
    /// key at its original offset; a tombstone is kept by the first cleaning that sees it,
    /// which stamps its batch with a delete horizon, and removed by a later one once the
    /// horizon has passed (see [`crate::compaction::horizon`]). With
    /// `min_cleanable_dirty_ratio` set, does nothing unless the dirty ratio passes it.
    /// Returns `None` when there was nothing to clean.
    ///
    /// Compaction and retention of one log never run at the same time: each waits for the
    /// other to finish. Closing the log stops a running compaction at its next batch, before
    /// its commit point (it then returns [`MaintenanceError::Closed`], and the next open
    /// removes its staged files), and waits for it to return; one past its commit point
    /// finishes its swap first.
    ///
    /// # Errors
    /// [`MaintenanceError::NotCompacted`] for a log whose cleanup policy is not `compact`,
    /// [`MaintenanceError::Closed`] for a closed log; reading or writing failed, a batch is
    /// corrupt, or the offset map cannot hold one batch. An interrupted compaction leaves the
    /// log as it was or finished (it serves the cleaned segments once their swap passed its
    /// commit point); the next compaction or open settles the files. A failed compaction does
    /// not poison the log.
    pub fn compact(
        &self,
        options: &CompactOptions,
    ) -> Result<Option<CompactionReport>, MaintenanceError> {
        self.inner.refuse_read_only()?;
        self.inner.compact(options)
    }
}

impl LogInner {
    pub(crate) fn compact(
        &self,
        options: &CompactOptions,
    ) -> Result<Option<CompactionReport>, MaintenanceError> {
        if self.config.cleanup_policy != CleanupPolicy::Compact {
            return Err(MaintenanceError::NotCompacted {
                path: self.dir.clone(),
                policy: self.config.cleanup_policy,
            });
        }
        let _maintenance = self.lock_maintenance()?;
        // A compaction that failed after its commit point left its swap unfinished (the log
        // already serves its cleaned segment), and one that failed before it left staged
        // files: settle both before anything new is staged.
        swap::recover(self.shared.storage().as_ref(), &self.dir)
            .map_err(|e| self.io("settle the compaction in", &self.dir, e))?;
        let started = Instant::now();
        let now_ms = options.now_ms.unwrap_or_else(super::now_ms);
        let mut budget = options
            .stop_after_file_operations
            .map_or_else(StepBudget::unlimited, StepBudget::stop_after);
        let mut total = CompactionReport::default();
        let mut min_ratio = options.min_cleanable_dirty_ratio;
        // Kafka's first uncleanable offset, fixed when the compaction starts: rounds clean the
        // segments sealed by then, so segments that producers seal meanwhile wait for the next
        // compaction instead of keeping this one going (and rewriting the log) for ever.
        let uncleanable = self.active_base_offset();
        for _ in 0..MAX_ROUNDS {
            let Some(round) =
                self.compact_round(options, now_ms, min_ratio, uncleanable, &mut budget)?
            else {
                break;
            };
            merge(&mut total, &round);
            // Later rounds finish the dirty section the first one started.
            min_ratio = None;
        }
        if total.rounds == 0 {
            return Ok(None);
        }
        total.duration = started.elapsed();
        Ok(Some(total))
    }

    /// The base offset of the active segment: every offset below it is in a sealed segment.
    fn active_base_offset(&self) -> u64 {
        let segments = self.segments.read().expect("segments lock poisoned");
        segments.keys().next_back().copied().unwrap_or(0)
    }

    /// The sealed segments that end at or before `end`, oldest first.
    fn sealed_segments(&self, end: u64) -> Vec<Arc<Segment>> {
        let segments = self.segments.read().expect("segments lock poisoned");
        let mut all: Vec<Arc<Segment>> = segments.values().cloned().collect();
        all.pop();
        all.retain(|s| s.next_offset() <= end);
        all
    }

    fn compact_round(
        &self,
        options: &CompactOptions,
        now_ms: i64,
        min_ratio: Option<f64>,
        uncleanable: u64,
        budget: &mut StepBudget,
    ) -> Result<Option<CompactionReport>, MaintenanceError> {
        let sealed = self.sealed_segments(uncleanable);
        let infos: Vec<SegmentInfo> = sealed
            .iter()
            .map(|s| SegmentInfo {
                base_offset: s.base_offset,
                next_offset: s.next_offset(),
                bytes: s.data_bytes(),
                max_timestamp_ms: s.max_timestamp(),
            })
            .collect();
        let first_dirty = self
            .read_checkpoint()?
            .max(self.start_offset.load(Ordering::Acquire));
        let Some(choice) = choose_cleaning(&infos, first_dirty, min_ratio) else {
            return Ok(None);
        };
        let mut map = OffsetMap::with_memory(options.offset_map_bytes, DEFAULT_LOAD_FACTOR);
        let throttle = options.io_throttle.as_deref();
        let map_end =
            self.fill_offset_map(&sealed, &choice.dirty, first_dirty, &mut map, throttle)?;
        // The pass takes its own handles of what it rewrites and lets go of them at the cap's
        // pace once swapped out; these must not keep the old files open past that.
        drop(sealed);
        if map_end <= first_dirty {
            return Err(MaintenanceError::Compaction {
                path: self.dir.clone(),
                reason: format!(
                    "the offset map ({} bytes, {} keys) cannot hold the keys of one batch; raise offset_map_bytes",
                    options.offset_map_bytes,
                    map.capacity()
                ),
            });
        }
        let rewrite: Vec<SegmentInfo> = choice
            .rewrite
            .iter()
            .copied()
            .filter(|s| s.base_offset < map_end)
            .collect();
        let mut report = CompactionReport {
            rounds: 1,
            keys: map.len() as u64,
            ..CompactionReport::default()
        };
        let cleaning = Cleaning {
            map: &map,
            map_end,
            now_ms,
            new_horizon_ms: new_delete_horizon_ms(now_ms, options.delete_retention_ms),
            max_batch_bytes: self.config.max_batch_bytes,
            throttle,
        };
        self.clean_pass(&rewrite, &cleaning, &mut report, budget)?;
        self.write_checkpoint(map_end)?;
        Ok(Some(report))
    }

    /// Puts the keys of the dirty segments into `map`, segment by segment, until it is full;
    /// returns the first offset not covered (records from there on are kept as they are).
    fn fill_offset_map(
        &self,
        sealed: &[Arc<Segment>],
        dirty: &[SegmentInfo],
        first_dirty: u64,
        map: &mut OffsetMap,
        throttle: Option<&IoThrottle>,
    ) -> Result<u64, MaintenanceError> {
        let mut map_end = first_dirty;
        for info in dirty {
            let Some(segment) = sealed.iter().find(|s| s.base_offset == info.base_offset) else {
                continue;
            };
            let mut full = false;
            self.for_each_batch(segment, |_, batch| {
                self.refuse_close_requested()?;
                pay(throttle, batch.len());
                let header =
                    BatchHeader::parse(batch).map_err(|source| self.corrupt(segment, source))?;
                for record in records(batch).map_err(|source| self.corrupt(segment, source))? {
                    let record = record.map_err(|source| self.corrupt(segment, source))?;
                    if let Some(key) = record.key
                        && record.offset as u64 >= first_dirty
                        && !map.put(key, record.offset as u64)
                    {
                        // Keys of this batch already put point at newer records that stay
                        // (everything from `map_end` on is kept), so stopping here is safe.
                        full = true;
                        return Ok(ControlFlow::Break(()));
                    }
                }
                map_end = map_end.max(header.last_offset() as u64 + 1);
                Ok::<_, MaintenanceError>(ControlFlow::Continue(()))
            })?;
            if full {
                break;
            }
        }
        Ok(map_end)
    }

    /// Rewrites the consecutive sealed segments `rewrite` into new cleaned segments, cut at
    /// `segment_bytes` as the write path rolls (so small cleaned segments merge), and swaps
    /// them all in with one commit (see [`crate::compaction::swap`]).
    fn clean_pass(
        &self,
        rewrite: &[SegmentInfo],
        cleaning: &Cleaning<'_>,
        report: &mut CompactionReport,
        budget: &mut StepBudget,
    ) -> Result<(), MaintenanceError> {
        let Some(first) = rewrite.first() else {
            return Ok(());
        };
        let olds: Vec<Arc<Segment>> = {
            let segments = self.segments.read().expect("segments lock poisoned");
            rewrite
                .iter()
                .filter_map(|info| segments.get(&info.base_offset).cloned())
                .collect()
        };
        if olds.len() != rewrite.len() {
            // Deleted meanwhile (the log is being closed or deleted): nothing to do.
            return Ok(());
        }
        let mut pass = PassOutput {
            log: self,
            throttle: cleaning.throttle,
            max_bytes: self.config.segment_bytes,
            staged: Vec::new(),
            current: None,
            closing: VecDeque::new(),
            syncs: VecDeque::new(),
        };
        pass.start(first.base_offset)?;
        let mut scratch = Vec::new();
        for old in &olds {
            report.bytes_before += old.data_bytes();
            self.for_each_batch(old, |_, batch| {
                self.refuse_close_requested()?;
                pay(cleaning.throttle, batch.len());
                scratch.clear();
                let header =
                    BatchHeader::parse(batch).map_err(|source| self.corrupt(old, source))?;
                let retain_tombstones = retains_tombstones(&header, cleaning.now_ms);
                let mut filter = |r: &RecordView<'_>| {
                    let keep = cleaning.keep(r, retain_tombstones);
                    if !keep && r.value.is_none() && cleaning.is_latest(r) {
                        report.tombstones_removed += 1;
                    }
                    keep
                };
                let stamp = cleaning.stamp(pass.position());
                let outcome = filter_batch(batch, &mut filter, Some(&stamp), &mut scratch)
                    .map_err(|source| self.corrupt(old, source))?;
                report.records_before += outcome.records_in as u64;
                report.records_after += outcome.records_kept as u64;
                report.delete_horizons_set += u64::from(outcome.horizon_stamped);
                if !scratch.is_empty() {
                    let header =
                        BatchHeader::parse(&scratch).map_err(|source| self.corrupt(old, source))?;
                    pass.push(&header, &scratch)?;
                }
                Ok::<_, MaintenanceError>(ControlFlow::Continue(()))
            })?;
        }
        let news = pass.finish()?;
        report.segments_before += olds.len();
        report.segments_after += news.len();
        report.bytes_after += news.iter().map(Segment::data_bytes).sum::<u64>();
        let manifest = PassManifest {
            old: olds.iter().map(|s| s.base_offset).collect(),
            new: news.iter().map(|s| s.base_offset).collect(),
        };
        let storage = self.shared.storage();
        let manifest_path = swap::staged_path(
            &self.dir,
            manifest.name_base(),
            swap::PASS_EXTENSION,
            CLEANED_SUFFIX,
        );
        swap::write_manifest(storage.as_ref(), &self.dir, &manifest)
            .map_err(|e| self.io("write", &manifest_path, e))?;
        self.swap_in(news, &olds, &manifest, &manifest_path, budget)?;
        // The old files are unlinked; their blocks are freed (and, on a filesystem mounted
        // with `discard`, discarded, a burst of I/O the size of the input) when their last
        // handle goes. With a cap, let go of them one by one at its pace, so that burst does
        // not stall the producers' writes either; a close lets go of the rest at once.
        for old in olds {
            let bytes = old.disk_bytes();
            drop(old);
            if self.close_requested.load(Ordering::Acquire) {
                continue;
            }
            pay(
                cleaning.throttle,
                usize::try_from(bytes).unwrap_or(usize::MAX),
            );
        }
        Ok(())
    }

    /// Commits the pass of `manifest` (staged at `path`) that replaces `olds` with `news` and
    /// serves it. From the commit point on the log serves the new segments even if a later step
    /// fails: the next open, or the next compaction (which starts with `swap::recover`),
    /// finishes that pass, so what the log serves never differs from what recovery makes of the
    /// files.
    fn swap_in(
        &self,
        news: Vec<Segment>,
        olds: &[Arc<Segment>],
        manifest: &PassManifest,
        path: &Path,
        budget: &mut StepBudget,
    ) -> Result<(), MaintenanceError> {
        let storage = self.shared.storage().as_ref();
        swap::commit_pass(storage, &self.dir, manifest, budget)
            .map_err(|e| self.io("swap in", path, e))?;
        // Committed. Without a mapping (mmap path) fetches fall back to read calls.
        let mut mapped = Ok(());
        if self.shared.uses_mmap() {
            for new in &news {
                let map = ringlog_sys::mmap::MapReader::open_read_only(&new.file);
                match map {
                    Ok(reader) => *new.map.write().expect("map lock poisoned") = Some(reader),
                    Err(e) => mapped = Err(e),
                }
            }
        }
        {
            let mut segments = self.segments.write().expect("segments lock poisoned");
            for old in olds {
                segments.remove(&old.base_offset);
            }
            for new in news {
                segments.insert(new.base_offset, Arc::new(new));
            }
        }
        for old in olds {
            self.shared.cache().remove_segment(self.id, old.id);
            self.read_ahead.forget_segment(old.id);
        }
        swap::complete_pass(storage, &self.dir, manifest, budget)
            .map_err(|e| self.io("swap in", path, e))?;
        mapped.map_err(|e| self.io("map", path, e))
    }

    fn read_checkpoint(&self) -> Result<u64, MaintenanceError> {
        let path = self.dir.join(CLEANER_CHECKPOINT_FILE);
        match self
            .shared
            .storage()
            .read_file(&path, MAX_CHECKPOINT_BYTES)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        {
            Ok(text) => text
                .trim()
                .parse()
                .map_err(|e| MaintenanceError::Compaction {
                    path: path.clone(),
                    reason: format!("the cleaner checkpoint is not an offset: {e}"),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(self.io("read", &path, e)),
        }
    }

    fn write_checkpoint(&self, first_dirty: u64) -> Result<(), MaintenanceError> {
        let path = self.dir.join(CLEANER_CHECKPOINT_FILE);
        let tmp = path.with_extension("tmp");
        let result = (|| {
            let storage = self.shared.storage();
            storage.write_file(&tmp, format!("{first_dirty}\n").as_bytes())?;
            storage.rename(&tmp, &path)?;
            self.shared.storage().sync_dir(&self.dir)
        })();
        result.map_err(|e| self.io("write", &path, e))
    }

    #[expect(
        clippy::unused_self,
        reason = "a method reads best at the call sites beside self.dir"
    )]
    fn io(&self, op: &'static str, path: &Path, source: std::io::Error) -> MaintenanceError {
        MaintenanceError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }

    #[expect(
        clippy::unused_self,
        reason = "a method reads best at the call sites beside self.io"
    )]
    fn corrupt(&self, segment: &Segment, source: crate::record::BatchError) -> MaintenanceError {
        MaintenanceError::Read(crate::error::ReadError::Corrupt {
            path: segment.log_path(),
            position: 0,
            source,
        })
    }
}

/// Pays `bytes` of compaction I/O to the throttle, if there is one (sleeping as it asks).
fn pay(throttle: Option<&IoThrottle>, bytes: usize) {
    if let Some(throttle) = throttle {
        throttle.acquire(bytes as u64);
    }
}

/// The rules of one round.
struct Cleaning<'a> {
    map: &'a OffsetMap,
    map_end: u64,
    /// The cleaner's clock: tombstones of a batch whose horizon it reached go.
    now_ms: i64,
    /// The horizon of a batch that keeps a tombstone and has none yet.
    new_horizon_ms: i64,
    /// The log's `max_batch_bytes`: no stamped batch grows past it (readers and recovery
    /// refuse larger ones).
    max_batch_bytes: usize,
    /// What caps the round's reads and writes, if anything.
    throttle: Option<&'a IoThrottle>,
}

impl Cleaning<'_> {
    /// Whether `record` is the latest of its key (or outside what the map covers).
    fn is_latest(&self, record: &RecordView<'_>) -> bool {
        let offset = record.offset as u64;
        if offset >= self.map_end {
            return true;
        }
        match record.key.and_then(|key| self.map.get(key)) {
            Some(latest) => offset >= latest,
            None => true,
        }
    }

    /// Kafka's `shouldRetainRecord`: the latest record of its key, and not a tombstone of a
    /// batch whose delete horizon has passed (`retain_tombstones` is false then). Records past
    /// the map's end are kept as they are.
    fn keep(&self, record: &RecordView<'_>, retain_tombstones: bool) -> bool {
        if record.offset as u64 >= self.map_end || record.key.is_none() {
            return true;
        }
        self.is_latest(record) && (record.value.is_some() || retain_tombstones)
    }

    /// The horizon stamp for a batch written at `position` of the cleaned segment: a stamped
    /// batch stays within `max_batch_bytes` and the segment within
    /// [`MAX_CLEANED_SEGMENT_BYTES`].
    fn stamp(&self, position: u64) -> HorizonStamp {
        let room = MAX_CLEANED_SEGMENT_BYTES.saturating_sub(position);
        HorizonStamp {
            delete_horizon_ms: self.new_horizon_ms,
            max_batch_bytes: self
                .max_batch_bytes
                .min(usize::try_from(room).unwrap_or(usize::MAX)),
        }
    }
}

/// The new segments of one pass: batches go into the open one until the next would take it
/// past `max_bytes` (a segment holds at least one batch) or past the offset span its index
/// can hold; then it is finished (data, indexes, all durable) and the next begins at that
/// batch's base offset. The first takes the pass's first base offset, even if it stays empty.
struct PassOutput<'a> {
    log: &'a LogInner,
    throttle: Option<&'a IoThrottle>,
    max_bytes: u64,
    staged: Vec<Segment>,
    current: Option<OpenOutput<'a>>,
    /// Segments whose last batch is written, their writes still in flight, oldest first: they
    /// are finished (writes drained, trimmed, synced) [`MAX_CLOSING_SEGMENTS`] segments later,
    /// so the writes of several files overlap (io_uring serializes the writes it hands to its
    /// workers per file).
    closing: VecDeque<OpenOutput<'a>>,
    /// The `fdatasync`s of staged files not yet known complete, oldest first, with their
    /// files' paths: all end before the pass's manifest is written.
    syncs: VecDeque<(PathBuf, PendingSync)>,
}

/// The new segment being written.
struct OpenOutput<'a> {
    segment: Segment,
    path: PathBuf,
    output: SegmentOutput<'a>,
    builder: IndexBuilder,
    next_offset: u64,
}

impl PassOutput<'_> {
    /// Opens a new segment at `base` (`B.log.cleaned`).
    fn start(&mut self, base: u64) -> Result<(), MaintenanceError> {
        let log = self.log;
        let storage = log.shared.storage();
        let path = swap::staged_path(&log.dir, base, LOG_EXTENSION, CLEANED_SUFFIX);
        let file = storage
            .open(&path, true)
            .map_err(|e| log.io("create", &path, e))?;
        // Preallocated, as the write path's segments: a direct write that extends a file is
        // handed to io_uring's workers and runs at about half the speed (the file is trimmed
        // to its data when finished).
        storage
            .allocate(&file, 0, self.max_bytes)
            .map_err(|e| log.io("fallocate", &path, e))?;
        self.current = Some(OpenOutput {
            output: SegmentOutput::new(
                storage.as_ref(),
                Arc::clone(&file),
                log.shared.pool(),
                log.config.max_writes_in_flight,
                self.throttle,
            ),
            segment: Segment::new(&log.dir, base, file),
            path,
            builder: IndexBuilder::new(log.config.index_interval_bytes),
            next_offset: base,
        });
        Ok(())
    }

    /// Position in the open segment where the next batch goes.
    fn position(&self) -> u64 {
        self.current.as_ref().map_or(0, |c| c.output.position())
    }

    /// Appends one cleaned batch, starting a new segment first when it does not fit.
    fn push(&mut self, header: &BatchHeader, batch: &[u8]) -> Result<(), MaintenanceError> {
        let fits = self.current.as_ref().is_some_and(|c| {
            !starts_new_segment(
                c.segment.base_offset,
                c.output.position(),
                batch.len() as u64,
                header.last_offset() as u64 + 1,
                self.max_bytes,
            )
        });
        if !fits {
            self.close_current()?;
            self.start(header.base_offset as u64)?;
        }
        let log = self.log;
        let current = self.current.as_mut().expect("a segment is open");
        let position = current.output.position();
        current.builder.on_batch(&current.segment, header, position);
        current.next_offset = header.last_offset() as u64 + 1;
        current
            .output
            .push(batch)
            .map_err(|e| log.io("write", &current.path, e))
    }

    /// Moves the open segment to the closing ones, finishing the oldest beyond
    /// [`MAX_CLOSING_SEGMENTS`].
    fn close_current(&mut self) -> Result<(), MaintenanceError> {
        if let Some(current) = self.current.take() {
            self.closing.push_back(current);
        }
        while self.closing.len() > MAX_CLOSING_SEGMENTS {
            self.finish_oldest()?;
        }
        Ok(())
    }

    /// Finishes the oldest closing segment: writes its data's end and its indexes (`.cleaned`
    /// names), starts their syncs and stages it.
    fn finish_oldest(&mut self) -> Result<(), MaintenanceError> {
        let Some(OpenOutput {
            segment,
            path,
            output,
            builder,
            next_offset,
        }) = self.closing.pop_front()
        else {
            return Ok(());
        };
        let log = self.log;
        let (bytes, sync) = output.finish().map_err(|(op, e)| log.io(op, &path, e))?;
        self.add_sync(path, sync)?;
        builder.push_time_entry(&segment);
        let base = segment.base_offset;
        let (index, time_index) = segment.encoded_indexes();
        for (extension, content) in [(INDEX_EXTENSION, index), (TIME_INDEX_EXTENSION, time_index)] {
            let path = swap::staged_path(&log.dir, base, extension, CLEANED_SUFFIX);
            self.write_small(path, &content)?;
        }
        segment.data_bytes.store(bytes, Ordering::Release);
        segment.disk_bytes.store(bytes, Ordering::Release);
        segment.next_offset.store(next_offset, Ordering::Release);
        segment.sealed.store(true, Ordering::Release);
        self.staged.push(segment);
        Ok(())
    }

    /// Writes the small file `path` whole through the same storage as the data (so its sync
    /// joins the others in flight instead of a blocking `fsync` per file).
    fn write_small(&mut self, path: PathBuf, content: &[u8]) -> Result<(), MaintenanceError> {
        let log = self.log;
        let storage = log.shared.storage();
        let file = storage
            .open(&path, true)
            .map_err(|e| log.io("create", &path, e))?;
        let mut output =
            SegmentOutput::new(storage.as_ref(), file, log.shared.pool(), 1, self.throttle);
        output
            .push(content)
            .map_err(|e| log.io("write", &path, e))?;
        let (_, sync) = output.finish().map_err(|(op, e)| log.io(op, &path, e))?;
        self.add_sync(path, sync)
    }

    /// Keeps `sync` in flight, waiting for the oldest ones beyond [`MAX_SYNCS_IN_FLIGHT`].
    fn add_sync(&mut self, path: PathBuf, sync: PendingSync) -> Result<(), MaintenanceError> {
        self.syncs.push_back((path, sync));
        while self.syncs.len() > MAX_SYNCS_IN_FLIGHT {
            self.wait_oldest_sync()?;
        }
        Ok(())
    }

    fn wait_oldest_sync(&mut self) -> Result<(), MaintenanceError> {
        match self.syncs.pop_front() {
            Some((path, sync)) => sync.wait().map_err(|e| self.log.io("fdatasync", &path, e)),
            None => Ok(()),
        }
    }

    /// Finishes the open segment; returns every new segment, oldest first.
    /// Every staged file is durable when this returns.
    fn finish(mut self) -> Result<Vec<Segment>, MaintenanceError> {
        self.close_current()?;
        while !self.closing.is_empty() {
            self.finish_oldest()?;
        }
        while !self.syncs.is_empty() {
            self.wait_oldest_sync()?;
        }
        Ok(std::mem::take(&mut self.staged))
    }
}

/// Writes a cleaned segment through the log's storage in aligned chunks, up to
/// `max_in_flight` of them at once (the log's `max_writes_in_flight`, as the write path), so
/// the cleaning of the next batches overlaps the disk's writes.
struct SegmentOutput<'a> {
    storage: &'a dyn Storage,
    file: Arc<std::fs::File>,
    pool: &'a Arc<BufferPool>,
    buf: PooledBuf,
    /// File position of `buf[0]`.
    flushed: u64,
    in_flight: VecDeque<PendingWrite>,
    max_in_flight: usize,
    throttle: Option<&'a IoThrottle>,
}

impl<'a> SegmentOutput<'a> {
    fn new(
        storage: &'a dyn Storage,
        file: Arc<std::fs::File>,
        pool: &'a Arc<BufferPool>,
        max_in_flight: usize,
        throttle: Option<&'a IoThrottle>,
    ) -> Self {
        SegmentOutput {
            storage,
            file,
            pool,
            buf: pool.get(),
            flushed: 0,
            in_flight: VecDeque::new(),
            max_in_flight: max_in_flight.max(1),
            throttle,
        }
    }

    fn position(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    fn push(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let take = (self.buf.capacity() - self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buf.len() == self.buf.capacity() {
                self.write_out()?;
            }
        }
        Ok(())
    }

    /// Writes the buffer (padded with zeros to a page) at its position.
    fn write_out(&mut self) -> std::io::Result<()> {
        let len = self.buf.len();
        let align = self.buf.align();
        let padded = len.div_ceil(align) * align;
        self.buf.full_mut()[len..padded].fill(0);
        self.buf.set_len(padded);
        pay(self.throttle, padded);
        let full = std::mem::replace(&mut self.buf, self.pool.get());
        let pending =
            self.storage
                .submit_write(&self.file, Bytes::from_owner(full), self.flushed)?;
        self.in_flight.push_back(pending);
        self.flushed += len as u64;
        while self.in_flight.len() > self.max_in_flight {
            self.wait_oldest()?;
        }
        Ok(())
    }

    fn wait_oldest(&mut self) -> std::io::Result<()> {
        self.in_flight
            .pop_front()
            .map_or(Ok(()), PendingWrite::wait)
    }

    /// Waits for every write in flight; the first failure, after all of them ended.
    fn drain(&mut self) -> std::io::Result<()> {
        let mut first = Ok(());
        while !self.in_flight.is_empty() {
            let result = self.wait_oldest();
            if first.is_ok() {
                first = result;
            }
        }
        first
    }

    /// Writes what is left, trims the file to its data and starts its `fdatasync`; returns its
    /// size and the sync to wait for, or the operation that failed and its error.
    fn finish(mut self) -> Result<(u64, PendingSync), (&'static str, std::io::Error)> {
        let total = self.position();
        let written = if self.buf.is_empty() {
            Ok(())
        } else {
            self.write_out()
        };
        // Every write ends before the file is trimmed and synced, also after a failure.
        let drained = self.drain();
        written.and(drained).map_err(|e| ("write", e))?;
        self.storage
            .set_len(&self.file, total)
            .map_err(|e| ("truncate", e))?;
        let sync = self
            .storage
            .submit_sync_data(&self.file)
            .map_err(|e| ("fdatasync", e))?;
        Ok((total, sync))
    }
}
