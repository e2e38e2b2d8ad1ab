//! Flushing and group commit: the flusher role, submitting queued writes, completing them,
//! `fdatasync`, and the background flusher's periodic work.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::config::{DEFAULT_FLUSH_INTERVAL_MS, Durability};
use crate::error::AppendError;
use crate::segment::Segment;

use super::{Guard, InFlight, Level, LogInner};

impl LogInner {
    /// Waits until offsets below `offset` reach `level` (for [`Level::Submit`], until the
    /// queue is submitted or one round submitted what was queued when it started; for
    /// [`Level::WithinBudget`], until the unwritten bytes are at most `offset`), becoming the
    /// flusher when nobody else is. A round covers only what was appended when it started, so
    /// producers that keep appending never keep a flusher (itself an appender) in its role.
    pub(crate) fn flush_to<'a>(
        &'a self,
        mut w: Guard<'a>,
        level: Level,
        offset: u64,
    ) -> Result<Guard<'a>, AppendError> {
        loop {
            w = self.flush_once(w, level, offset)?;
            if level == Level::Submit || w.satisfied(level, offset) {
                return Ok(w);
            }
        }
    }

    /// One step of [`LogInner::flush_to`]: returns once `level` is satisfied, or after one round
    /// of the flusher role.
    fn flush_once<'a>(
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
            w.group.waiting += 1;
            w = self.flushed.wait(w).expect("writer lock poisoned");
            w.group.waiting -= 1;
        }
        w.flushing = true;
        // A round for the log's own durability acknowledges appenders: gather them first.
        let acknowledges = Level::for_durability(self.config.durability) == Some(level);
        if acknowledges {
            w = self.gather(w);
        }
        let round = acknowledges.then(|| (w.group.start_round(), Instant::now()));
        let (mut w, result) = self.flush_round(w, level, offset);
        if let (Some((appends, started)), Ok(())) = (round, &result) {
            let waiting = w.group.waiting;
            w.group.end_round(appends, waiting, started.elapsed());
        }
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

    /// One round of the flusher role: for [`Level::Written`] and [`Level::Synced`], queue a copy
    /// of the tail if the writes queued so far do not carry the offsets below `offset`, submit
    /// the queue, complete writes until those offsets are written (and any others that already
    /// completed) and `fdatasync` as `level` asks. The lock is released while waiting.
    ///
    /// Completing only as far as `offset` needs lets a pipelined producer, which waits for its
    /// oldest append while the later ones' writes are in flight, keep them in flight.
    pub(super) fn flush_round<'a>(
        &'a self,
        mut w: Guard<'a>,
        level: Level,
        offset: u64,
    ) -> (Guard<'a>, Result<(), AppendError>) {
        if w.mapped.is_some() {
            return self.sync_mapped(w, level);
        }
        // Everything appended: every write completes (a settle or close needs none in flight).
        let everything = offset >= w.next_offset;
        if level >= Level::Written && (everything || w.queued_offset < offset) {
            self.queue_tail_copy(&mut w);
        }
        let (mut w, result) = self.submit_queue(w);
        if result.is_err() || level == Level::Submit {
            return (w, result);
        }
        if level == Level::WithinBudget {
            let limit = self.unwritten_limit();
            while w.unwritten_bytes > limit && !w.in_flight.is_empty() {
                let keep = w.in_flight.len() - 1;
                let (guard, result) = self.complete_in_flight(w, keep);
                w = guard;
                if result.is_err() {
                    return (w, result);
                }
            }
            return (w, Ok(()));
        }
        // Under `Synced` every write in flight completes before the `fdatasync`: a sync costs
        // more than waiting for writes already in flight, so each should cover all of them.
        let (w, result) = if everything || level == Level::Synced {
            self.complete_in_flight(w, 0)
        } else {
            self.complete_written(w, offset)
        };
        if result.is_err() || level != Level::Synced {
            return (w, result);
        }
        self.sync_written(w)
    }

    /// Makes what is written durable: takes the early sync in flight (it may already cover
    /// everything written), then `fdatasync`s whatever it does not cover.
    fn sync_written<'a>(&'a self, w: Guard<'a>) -> (Guard<'a>, Result<(), AppendError>) {
        let (w, result) = self.finish_sync_in_flight(w);
        if result.is_err() || w.synced_offset >= w.written_offset {
            return (w, result);
        }
        let active = Arc::clone(&w.active);
        let written = w.written_offset;
        drop(w);
        let result = self.checked.sync_data(&active);
        let mut w = self.lock_writer();
        if result.is_ok() {
            self.on_synced(&mut w, written);
        }
        (w, result)
    }

    /// Completes in-flight writes, oldest first, until the offsets below `offset` are written,
    /// then the ones that already completed without waiting (a sync that follows covers them
    /// too).
    fn complete_written<'a>(
        &'a self,
        mut w: Guard<'a>,
        offset: u64,
    ) -> (Guard<'a>, Result<(), AppendError>) {
        while w.written_offset < offset && !w.in_flight.is_empty() {
            let keep = w.in_flight.len() - 1;
            let (guard, result) = self.complete_in_flight(w, keep);
            w = guard;
            if result.is_err() {
                return (w, result);
            }
        }
        let result = self.reap_completed_writes(&mut w);
        (w, result)
    }

    /// Takes the in-flight writes that already completed, oldest first, without waiting. Under
    /// the writer lock, by the flusher or by an appender while no flusher runs (see
    /// [`LogInner::start_syncs`]): writes complete in order, and nobody else holds one.
    pub(super) fn reap_completed_writes(&self, w: &mut Guard<'_>) -> Result<(), AppendError> {
        while let Some(write) = w.in_flight.pop_front() {
            let active = Arc::clone(&w.active);
            match self.checked.try_complete_write(&active, write.pending) {
                Ok(Ok(())) => {
                    self.on_write_completed(w, &active, write.data_end, write.offset_end);
                }
                Ok(Err(e)) => return Err(e),
                Err(pending) => {
                    w.in_flight.push_front(InFlight { pending, ..write });
                    break;
                }
            }
        }
        Ok(())
    }

    /// Submits the writes queued when the round started, in order, preallocating ahead of them,
    /// and waiting first for an in-flight write of the same page or when too many writes are
    /// in flight.
    pub(super) fn submit_queue<'a>(
        &'a self,
        mut w: Guard<'a>,
    ) -> (Guard<'a>, Result<(), AppendError>) {
        // What was queued when the round started: chunks frozen while it waits go to the next.
        let round_end = w.queued_pos;
        while let Some(next) = w.queue.front() {
            let start = next.start;
            if start >= round_end {
                break;
            }
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
            let front_end = next_end(&w);
            if front_end > w.allocated_bytes {
                let (guard, result) = self.preallocate_unlocked(w, front_end);
                w = guard;
                if result.is_err() {
                    return (w, result);
                }
            }
            let queued = w
                .queue
                .pop_front()
                .expect("only the flusher pops the queue");
            let padded_end = queued.start + queued.bytes.len() as u64;
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

    /// Completes in-flight writes, oldest first, until at most `keep` remain. The lock is
    /// released while waiting; the caller holds the flusher role, so nobody else touches the
    /// in-flight queue meanwhile.
    pub(super) fn complete_in_flight<'a>(
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
            self.on_write_completed(&mut w, &active, write.data_end, write.offset_end);
        }
        (w, Ok(()))
    }

    /// Bookkeeping of a write that completed (the oldest in flight), whose data ends at
    /// `data_end` and which completes the offsets below `offset_end`: they are written, its
    /// bytes are on disk, the frozen ranges it ends leave `unwritten`.
    fn on_write_completed(
        &self,
        w: &mut Guard<'_>,
        active: &Segment,
        data_end: u64,
        offset_end: u64,
    ) {
        w.written_offset = w.written_offset.max(offset_end);
        self.publish_durable(w);
        active.disk_bytes.fetch_max(data_end, Ordering::AcqRel);
        while w
            .unwritten
            .front()
            .is_some_and(|(start, bytes)| start + bytes.len() as u64 <= data_end)
        {
            if let Some((_, bytes)) = w.unwritten.pop_front() {
                w.unwritten_bytes -= bytes.len();
            }
        }
        if w.in_flight.is_empty() && w.queue.is_empty() && w.queued_pos >= w.end_pos {
            w.dirty_since = None;
        }
    }

    /// [`LogInner::preallocate`] for the flusher, with the writer lock released during the
    /// `fallocate`: appends go on meanwhile. Only the flusher role (held by the caller) extends
    /// the preallocation on the direct-write paths, and a roll waits for it, so the active
    /// segment and `allocated_bytes` do not change while the lock is released.
    fn preallocate_unlocked<'a>(
        &'a self,
        mut w: Guard<'a>,
        end: u64,
    ) -> (Guard<'a>, Result<(), AppendError>) {
        assert!(w.flushing, "only the flusher preallocates without the lock");
        let (from, to) = self.preallocation_step(&w, end);
        let active = Arc::clone(&w.active);
        drop(w);
        let result = self.checked.allocate(&active, from, to - from);
        w = self.lock_writer();
        if result.is_ok() {
            w.allocated_bytes = w.allocated_bytes.max(to);
        }
        (w, result)
    }

    /// On a poisoned log, waits for the writes still in flight (their results no longer
    /// matter): after a failed write the flusher stops waiting for the ones behind it, and
    /// they must not land in the files after the log is closed and reopened.
    pub(crate) fn drain_failed_writes<'a>(&'a self, mut w: Guard<'a>) -> Guard<'a> {
        while self.checked.poisoned().is_some() && w.flushing {
            w = self.flushed.wait(w).expect("writer lock poisoned");
        }
        if self.checked.poisoned().is_none() {
            return w;
        }
        if w.in_flight.is_empty() && w.sync_in_flight.is_none() {
            return w;
        }
        wait_out_pending(w);
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
        wait_out_pending(w);
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
            if w.queue.is_empty()
                && w.in_flight.is_empty()
                && w.sync_in_flight.is_none()
                && w.synced_offset >= w.next_offset
            {
                return Ok(w);
            }
            let next = w.next_offset;
            w = self.flush_to(w, Level::Synced, next)?;
        }
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
        // A flusher (or a roll) holds the role: the next pass comes soon, and waiting for it
        // here would hold up every other log the background flusher serves.
        if w.closed || w.flushing {
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
        // Under `Sync` the interval's flush also syncs: a dropped handle's append must become
        // durable by itself, as under `Write` it becomes written.
        let (level, since) = match self.config.durability {
            Durability::Sync => (Level::Synced, w.unsynced_since),
            Durability::None | Durability::Write => (Level::Written, w.dirty_since),
        };
        let due = interval
            .zip(since)
            .is_some_and(|(interval, since)| since.elapsed() >= interval);
        let mut w = if due {
            let next = w.next_offset;
            match self.flush_to(w, level, next) {
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
            let frozen_pos = w.tail_pos;
            if let Some(frozen) = self.freeze_tail(&mut w) {
                self.keep_last_page(&mut w, frozen_pos, &frozen);
            }
            assert!(w.queue.is_empty(), "an idle tail has nothing left to write");
            w.dirty_since = None;
            w.chunk_bytes = 0;
        }
    }

    /// Makes durable the offsets pending [`crate::AppendHandle`] futures wait for (their
    /// pollers must not block on I/O, so the flusher thread does it for them). `None` when the
    /// flush failed (the log is poisoned and the futures were woken with the error).
    pub(super) fn drive_wanted<'a>(&'a self, w: Guard<'a>) -> Option<Guard<'a>> {
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
}

/// The padded end of the next queued write.
fn next_end(w: &Guard<'_>) -> u64 {
    let next = w.queue.front().expect("a queued write");
    next.start + next.bytes.len() as u64
}

/// On a failed or abandoned log: takes the writes and the early sync still in flight and
/// waits for them with the lock released, ignoring their results (what is durable was
/// decided when the log failed, or does not matter once it is abandoned).
fn wait_out_pending(mut w: Guard<'_>) {
    let writes = std::mem::take(&mut w.in_flight);
    let sync = w.sync_in_flight.take();
    drop(w);
    for write in writes {
        let _ = write.pending.wait();
    }
    if let Some(sync) = sync {
        let _ = sync.pending.wait();
    }
}
