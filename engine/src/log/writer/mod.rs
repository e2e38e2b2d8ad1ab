//! The write path of a partition log.
//!
//! Appends copy batches, encoded before the writer lock is taken (see `Log::append`), into the
//! *tail*: an aligned chunk that mirrors the active
//! segment's file from `tail_pos` (a page boundary). When the tail fills it is *frozen* into an
//! immutable [`Bytes`], handed to the read cache and queued for one direct write; a new tail
//! starts with a copy of the partial last page, which the next write rewrites (in order:
//! a write never starts while an earlier write of the same page is in flight).
//!
//! One thread at a time holds the *flusher role* (`Writer::flushing`): it submits queued writes,
//! waits for completions and runs `fdatasync`, with the writer lock released while it waits,
//! so other threads keep appending meanwhile. Appenders that need durability wait on a condvar
//! until the offsets they need are written or synced; the next flusher covers everything
//! appended meanwhile in one write and one `fdatasync` (group commit). Each write carries the
//! offsets of the batches that end inside it (`Writer::batch_ends`), so a pipelined producer's
//! oldest append is acknowledged by its own chunk's write, and under `Sync` on io_uring its
//! submits start syncs early, while it goes on (`early_sync.rs`).
//!
//! The parts: `tail.rs` (the chunk, freezing, the partial last page), `flush.rs` (the flusher
//! role, writes in flight, `fdatasync`, the background flusher's work), `early_sync.rs` (syncs
//! submitted by pipelined appends), `group.rs` (gathering for group commit), `roll.rs` (segment
//! roll, sealing, preallocation) and `mapped.rs` (the mmap path's variant of both).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::Instant;

use bytes::Bytes;

use crate::buffer_pool::PooledBuf;
use crate::config::Durability;
use crate::error::AppendError;
use crate::io::PendingWrite;
use crate::record::{BatchError, BatchHeader};
use crate::segment::{IndexBuilder, Segment};

use super::LogInner;
use roll::roll_clock_of_recovered;

mod early_sync;
mod flush;
mod group;
mod mapped;
pub(crate) use mapped::Mapped;
mod roll;
mod tail;

/// A frozen range of the active segment waiting to be written.
pub(super) struct Queued {
    /// Page-aligned file position of `bytes[0]`.
    start: u64,
    /// The bytes to write, padded with zeros to a page boundary.
    bytes: Bytes,
    /// Exact end of valid data this write carries.
    data_end: u64,
    /// Offsets below this are carried by this write and the ones before it.
    offset_end: u64,
}

/// A write in flight.
pub(super) struct InFlight {
    pending: PendingWrite,
    padded_end: u64,
    data_end: u64,
    offset_end: u64,
}

