//! The tail: the aligned chunk appends are copied into, frozen into shared bytes for the read
//! cache and queued for one direct write when it fills; a new tail starts with a copy of the
//! partial last page (from the frozen tail, or read back from disk after an idle period).

use std::time::Duration;

use bytes::Bytes;

use crate::cache::Origin;
use crate::config::Durability;
use crate::error::AppendError;
use crate::io::read_at_least;
use crate::record::{BatchError, BatchHeader};

use super::{Guard, LogInner, Queued, Writer};

impl Writer {
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
    pub(super) fn tail_is_idle(&self, idle_after: Duration) -> bool {
        self.tail.is_some()
            && !self.flushing
            && self.queue.is_empty()
            && self.in_flight.is_empty()
            && self.queued_pos >= self.end_pos
            && self.written_offset >= self.next_offset
            && self.last_append.is_none_or(|at| at.elapsed() >= idle_after)
    }

    /// Records the end of the batch just appended (at `end_pos`, completing offsets below
    /// `next_offset`), replacing the last recorded end if it lies in the same page of `align`
    /// bytes: a write's data ends at a page boundary or at `end_pos`, so it carries both or
    /// neither.
    pub(super) fn push_batch_end(&mut self, align: u64) {
        let (end, next) = (self.end_pos, self.next_offset);
        match self.batch_ends.back_mut() {
            Some(last) if last.0.div_ceil(align) == end.div_ceil(align) => *last = (end, next),
            _ => self.batch_ends.push_back((end, next)),
        }
    }

    /// The offsets a write of the data below `data_end` completes (with the writes before it):
    /// those of the batches that end at or before it, whose ends it takes off
    /// `batch_ends`. 0 when it completes none (its data ends inside a batch that began before
    /// it).
    fn take_batch_ends(&mut self, data_end: u64) -> u64 {
        let mut offset_end = 0;
        while let Some(&(end, next)) = self.batch_ends.front() {
            if end > data_end {
                break;
            }
            offset_end = next;
            self.batch_ends.pop_front();
        }
        self.queued_offset = self.queued_offset.max(offset_end);
        offset_end
    }
}

impl LogInner {
    /// Places one batch of `total_bytes` at the end of the tail (freezing a full one first),
    /// encoded in place by `encode`.
    pub(super) fn place_in_tail(
        &self,
        w: &mut Guard<'_>,
        total_bytes: usize,
        base: u64,
        encode: impl FnOnce(&mut [u8], u64) -> Result<BatchHeader, BatchError>,
    ) -> Result<BatchHeader, AppendError> {
        self.reserve_tail(w, total_bytes);
        let tail = w.tail.as_mut().expect("reserve_tail leaves a tail");
        let from = tail.len();
        let header = encode(&mut tail.full_mut()[from..from + total_bytes], base)?;
        tail.set_len(from + total_bytes);
        Ok(header)
    }

    /// Makes sure the tail has room for `bytes` more, freezing a full tail first.
    pub(super) fn reserve_tail(&self, w: &mut Guard<'_>, bytes: usize) {
        if w.tail
            .as_ref()
            .is_some_and(|tail| tail.capacity() - tail.len() >= bytes)
        {
            return;
        }
        let pool = self.shared.pool();
        // Only under `None`: under `Write` and `Sync` a pipelined producer waits for its
        // oldest append, and 256 KiB chunks are frozen and written while it encodes the next
        // ones, so that append's write is done or in flight by then (measured:
        // `--in-flight 8` `sync` 12-25% faster than growing chunks, `write` -1% to +12%; see
        // docs/design.md).
        if w.tail.is_some() && self.config.durability == Durability::None {
            // The tail filled: the log is busy, its next chunk (and write) doubles.
            let grown = w.chunk_bytes.max(pool.buffer_bytes()) * 2;
            w.chunk_bytes = grown.min(pool.max_buffer_bytes());
        }
        let old_pos = w.tail_pos;
        let old = self.freeze_tail(w);
        let align = self.shared.align() as u64;
        let tail_pos = w.end_pos / align * align;
        let carried = (w.end_pos - tail_pos) as usize;
        let mut tail = pool.get_at_least((carried + bytes).max(w.chunk_bytes));
        let last_page = w.last_page.take();
        if carried > 0 {
            match (old, last_page) {
                (Some(old), _) => {
                    let from = (tail_pos - old_pos) as usize;
                    tail.extend_from_slice(&old[from..from + carried]);
                }
                (None, Some((pos, page))) if pos == tail_pos && page.len() == carried => {
                    tail.extend_from_slice(&page);
                }
                (None, _) => {
                    unreachable!("no tail and no last page kept for a partial page at {tail_pos}")
                }
            }
        }
        w.tail = Some(tail);
        w.tail_pos = tail_pos;
    }

    /// Keeps a copy of the partial last page of the tail `frozen` (at `frozen_pos`) as
    /// `Writer::last_page`, for the next tail (the tail went idle and back to the pool).
    pub(super) fn keep_last_page(&self, w: &mut Guard<'_>, frozen_pos: u64, frozen: &Bytes) {
        let align = self.shared.align() as u64;
        let page = w.end_pos / align * align;
        let carried = (w.end_pos - page) as usize;
        let from = (page - frozen_pos) as usize;
        w.last_page =
            (carried > 0).then(|| (page, Bytes::copy_from_slice(&frozen[from..from + carried])));
    }

    /// Reads the partial last page of a log's active segment at open, for its first tail (see
    /// `Writer::last_page`).
    ///
    /// # Errors
    /// The read failed: the open fails, as for any other read of the open.
    pub(crate) fn read_last_page_at_open(&self) -> Result<(), crate::error::OpenError> {
        let mut w = self.lock_writer();
        if w.mapped.is_some() || w.closed {
            return Ok(());
        }
        let align = self.shared.align() as u64;
        let page = w.end_pos / align * align;
        let carried = (w.end_pos - page) as usize;
        if carried > 0 {
            let bytes = self.page_from_disk(&w, page, carried).map_err(|source| {
                crate::error::OpenError::Io {
                    op: "read the last page of",
                    path: w.active.log_path(),
                    source,
                }
            })?;
            w.last_page = Some((page, bytes));
        }
        Ok(())
    }

    /// The `len` bytes of the active segment at page `tail_pos`, read at open (everything is
    /// on disk then).
    fn page_from_disk(&self, w: &Guard<'_>, tail_pos: u64, len: usize) -> std::io::Result<Bytes> {
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
        let n = result?;
        assert!(
            n >= len,
            "read_at_least returned {n} of the {len} bytes it needed"
        );
        Ok(Bytes::copy_from_slice(&buf.as_slice()[..len]))
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
            Origin::Written,
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
            // The batch that straddles `end` is not carried whole: the next write, which starts
            // with its last page, completes it.
            let offset_end = w.take_batch_ends(end);
            w.queue.push_back(Queued {
                start,
                bytes: frozen.slice(from..to),
                data_end: end,
                offset_end,
            });
            w.queued_pos = end;
        }
        Some(frozen)
    }

    /// Queues a copy of the tail's unqueued bytes (the tail stays, appends continue into it).
    pub(super) fn queue_tail_copy(&self, w: &mut Guard<'_>) {
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
        let data_end = w.end_pos;
        let offset_end = w.take_batch_ends(data_end);
        debug_assert_eq!(
            offset_end, w.next_offset,
            "the tail's copy carries every batch"
        );
        w.queue.push_back(Queued {
            start,
            bytes: Bytes::from_owner(copy),
            data_end,
            offset_end,
        });
        w.queued_pos = w.end_pos;
    }
}
