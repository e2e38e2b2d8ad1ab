//! The write path of a partition log.
//!
//! Appends encode batches straight into the *tail*: an aligned chunk that mirrors the active
//! segment's file from `tail_pos` (a page boundary). When the tail fills it is *frozen* into an
//! immutable [`Bytes`], handed to the read cache and queued for one direct write; a new tail
//! starts with a copy of the partial last page, which the next write rewrites (in order:
//! a write never starts while an earlier write of the same page is in flight).
//!
//! One thread at a time holds the *flusher role* (`Writer::flushing`): it submits queued writes,
//! waits for completions and runs `fdatasync`, with the writer lock released while it waits,
//! so other threads keep appending meanwhile. Appenders that need durability wait on a condvar
//! until the offsets they need are written or synced; the next flusher covers everything
//! appended meanwhile in one write and one `fdatasync` (group commit).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::buffer_pool::PooledBuf;
use crate::config::{DEFAULT_FLUSH_INTERVAL_MS, Durability};
use crate::error::{AppendError, ReadError};
use crate::io::{PendingWrite, read_at_least};
use crate::record::{BatchError, BatchHeader};
use crate::segment::{IndexBuilder, Segment};
use ringlog_sys::mmap::{MapReader, MapWriter};

use super::LogInner;

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
    /// Exact end of valid data in the active segment.
    pub end_pos: u64,
    /// Data below this position has been queued or submitted for writing.
    queued_pos: u64,
    /// Frozen ranges not submitted yet, in file order.
    queue: VecDeque<Queued>,
    /// Submitted writes, in file order.
    in_flight: VecDeque<InFlight>,
    /// Frozen ranges whose writes have not completed yet: readers find their bytes here.
    pub unwritten: VecDeque<(u64, Bytes)>,
    /// Bytes of the ranges in `unwritten`: under `Durability::None` appenders wait once this
    /// exceeds the buffer pool's budget (see [`LogInner::append_encoded`]).
    unwritten_bytes: usize,
    /// One thread holds the flusher role at a time.
    flushing: bool,
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
    /// When the last batch was appended: the tail goes back once this is old enough.
    last_append: Option<Instant>,
    /// Wall-clock ms since the epoch from which the active segment's age counts for
    /// `segment_ms` (see [`roll_clock_of_recovered`]); `None` while it holds no batch.
    roll_clock_ms: Option<i64>,
    pub closed: bool,
    /// On the mmap path, the active segment's mapping: appends are encoded straight into it.
    pub map: Option<MapWriter>,
    /// On the mmap path, bytes below this were `msync`ed.
    pub map_synced_pos: u64,
}