/// The mutable state of the write path, under `LogInner::writer`.
pub(crate) struct Writer {
    pub active: Arc<Segment>,
    /// The chunk appends go into; `None` while idle (its buffer went back to the pool).
    tail: Option<PooledBuf>,
    /// Page-aligned file position of `tail[0]`.
    tail_pos: u64,
    /// The partial last page of the active segment while there is no tail (its file position
    /// and bytes): copied when the tail goes idle and read at open, so that the next tail
    /// starts from it without reading the disk under the writer lock.
    last_page: Option<(u64, Bytes)>,
    /// Capacity the next tail asks for: doubles each time a tail fills (a busy log writes
    /// larger chunks), up to the pool's largest class; back to the smallest when the tail goes
    /// idle. 0 means the pool's smallest.
    chunk_bytes: usize,
    /// Exact end of valid data in the active segment.
    pub end_pos: u64,
    /// Data below this position has been queued or submitted for writing.
    queued_pos: u64,
    /// Ends of appended batches that no queued write carries whole yet, as (end position,
    /// next offset), one per page (of a batch ending in the same page as the one before, only
    /// the later is kept): a write completes the offsets of the batches that end at or before
    /// its data's end (see [`Writer::take_batch_ends`]).
    batch_ends: VecDeque<(u64, u64)>,
    /// Offsets below this are carried by the writes queued or submitted so far: a flush for
    /// durability copies the tail for a write only when they do not cover its offset.
    queued_offset: u64,
    /// Frozen ranges not submitted yet, in file order.
    queue: VecDeque<Queued>,
    /// Submitted writes, in file order.
    in_flight: VecDeque<InFlight>,
    /// An `fdatasync` submitted early, while appends went on (see `early_sync.rs`).
    sync_in_flight: Option<early_sync::InFlightSync>,
    /// Frozen ranges whose writes have not completed yet: readers find their bytes here.
    pub unwritten: VecDeque<(u64, Bytes)>,
    /// Bytes of the ranges in `unwritten`: under `Durability::None` appenders wait once this
    /// exceeds the buffer pool's budget (see [`LogInner::append_encoded`]).
    unwritten_bytes: usize,
    /// One thread holds the flusher role at a time.
    flushing: bool,
    /// A roll is settling and sealing the active segment: appends wait (on
    /// `LogInner::flushed`) until it is done, so the settling converges.
    rolling: bool,
    /// What the flusher role gathers before a durability round (see `group.rs`).
    group: group::GroupCommit,
    /// File size after preallocation.
    pub allocated_bytes: u64,
    pub next_offset: u64,
    /// Offsets below this are written to disk.
    pub written_offset: u64,
    /// Offsets below this are written and `fdatasync`ed.
    pub synced_offset: u64,
    pub builder: IndexBuilder,
    /// When unwritten data was first appended (for the flush interval).
    pub dirty_since: Option<Instant>,
    /// When data not yet `fdatasync`ed was first appended: under `Durability::Sync` the
    /// background flusher syncs it once the flush interval passed, so appends whose handles
    /// were dropped become durable (and visible) without another append.
    unsynced_since: Option<Instant>,
    /// When the last batch was appended: the tail goes back once this is old enough.
    last_append: Option<Instant>,
    /// Wall-clock ms since the epoch from which the active segment's age counts for
    /// `segment_ms` (see [`roll::roll_clock_of_recovered`]); `None` while it holds no batch.
    roll_clock_ms: Option<i64>,
    pub closed: bool,
    /// On the mmap path, the active segment's mapping: appends are copied straight into it
    /// (see `mapped.rs`); `None` on the direct-write paths.
    pub mapped: Option<Mapped>,
}

/// How far a flush must go.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Level {
    /// Submit what is queued; wait only where ordering or the in-flight limit requires. One
    /// round, bounded by what was queued when it started.
    Submit,
    /// Backpressure: the unwritten bytes are within the budget passed as `offset` to
    /// [`LogInner::flush_to`] (the oldest writes complete until they are).
    WithinBudget,
    /// The offsets below the one passed to [`LogInner::flush_to`] are written.
    Written,
    /// The offsets below the one passed to [`LogInner::flush_to`] are written and
    /// `fdatasync`ed.
    Synced,
}

impl Level {
    pub fn for_durability(durability: Durability) -> Option<Level> {
        match durability {
            Durability::None => None,
            Durability::Write => Some(Level::Written),
            Durability::Sync => Some(Level::Synced),
        }
    }
}

type Guard<'a> = MutexGuard<'a, Writer>;

impl Writer {
    /// Writer state for `active`, whose valid data ends at `end_pos` and is all on disk.
    pub fn new(
        active: Arc<Segment>,
        end_pos: u64,
        allocated_bytes: u64,
        next_offset: u64,
        builder: IndexBuilder,
    ) -> Self {
        let roll_clock_ms = (end_pos > 0).then(|| roll_clock_of_recovered(&active));
        Writer {
            active,
            tail: None,
            last_page: None,
            tail_pos: 0,
            chunk_bytes: 0,
            end_pos,
            queued_pos: end_pos,
            batch_ends: VecDeque::new(),
            queued_offset: next_offset,
            queue: VecDeque::new(),
            in_flight: VecDeque::new(),
            sync_in_flight: None,
            unwritten: VecDeque::new(),
            unwritten_bytes: 0,
            flushing: false,
            rolling: false,
            group: group::GroupCommit::default(),
            allocated_bytes,
            next_offset,
            written_offset: next_offset,
            synced_offset: next_offset,
            builder,
            dirty_since: None,
            unsynced_since: None,
            last_append: None,
            roll_clock_ms,
            closed: false,
            mapped: None,
        }
    }

