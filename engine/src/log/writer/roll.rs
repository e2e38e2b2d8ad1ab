//! Rolling to a new segment (by size or age), sealing the old one, and preallocation.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ringlog_sys::mmap::MapReader;

use crate::error::AppendError;
use crate::segment::{IndexBuilder, Segment};

use super::{Guard, LogInner, Writer};

impl LogInner {
    /// Whether the next batch of `bytes` must go to a new segment (size or age).
    ///
    /// Age counts from the wall-clock time of the segment's first append, not from a producer's
    /// `baseTimestamp` as in Kafka: a producer sending timestamp 0 would otherwise roll a
    /// segment per batch (until the process runs out of file descriptors), and one sending
    /// future timestamps would keep a segment from ever rolling by age. Timestamps inside the
    /// accepted window still leave that much room, so none is trusted here.
    pub(super) fn needs_roll(&self, w: &Guard<'_>, bytes: usize) -> bool {
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
                let age = i128::from(crate::log::now_ms()) - i128::from(since);
                age >= i128::from(max_age)
            }
            _ => false,
        }
    }

    /// Seals the active segment (everything written, `fdatasync`ed, trimmed, indexes written)
    /// and starts a new one at the next offset, unless another thread rolled meanwhile.
    ///
    /// Appends wait while it runs (`Writer::rolling`): otherwise producers that keep appending
    /// to the old segment keep its settling from ever finishing (seen as roll stalls of
    /// seconds with four producers), and the roller's own append waits all that time.
    pub(super) fn roll<'a>(
        &'a self,
        mut w: Guard<'a>,
        bytes: usize,
    ) -> Result<Guard<'a>, AppendError> {
        w.rolling = true;
        let result = self.roll_settled(w, bytes);
        let mut w = match result {
            Ok(w) => w,
            Err(e) => return Err(self.end_failed_roll(e)),
        };
        w.rolling = false;
        self.flushed.notify_all();
        Ok(w)
    }

    /// After a failed roll: lets appends go on (to find the log poisoned), wakes pending
    /// append futures (they resolve to the error), and returns `e`.
    fn end_failed_roll(&self, e: AppendError) -> AppendError {
        self.lock_writer().rolling = false;
        self.flushed.notify_all();
        self.waiters.wake_all();
        e
    }

    /// The roll with appends held off: settle, seal, start the next segment.
    ///
    /// The file work (trim, `fdatasync`, index writes, the new segment's file and directory
    /// `fsync`) runs with the writer lock released: the roll holds the flusher role, so no flush
    /// round touches the old segment meanwhile, and appends wait on `rolling`; fetches (a
    /// consumer tailing the log asks the writer for bytes not in the cache) and the background
    /// flusher, which serves every log, are not held up behind the roll's I/O.
    fn roll_settled<'a>(&'a self, w: Guard<'a>, bytes: usize) -> Result<Guard<'a>, AppendError> {
        let mut w = self.settle(w)?;
        self.check_writable(&w)?;
        if !self.needs_roll(&w, bytes) {
            // Another appender rolled while this one waited.
            return Ok(w);
        }
        let fail = |(op, path, source)| self.checked.fail(op, path, source);
        // Everything is synced and no flush runs; from here the flusher role keeps it so.
        w.flushing = true;
        let sealing = self.begin_seal(&mut w);
        let base = w.next_offset;
        drop(w);
        let files = self
            .seal_files(&sealing)
            .and_then(|()| self.create_segment(base));
        let mut w = self.lock_writer();
        w.flushing = false;
        let (segment, file_bytes) = files.map_err(fail)?;
        self.end_seal(&mut w, &sealing).map_err(fail)?;
        let builder = IndexBuilder::new(self.config.index_interval_bytes);
        // A spare's blocks are written already: writes up to its old size need no fallocate.
        let writer = Writer::new(Arc::clone(&segment), 0, file_bytes, base, builder);
        // A busy log stays busy across the roll: its chunk size and group-commit counts carry.
        let old = std::mem::replace(&mut *w, writer);
        w.chunk_bytes = old.chunk_bytes;
        w.group = old.group;
        w.rolling = old.rolling;
        if self.shared.uses_mmap() {
            let map = self
                .map_active(&segment, file_bytes, 0)
                .map_err(|source| self.checked.fail("map", segment.log_path(), source))?;
            w.mapped = Some(super::Mapped::new(map, 0));
        }
        self.segments
            .write()
            .expect("segments lock poisoned")
            .insert(base, segment);
        Ok(w)
    }

    /// Trims the active segment to its data, makes it durable and writes its indexes.
    /// Requires everything to be written (the caller flushed to [`Level::Synced`]).
    pub(crate) fn seal_active(&self, w: &mut Guard<'_>) -> Result<(), SealFailure> {
        let sealing = self.begin_seal(w);
        self.seal_files(&sealing)?;
        self.end_seal(w, &sealing)
    }

    /// Sealing's part under the writer lock, before the file work: the tail goes (to the read
    /// cache; everything is on disk), and on the mmap path the writer's mapping, which must go
    /// before the file shrinks to its data (nothing may write past the new end, see
    /// `ringlog_sys::mmap`; readers keep reading below the published end).
    fn begin_seal(&self, w: &mut Guard<'_>) -> Sealing {
        assert!(
            w.in_flight.is_empty() && w.queue.is_empty() && w.sync_in_flight.is_none(),
            "sealing with writes or a sync pending"
        );
        self.freeze_tail(w);
        assert!(
            w.queue.is_empty(),
            "a settled tail has nothing left to write"
        );
        w.unwritten.clear();
        w.unwritten_bytes = 0;
        w.mapped = None;
        let active = Arc::clone(&w.active);
        w.builder.push_time_entry(&active);
        Sealing {
            active,
            end_pos: w.end_pos,
        }
    }

    /// Sealing's file work, which needs no lock: trim, `fdatasync`, the index files.
    fn seal_files(&self, sealing: &Sealing) -> Result<(), SealFailure> {
        let (active, end_pos) = (&sealing.active, sealing.end_pos);
        let storage = self.shared.storage();
        storage
            .set_len(&active.file, end_pos)
            .map_err(|e| ("truncate", active.log_path(), e))?;
        storage
            .sync_data(&active.file)
            .map_err(|e| ("fdatasync", active.log_path(), e))?;
        active
            .write_indexes(storage.as_ref())
            .map_err(|e| ("write the indexes of", active.log_path(), e))
    }

    /// Sealing's last part, under the writer lock again: the segment is published as sealed.
    fn end_seal(&self, w: &mut Guard<'_>, sealing: &Sealing) -> Result<(), SealFailure> {
        let active = &sealing.active;
        w.allocated_bytes = sealing.end_pos;
        active.disk_bytes.store(sealing.end_pos, Ordering::Release);
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

    /// Extends the preallocation so a write ending at `end` never extends the file.
    pub(super) fn preallocate(&self, w: &mut Guard<'_>, end: u64) -> Result<(), AppendError> {
        if end <= w.allocated_bytes {
            return Ok(());
        }
        let (from, to) = self.preallocation_step(w, end);
        let active = Arc::clone(&w.active);
        self.checked.allocate(&active, from, to - from)?;
        w.allocated_bytes = to;
        Ok(())
    }

    /// The range a preallocation covering `end` allocates: from the current allocation, in
    /// steps of `preallocate_bytes`, up to the most a segment can hold.
    pub(super) fn preallocation_step(&self, w: &Guard<'_>, end: u64) -> (u64, u64) {
        let step = self.config.preallocate_bytes.max(end - w.allocated_bytes);
        let limit = self.config.segment_bytes
            + self.config.max_batch_bytes as u64
            + self.shared.align() as u64;
        let new_end = (w.allocated_bytes + step).min(limit).max(end);
        (w.allocated_bytes, new_end)
    }
}

/// What failed in sealing or creating a segment: the operation, the file, the error.
pub(crate) type SealFailure = (&'static str, std::path::PathBuf, std::io::Error);

/// The segment being sealed and the end of its data, between the parts of a seal.
struct Sealing {
    active: Arc<Segment>,
    end_pos: u64,
}

/// The roll clock of a segment that holds batches when the log is opened. When its first append
/// happened is not stored; its first batch's timestamp is the only record of it, taken as is
/// when it is in the past (Kafka's rule, so a segment's age survives a restart) and as now
/// otherwise, so that a future timestamp cannot postpone the roll. A timestamp far in the past
/// rolls the segment at the next append, once: the new segment's clock is the wall clock.
pub(super) fn roll_clock_of_recovered(active: &Segment) -> i64 {
    let now = crate::log::now_ms();
    match active.first_timestamp.load(Ordering::Relaxed) {
        first if first >= 0 => first.min(now),
        _ => now,
    }
}