/// How far a flush must go.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Level {
    /// Submit what is queued; wait only where ordering or the in-flight limit requires.
    Submit,
    /// Everything appended is written.
    Written,
    /// Everything appended is written and `fdatasync`ed.
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
            tail_pos: 0,
            end_pos,
            queued_pos: end_pos,
            queue: VecDeque::new(),
            in_flight: VecDeque::new(),
            unwritten: VecDeque::new(),
            unwritten_bytes: 0,
            flushing: false,
            allocated_bytes,
            next_offset,
            written_offset: next_offset,
            synced_offset: next_offset,
            builder,
            dirty_since: None,
            last_append: None,
            roll_clock_ms,
            closed: false,
            map: None,
            map_synced_pos: end_pos,
        }
    }

    /// The tail's bytes `[pos, pos + len)` clipped to the data, if the tail holds `pos`.
    pub fn tail_bytes(&self, pos: u64, len: usize) -> Option<Bytes> {
        let tail = self.tail.as_ref()?;
        if pos < self.tail_pos || pos >= self.end_pos {
            return None;
        }
        let from = (pos - self.tail_pos) as usize;
        let to = (from + len).min(tail.len());
        Some(Bytes::copy_from_slice(&tail.as_slice()[from..to]))
    }

    /// Whether the tail can go back: nobody flushes, everything appended is written (so
    /// freezing it queues nothing), and nothing was appended for `idle_after`. Data appended
    /// under `Durability::None` with no flush interval is written only when a chunk fills, on
    /// flush and at close, so such a tail stays until then.
    fn tail_is_idle(&self, idle_after: Duration) -> bool {
        self.tail.is_some()
            && !self.flushing
            && self.queue.is_empty()
            && self.in_flight.is_empty()
            && self.queued_pos >= self.end_pos
            && self.written_offset >= self.next_offset
            && self.last_append.is_none_or(|at| at.elapsed() >= idle_after)
    }

    fn satisfied(&self, level: Level, offset: u64) -> bool {
        match level {
            Level::Submit => self.queue.is_empty(),
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
    /// unless a flusher runs (it submits them), and applies backpressure.
    fn submit_ready(&self, w: Guard<'_>) -> Result<(), AppendError> {
        match () {
            // Backpressure: while another thread holds the flusher role (waiting for a slow
            // `fdatasync`, say), or while a producer keeps appends in flight without waiting,
            // full chunks would pile up here without limit. Past the pool's budget the
            // appender waits until everything appended is written: for the flusher's round to
            // end, then for its own writes.
            () if w.unwritten_bytes > self.shared.pool().budget_bytes() => {
                let next = w.next_offset;
                drop(self.flush_to(w, Level::Written, next)?);
            }
            () if !w.queue.is_empty() && !w.flushing => {
                drop(self.flush_to(w, Level::Submit, 0)?);
            }
            () => drop(w),
        }
        Ok(())
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
        let header = if w.map.is_some() {
            self.reserve_mapped(&mut w, total_bytes)?;
            let end_pos = w.end_pos as usize;
            let map = w.map.as_mut().expect("checked above");
            let header = encode(map.unpublished_mut(end_pos, total_bytes), base)?;
            map.publish(end_pos + total_bytes);
            header
        } else {
            self.reserve_tail(&mut w, total_bytes)?;
            let w = &mut *w;
            let tail = w.tail.as_mut().expect("reserve_tail leaves a tail");
            let from = tail.len();
            let header = encode(&mut tail.full_mut()[from..from + total_bytes], base)?;
            tail.set_len(from + total_bytes);
            header
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
        if w.map.is_some() {
            // In the page cache: as safe as a completed write.
            w.written_offset = w.next_offset;
            self.publish_durable(&w);
            w.queued_pos = w.end_pos;
            active.disk_bytes.store(w.end_pos, Ordering::Release);
        }
        let now = Instant::now();
        w.dirty_since.get_or_insert(now);
        w.last_append = Some(now);
        let last = base + offset_count - 1;
        Ok((w, base, last))
    }

    /// On the mmap path: makes sure the file backs `bytes` more after the end (preallocating in
    /// steps, as for direct writes) and tells the mapping.
    fn reserve_mapped(&self, w: &mut Guard<'_>, bytes: usize) -> Result<(), AppendError> {
        let end = w.end_pos + bytes as u64;
        self.preallocate(w, end)?;
        let allocated = w.allocated_bytes as usize;
        let map = w.map.as_mut().expect("mmap path");
        if map.backed_len() < allocated
            && let Err(source) = map.set_backed_len(allocated)
        {
            return Err(self.checked.fail("map", w.active.log_path(), source));
        }
        Ok(())
    }

    /// Makes sure the tail has room for `bytes` more, freezing a full tail first.
    fn reserve_tail(&self, w: &mut Guard<'_>, bytes: usize) -> Result<(), AppendError> {
        if w.tail
            .as_ref()
            .is_some_and(|tail| tail.capacity() - tail.len() >= bytes)
        {
            return Ok(());
        }
        let old_pos = w.tail_pos;
        let old = self.freeze_tail(w);
        let align = self.shared.align() as u64;
        let tail_pos = w.end_pos / align * align;
        let carried = (w.end_pos - tail_pos) as usize;
        let mut tail = self.shared.pool().get_at_least(carried + bytes);
        if carried > 0 {
            match old {
                Some(old) => {
                    let from = (tail_pos - old_pos) as usize;
                    tail.extend_from_slice(&old[from..from + carried]);
                }
                None => tail.extend_from_slice(&self.page_from_disk(w, tail_pos, carried)?),
            }
        }
        w.tail = Some(tail);
        w.tail_pos = tail_pos;
        Ok(())
    }

    /// The `len` bytes of the active segment at page `tail_pos`, read back from disk for a new
    /// tail when there was none (after reopening, or after the tail went idle, both of which
    /// leave everything on disk).
    fn page_from_disk(
        &self,
        w: &Guard<'_>,
        tail_pos: u64,
        len: usize,
    ) -> Result<Bytes, AppendError> {
        assert!(
            w.active.disk_bytes() >= tail_pos + len as u64,
            "the last page is not on disk"
        );
        // Everything is on disk (the tail went idle after a flush, or the log was reopened).
        let active = &w.active;
        let pool = self.shared.pool();
        let mut buf = pool.get();
        let aligned = buf.take();
        let storage = self.shared.storage().as_ref();
        let (result, aligned) =
            read_at_least(storage, &active.file, aligned, tail_pos, pool.align(), len);
        buf.restore(aligned);
        // A failed read changes nothing (the tail is not replaced): not a reason to poison.
        let failed = |source| {
            AppendError::Read(ReadError::Io {
                op: "read the last page of",
                path: active.log_path(),
                source,
            })
        };
        match result {
            Ok(n) => {
                assert!(
                    n >= len,
                    "read_at_least returned {n} of the {len} bytes it needed"
                );
                Ok(Bytes::copy_from_slice(&buf.as_slice()[..len]))
            }
            Err(source) => Err(failed(source)),
        }
    }

    /// Freezes the tail into shared bytes for the read cache and for readers, and queues its
    /// whole pages not queued yet for one write. The partial last page is not written here:
    /// the next tail carries it and a later write writes it, so frozen writes never overlap
    /// and several can be in flight. Returns the frozen bytes.
    pub(crate) fn freeze_tail(&self, w: &mut Guard<'_>) -> Option<Bytes> {
        let tail = w.tail.take()?;
        let align = self.shared.align() as u64;
        let tail_pos = w.tail_pos;
        let buffer_bytes = tail.capacity();
        let frozen = Bytes::from_owner(tail);
        self.shared.cache().insert_from_buffer(
            self.id,
            w.active.id,
            tail_pos,
            &frozen,
            buffer_bytes,
        );
        if w.active.disk_bytes() < w.end_pos {
            w.unwritten_bytes += frozen.len();
            w.unwritten.push_back((tail_pos, frozen.clone()));
        }
        let start = w.queued_pos / align * align;
        let end = w.end_pos / align * align;
        if w.queued_pos < end {
            let from = (start - tail_pos) as usize;
            let to = (end - tail_pos) as usize;
            w.queue.push_back(Queued {
                start,
                bytes: frozen.slice(from..to),
                data_end: end,
                // The batch that straddles `end` is not carried whole, so this write does not
                // by itself complete any offset; flushes for durability queue the rest.
                offset_end: 0,
            });
            w.queued_pos = end;
        }
        Some(frozen)
    }

    /// Queues a copy of the tail's unqueued bytes (the tail stays, appends continue into it).
    fn queue_tail_copy(&self, w: &mut Guard<'_>) {
        if w.queued_pos >= w.end_pos {
            return;
        }
        let Some(tail) = w.tail.as_ref() else {
            unreachable!("unqueued data lives in the tail")
        };
        let align = self.shared.align();
        let start = w.queued_pos / align as u64 * align as u64;
        let from = (start - w.tail_pos) as usize;
        let data_len = tail.len() - from;
        let padded = data_len.div_ceil(align) * align;
        let mut copy = self.shared.pool().get_at_least(padded);
        copy.extend_from_slice(&tail.as_slice()[from..]);
        copy.set_len(padded);
        copy.as_mut_slice()[data_len..].fill(0);
        let (data_end, offset_end) = (w.end_pos, w.next_offset);
        w.queue.push_back(Queued {
            start,
            bytes: Bytes::from_owner(copy),
            data_end,
            offset_end,
        });
        w.queued_pos = w.end_pos;
    }

    /// Waits until offsets below `offset` reach `level` (or, for [`Level::Submit`], until the
    /// queue is submitted), becoming the flusher when nobody else is.
    pub(crate) fn flush_to<'a>(
        &'a self,
        mut w: Guard<'a>,
        level: Level,
        offset: u64,
    ) -> Result<Guard<'a>, AppendError> {
        loop {
            self.checked.check()?;
            if w.satisfied(level, offset) {
                return Ok(w);
            }
            // Only an abandoned log is closed with offsets unsatisfied (a close settles first):
            // nothing of it may write again.
            if w.closed {
                return Err(AppendError::Closed);
            }
            if !w.flushing {
                break;
            }
            w = self.flushed.wait(w).expect("writer lock poisoned");
        }
        w.flushing = true;
        let (mut w, result) = self.flush_round(w, level);
        w.flushing = false;
        self.flushed.notify_all();
        if result.is_err() || self.checked.poisoned().is_some() {
            // The log is poisoned (by this round, or by a failure elsewhere while it ran):
            // pending append futures resolve now, to what this round made durable or to the
            // error.
            self.waiters.wake_all();
        }
        result.map(|()| w)
    }

    /// On a poisoned log, waits for the flush round still running: its write or sync may have
    /// begun before the failure and still succeed, so what is durable is final only once it
    /// ended (no round starts on a poisoned log).
    pub(crate) fn wait_for_round_after_failure(&self) {
        let mut w = self.lock_writer();
        while w.flushing {
            w = self.flushed.wait(w).expect("writer lock poisoned");
        }
    }

    /// The future form of [`LogInner::wait_for_round_after_failure`]: while a round runs,
    /// registers `waker` for `offset` and returns true. Under the writer lock, so the round's
    /// end (which wakes every future of a poisoned log) cannot be missed.
    pub(crate) fn register_if_round_running(&self, offset: u64, waker: &std::task::Waker) -> bool {
        let w = self.lock_writer();
        if w.flushing {
            self.waiters.register(offset, waker);
        }
        w.flushing
    }

    /// One round of the flusher role: queue the tail if `level` needs it, submit the queue, and
    /// wait for writes and `fdatasync` as `level` asks. The lock is released while waiting.
    fn flush_round<'a>(
        &'a self,
        mut w: Guard<'a>,
        level: Level,
    ) -> (Guard<'a>, Result<(), AppendError>) {
        if w.map.is_some() {
            return self.sync_mapped(w, level);
        }
        if level >= Level::Written {
            self.queue_tail_copy(&mut w);
        }
        let (mut w, result) = self.submit_queue(w);
        if result.is_err() || level == Level::Submit {
            return (w, result);
        }
        let (guard, result) = self.complete_in_flight(w, 0);
        w = guard;
        if let Err(e) = result {
            return (w, Err(e));
        }
        if level == Level::Synced && w.synced_offset < w.written_offset {
            let active = Arc::clone(&w.active);
            let written = w.written_offset;
            drop(w);
            let result = self.checked.sync_data(&active);
            w = self.lock_writer();
            if let Err(e) = result {
                return (w, Err(e));
            }
            w.synced_offset = w.synced_offset.max(written);
            self.publish_durable(&w);
        }
        (w, Ok(()))
    }

    /// The mmap path's flush: appends are in the page cache as they happen; `Synced` `msync`s
    /// what was appended since the last sync, with the lock released meanwhile (group commit,
    /// as for direct writes).
    fn sync_mapped<'a>(
        &'a self,
        mut w: Guard<'a>,
        level: Level,
    ) -> (Guard<'a>, Result<(), AppendError>) {
        if level < Level::Synced || w.synced_offset >= w.next_offset {
            return (w, Ok(()));
        }
        let reader: MapReader = w.map.as_ref().expect("mmap path").reader();
        let (from, to, target) = (w.map_synced_pos, w.end_pos, w.next_offset);
        let active = Arc::clone(&w.active);
        drop(w);
        let result =
            self.checked
                .sync_mapped(&active, &reader, from as usize, (to - from) as usize);
        w = self.lock_writer();
        if let Err(e) = result {
            return (w, Err(e));
        }
        w.synced_offset = w.synced_offset.max(target);
        self.publish_durable(&w);
        w.map_synced_pos = w.map_synced_pos.max(to);
        (w, Ok(()))
    }

    /// Submits every queued write in order, preallocating ahead of them, and waiting first for
    /// an in-flight write of the same page or when too many writes are in flight.
    fn submit_queue<'a>(&'a self, mut w: Guard<'a>) -> (Guard<'a>, Result<(), AppendError>) {
        while let Some(next) = w.queue.front() {
            let start = next.start;
            let overlaps = w
                .in_flight
                .back()
                .is_some_and(|last| last.padded_end > start);
            let keep = if overlaps {
                0
            } else {
                self.config.max_writes_in_flight - 1
            };
            if w.in_flight.len() > keep {
                let (guard, result) = self.complete_in_flight(w, keep);
                w = guard;
                if result.is_err() {
                    return (w, result);
                }
                continue;
            }
            let queued = w.queue.pop_front().expect("front exists");
            let padded_end = queued.start + queued.bytes.len() as u64;
            if let Err(e) = self.preallocate(&mut w, padded_end) {
                return (w, Err(e));
            }
            let active = Arc::clone(&w.active);
            match self
                .checked
                .submit_write(&active, queued.bytes, queued.start)
            {
                Ok(pending) => w.in_flight.push_back(InFlight {
                    pending,
                    padded_end,
                    data_end: queued.data_end,
                    offset_end: queued.offset_end,
                }),
                Err(e) => return (w, Err(e)),
            }
        }
        (w, Ok(()))
    }

    /// On a poisoned log, waits for the writes still in flight (their results no longer
    /// matter): after a failed write the flusher stops waiting for the ones behind it, and
    /// they must not land in the files after the log is closed and reopened.
    pub(crate) fn drain_failed_writes<'a>(&'a self, mut w: Guard<'a>) -> Guard<'a> {
        while self.checked.poisoned().is_some() && w.flushing {
            w = self.flushed.wait(w).expect("writer lock poisoned");
        }
        if self.checked.poisoned().is_none() || w.in_flight.is_empty() {
            return w;
        }
        let pending = std::mem::take(&mut w.in_flight);
        drop(w);
        for write in pending {
            let _ = write.pending.wait();
        }
        self.lock_writer()
    }

    /// For [`crate::Log::abandon`]: closes the log without flushing, lets a flusher in its
    /// round finish it, and waits for the writes still in flight, so that nothing of this log
    /// lands in the files once the next opener recovers them (pipelined appends leave writes
    /// in flight that nobody waits for; on a shared ring they could land after the recovery
    /// scan and over the new log's appends).
    pub(crate) fn abandon_writes(&self) {
        let mut w = self.lock_writer();
        w.closed = true;
        while w.flushing {
            w = self.flushed.wait(w).expect("writer lock poisoned");
        }
        let pending = std::mem::take(&mut w.in_flight);
        drop(w);
        for write in pending {
            let _ = write.pending.wait();
        }
    }

    /// Waits until everything appended is written and synced and no flush runs, flushing as
    /// needed. Returns with the lock held, so the state stays settled until it is released.
    pub(crate) fn settle<'a>(&'a self, mut w: Guard<'a>) -> Result<Guard<'a>, AppendError> {
        loop {
            self.checked.check()?;
            if w.flushing {
                w = self.flushed.wait(w).expect("writer lock poisoned");
                continue;
            }
            if w.queue.is_empty() && w.in_flight.is_empty() && w.synced_offset >= w.next_offset {
                return Ok(w);
            }
            let next = w.next_offset;
            w = self.flush_to(w, Level::Synced, next)?;
        }
    }

    /// Extends the preallocation so a write ending at `end` never extends the file.
    fn preallocate(&self, w: &mut Guard<'_>, end: u64) -> Result<(), AppendError> {
        if end <= w.allocated_bytes {
            return Ok(());
        }
        let step = self.config.preallocate_bytes.max(end - w.allocated_bytes);
        let limit = self.config.segment_bytes
            + self.config.max_batch_bytes as u64
            + self.shared.align() as u64;
        let new_end = (w.allocated_bytes + step).min(limit).max(end);
        let active = Arc::clone(&w.active);
        self.checked
            .allocate(&active, w.allocated_bytes, new_end - w.allocated_bytes)?;
        w.allocated_bytes = new_end;
        Ok(())
    }

    /// Completes in-flight writes, oldest first, until at most `keep` remain. The lock is
    /// released while waiting; the caller holds the flusher role, so nobody else touches the
    /// in-flight queue meanwhile.
    fn complete_in_flight<'a>(
        &'a self,
        mut w: Guard<'a>,
        keep: usize,
    ) -> (Guard<'a>, Result<(), AppendError>) {
        while w.in_flight.len() > keep {
            let write = w.in_flight.pop_front().expect("len > keep");
            let active = Arc::clone(&w.active);
            drop(w);
            let result = self.checked.complete_write(&active, write.pending);
            w = self.lock_writer();
            if let Err(e) = result {
                return (w, Err(e));
            }
            w.written_offset = w.written_offset.max(write.offset_end);
            self.publish_durable(&w);
            active
                .disk_bytes
                .fetch_max(write.data_end, Ordering::AcqRel);
            let disk = write.data_end;
            while w
                .unwritten
                .front()
                .is_some_and(|(start, bytes)| start + bytes.len() as u64 <= disk)
            {
                if let Some((_, bytes)) = w.unwritten.pop_front() {
                    w.unwritten_bytes -= bytes.len();
                }
            }
            if w.in_flight.is_empty() && w.queue.is_empty() && w.queued_pos >= w.end_pos {
                w.dirty_since = None;
            }
        }
        (w, Ok(()))
    }

    /// Called by the background flusher: writes data that waited longer than the flush
    /// interval, and gives the tail's buffer back once the log is idle (see
    /// [`Writer::tail_is_idle`]), in every durability mode: under `Write` and `Sync` every
    /// acknowledgement leaves the data written but the tail in place, and a log that is never
    /// appended to again would pin its chunk for good.
    pub(crate) fn flush_if_due(&self) {
        let mut w = self.lock_writer();
        if self.checked.poisoned().is_some() {
            self.waiters.wake_all();
            return;
        }
        if w.closed {
            return;
        }
        w = match self.drive_wanted(w) {
            Some(w) => w,
            None => return,
        };
        if w.flushing {
            return;
        }
        let interval = self.config.flush_interval();
        let due = interval
            .zip(w.dirty_since)
            .is_some_and(|(interval, since)| since.elapsed() >= interval);
        let mut w = if due {
            let next = w.next_offset;
            match self.flush_to(w, Level::Written, next) {
                Ok(w) => w,
                Err(_) => return,
            }
        } else {
            w
        };
        let idle_after = interval.unwrap_or(Duration::from_millis(DEFAULT_FLUSH_INTERVAL_MS));
        if w.tail_is_idle(idle_after) {
            // Everything is on disk; the tail's bytes stay readable through the cache (copied
            // out when they fill less than half of the chunk, so the chunk goes back now).
            self.freeze_tail(&mut w);
            assert!(w.queue.is_empty(), "an idle tail has nothing left to write");
            w.dirty_since = None;
        }
    }

    /// Makes durable the offsets pending [`crate::AppendHandle`] futures wait for (their
    /// pollers must not block on I/O, so the flusher thread does it for them). `None` when the
    /// flush failed (the log is poisoned and the futures were woken with the error).
    fn drive_wanted<'a>(&'a self, w: Guard<'a>) -> Option<Guard<'a>> {
        let wanted = self.waiters.wanted_offset.load(Ordering::Acquire);
        let Some(level) = Level::for_durability(self.config.durability) else {
            // `None` handles are ready at once: nothing to drive.
            return Some(w);
        };
        if wanted <= self.durable_offset.load(Ordering::Acquire) {
            return Some(w);
        }
        let wanted = wanted.min(w.next_offset);
        self.flush_to(w, level, wanted).ok()
    }

    /// Whether the next batch of `bytes` must go to a new segment (size or age).
    ///
    /// Age counts from the wall-clock time of the segment's first append, not from a producer's
    /// `baseTimestamp` as in Kafka: a producer sending timestamp 0 would otherwise roll a
    /// segment per batch (until the process runs out of file descriptors), and one sending
    /// future timestamps would keep a segment from ever rolling by age. Timestamps inside the
    /// accepted window still leave that much room, so none is trusted here.
    fn needs_roll(&self, w: &Guard<'_>, bytes: usize) -> bool {
        if w.end_pos == 0 {
            return false;
        }
        if w.end_pos + bytes as u64 > self.config.segment_bytes {
            return true;
        }
        if w.next_offset - w.active.base_offset + 1 > u64::from(u32::MAX) {
            return true;
        }
        match (self.config.segment_ms, w.roll_clock_ms) {
            (Some(max_age), Some(since)) => {
                let age = i128::from(super::now_ms()) - i128::from(since);
                age >= i128::from(max_age)
            }
            _ => false,
        }
    }

    /// Seals the active segment (everything written, `fdatasync`ed, trimmed, indexes written)
    /// and starts a new one at the next offset, unless another thread rolled meanwhile.
    fn roll<'a>(&'a self, w: Guard<'a>, bytes: usize) -> Result<Guard<'a>, AppendError> {
        let mut w = self.settle(w)?;
        self.check_writable(&w)?;
        if !self.needs_roll(&w, bytes) {
            // Another appender rolled while this one waited.
            return Ok(w);
        }
        // Everything is synced and no flush runs; the lock is held from here to the end, so no
        // append or flush touches the old segment while it is sealed.
        let fail = |(op, path, source)| self.checked.fail(op, path, source);
        self.seal_active(&mut w).map_err(fail)?;
        let base = w.next_offset;
        let segment = self.create_segment(base).map_err(fail)?;
        let builder = IndexBuilder::new(self.config.index_interval_bytes);
        *w = Writer::new(Arc::clone(&segment), 0, 0, base, builder);
        if self.shared.uses_mmap() {
            let map = self
                .map_active(&segment, 0, 0)
                .map_err(|source| self.checked.fail("map", segment.log_path(), source))?;
            w.map = Some(map);
        }
        self.segments
            .write()
            .expect("segments lock poisoned")
            .insert(base, segment);
        Ok(w)
    }

    /// Trims the active segment to its data, makes it durable and writes its indexes.
    /// Requires everything to be written (the caller flushed to [`Level::Synced`]).
    pub(crate) fn seal_active(
        &self,
        w: &mut Guard<'_>,
    ) -> Result<(), (&'static str, std::path::PathBuf, std::io::Error)> {
        assert!(
            w.in_flight.is_empty() && w.queue.is_empty(),
            "sealing with writes pending"
        );
        self.freeze_tail(w);
        assert!(
            w.queue.is_empty(),
            "a settled tail has nothing left to write"
        );
        w.unwritten.clear();
        w.unwritten_bytes = 0;
        let active = Arc::clone(&w.active);
        // The writer's mapping goes before the file shrinks to its data: nothing may write past
        // the new end (see `ringlog_sys::mmap`). Readers keep reading below the published end.
        w.map = None;
        let storage = self.shared.storage();
        storage
            .set_len(&active.file, w.end_pos)
            .map_err(|e| ("truncate", active.log_path(), e))?;
        storage
            .sync_data(&active.file)
            .map_err(|e| ("fdatasync", active.log_path(), e))?;
        w.allocated_bytes = w.end_pos;
        w.builder.push_time_entry(&active);
        active
            .write_indexes(storage.as_ref())
            .map_err(|e| ("write the indexes of", active.log_path(), e))?;
        active.disk_bytes.store(w.end_pos, Ordering::Release);
        active.sealed.store(true, Ordering::Release);
        if self.shared.uses_mmap() {
            // Sealed segments are mapped read-only at their final size; fetches still holding
            // slices of the old mapping keep it alive until they drop them.
            let reader = MapReader::open_read_only(&active.file)
                .map_err(|e| ("map", active.log_path(), e))?;
            *active.map.write().expect("map lock poisoned") = Some(reader);
        }
        Ok(())
    }
}

/// The roll clock of a segment that holds batches when the log is opened. When its first append
/// happened is not stored; its first batch's timestamp is the only record of it, taken as is
/// when it is in the past (Kafka's rule, so a segment's age survives a restart) and as now
/// otherwise, so that a future timestamp cannot postpone the roll. A timestamp far in the past
/// rolls the segment at the next append, once: the new segment's clock is the wall clock.
fn roll_clock_of_recovered(active: &Segment) -> i64 {
    let now = super::now_ms();
    match active.first_timestamp.load(Ordering::Relaxed) {
        first if first >= 0 => first.min(now),
        _ => now,
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