    fn satisfied(&self, level: Level, offset: u64) -> bool {
        match level {
            Level::Submit => self.queue.is_empty(),
            Level::WithinBudget => self.unwritten_bytes as u64 <= offset,
            Level::Written => self.written_offset >= offset,
            Level::Synced => self.synced_offset >= offset,
        }
    }
}

impl LogInner {
    /// Raises the high watermark to what reached the log's durability (`written_offset` under
    /// `Write`, `synced_offset` under `Sync`). Called under the writer lock wherever either
    /// grows; the Release store pairs with the Acquire load of fetches, which read the bytes
    /// below it (published earlier by `data_bytes`) only after seeing it.
    fn publish_durable(&self, w: &Writer) {
        let durable = match self.config.durability {
            Durability::None => return,
            Durability::Write => w.written_offset,
            Durability::Sync => w.synced_offset,
        };
        self.durable_offset.fetch_max(durable, Ordering::Release);
        self.waiters.wake_covered(durable);
    }

    /// The high watermark: see [`crate::Log::high_watermark`].
    pub(super) fn high_watermark(&self) -> u64 {
        match self.config.durability {
            Durability::None => self.next_offset.load(Ordering::Acquire),
            Durability::Write | Durability::Sync => self.durable_offset.load(Ordering::Acquire),
        }
    }

    /// Appends one batch of `total_bytes` covering `offset_count` offsets, encoded in place by
    /// `encode(dst, base_offset)`, and waits as the log's durability asks.
    pub(crate) fn append_encoded(
        &self,
        total_bytes: usize,
        offset_count: u64,
        encode: impl FnOnce(&mut [u8], u64) -> Result<BatchHeader, BatchError>,
    ) -> Result<(u64, u64), AppendError> {
        let (w, base, last) = self.encode_into_tail(total_bytes, offset_count, encode)?;
        match Level::for_durability(self.config.durability) {
            Some(level) => drop(self.flush_to(w, level, last + 1)?),
            None => self.submit_ready(w)?,
        }
        Ok((base, last))
    }

    /// The first half of a pipelined append (see [`crate::AppendHandle`]): encodes the batch
    /// as [`LogInner::append_encoded`] does and submits the chunks that filled, without
    /// waiting for durability. Returns the offsets assigned.
    pub(crate) fn submit_encoded(
        &self,
        total_bytes: usize,
        offset_count: u64,
        encode: impl FnOnce(&mut [u8], u64) -> Result<BatchHeader, BatchError>,
    ) -> Result<(u64, u64), AppendError> {
        let (w, base, last) = self.encode_into_tail(total_bytes, offset_count, encode)?;
        self.submit_ready(w)?;
        Ok((base, last))
    }

    /// After an append that does not wait for durability: submits the chunks that filled
    /// unless a flusher runs (it submits them), starts an early sync where one helps (see
    /// `early_sync.rs`), and applies backpressure.
    fn submit_ready(&self, mut w: Guard<'_>) -> Result<(), AppendError> {
        if self.start_syncs(&mut w).is_err() {
            // An earlier write or sync failed and poisoned the log: this append is placed but
            // never becomes durable, and its handle reports the failure, as every handle the
            // failure covers does.
            return Ok(());
        }
        let limit = self.unwritten_limit();
        match () {
            // Backpressure: while another thread holds the flusher role (waiting for a slow
            // `fdatasync`, say), or while producers append faster than the disk writes, full
            // chunks would pile up here without limit. Past the unwritten limit the appender
            // waits until the oldest writes completed and the unwritten bytes are within it
            // again: a wait of about one write, not of everything appended.
            () if w.unwritten_bytes > limit => {
                drop(self.flush_to(w, Level::WithinBudget, limit as u64)?);
            }
            () if !w.queue.is_empty() && !w.flushing => {
                drop(self.flush_to(w, Level::Submit, 0)?);
            }
            () => drop(w),
        }
        Ok(())
    }

    /// The most bytes of frozen, unwritten chunks a log keeps before appenders wait for
    /// writes to complete: enough to keep `max_writes_in_flight` of the largest writes in
    /// flight four times over, within the pool's budget. More would only add memory and the
    /// latency of writing the backlog at a roll, flush or close; the disk is kept busy either
    /// way.
    pub(super) fn unwritten_limit(&self) -> usize {
        let pool = self.shared.pool();
        let keeps_disk_busy = 4 * self.config.max_writes_in_flight * pool.max_buffer_bytes();
        keeps_disk_busy.min(pool.budget_bytes())
    }

    /// Checks, reserves room for and encodes one batch into the tail (or the mapping) and
    /// publishes it; returns the writer lock still held and the batch's first and last offset.
    fn encode_into_tail(
        &self,
        total_bytes: usize,
        offset_count: u64,
        encode: impl FnOnce(&mut [u8], u64) -> Result<BatchHeader, BatchError>,
    ) -> Result<(Guard<'_>, u64, u64), AppendError> {
        if total_bytes > self.config.max_batch_bytes {
            return Err(AppendError::TooLarge {
                bytes: total_bytes,
                max: self.config.max_batch_bytes,
            });
        }
        let mut w = self.lock_writer();
        self.check_writable(&w)?;
        while w.rolling {
            w = self.flushed.wait(w).expect("writer lock poisoned");
            self.check_writable(&w)?;
        }
        let base = w.next_offset;
        if base
            .checked_add(offset_count)
            .is_none_or(|end| end > i64::MAX as u64)
        {
            return Err(AppendError::OffsetOverflow {
                next_offset: base,
                records: offset_count as usize,
            });
        }
        if self.needs_roll(&w, total_bytes) {
            w = self.roll(w, total_bytes)?;
        }
        let base = w.next_offset;
        let header = if w.mapped.is_some() {
            self.place_mapped(&mut w, total_bytes, base, encode)?
        } else {
            self.place_in_tail(&mut w, total_bytes, base, encode)?
        };
        assert_eq!(
            header.total_bytes(),
            total_bytes,
            "encoded batch size differs from its reservation"
        );
        let position = w.end_pos;
        if position == 0 {
            w.roll_clock_ms = Some(super::now_ms());
        }
        let active = Arc::clone(&w.active);
        w.builder.on_batch(&active, &header, position);
        w.end_pos += total_bytes as u64;
        w.next_offset = base + offset_count;
        active.next_offset.store(w.next_offset, Ordering::Release);
        active.data_bytes.store(w.end_pos, Ordering::Release);
        self.next_offset.store(w.next_offset, Ordering::Release);
        if w.mapped.is_some() {
            self.written_mapped(&mut w);
        } else {
            let align = self.shared.align() as u64;
            w.push_batch_end(align);
        }
        if w.group.on_append() {
            self.appended.notify_one();
        }
        let now = Instant::now();
        w.dirty_since.get_or_insert(now);
        w.unsynced_since.get_or_insert(now);
        w.last_append = Some(now);
        let last = base + offset_count - 1;
        Ok((w, base, last))
    }
}

impl LogInner {
    /// Whether appends may go on: not closed, not poisoned.
    fn check_writable(&self, w: &Writer) -> Result<(), AppendError> {
        if w.closed {
            return Err(AppendError::Closed);
        }
        self.checked.check()
    }
}
