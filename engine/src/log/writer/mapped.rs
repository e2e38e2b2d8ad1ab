//! The mmap path's part of the write path: appends go straight into the active segment's
//! mapping, so a write is complete at once and `Sync` is an `msync` of the new range.
//!
//! [`Mapped`] is that variant of the writer's state: a writer holds one on the mmap path and
//! none on the direct-write paths, whose state is the tail and its queues (`tail.rs`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ringlog_sys::mmap::{MapReader, MapWriter};

use crate::error::AppendError;
use crate::record::{BatchError, BatchHeader};

use super::{Guard, Level, LogInner};

/// The active segment's mapping and how far it was `msync`ed.
pub(crate) struct Mapped {
    writer: MapWriter,
    /// Bytes below this were `msync`ed.
    synced_pos: u64,
}

impl Mapped {
    /// The mapping of an active segment whose first `synced_pos` bytes are durable.
    pub fn new(writer: MapWriter, synced_pos: u64) -> Self {
        Mapped { writer, synced_pos }
    }
}

impl LogInner {
    /// Places one batch of `total_bytes` at the end of the mapping, encoded in place by
    /// `encode`, and publishes it to the mapping's readers.
    pub(super) fn place_mapped(
        &self,
        w: &mut Guard<'_>,
        total_bytes: usize,
        base: u64,
        encode: impl FnOnce(&mut [u8], u64) -> Result<BatchHeader, BatchError>,
    ) -> Result<BatchHeader, AppendError> {
        self.reserve_mapped(w, total_bytes)?;
        let end_pos = w.end_pos as usize;
        let map = &mut w.mapped.as_mut().expect("mmap path").writer;
        let header = encode(map.unpublished_mut(end_pos, total_bytes), base)?;
        map.publish(end_pos + total_bytes);
        Ok(header)
    }

    /// After a batch was placed in the mapping: it is in the page cache, as safe as a
    /// completed write.
    pub(super) fn written_mapped(&self, w: &mut Guard<'_>) {
        w.written_offset = w.next_offset;
        self.publish_durable(w);
        w.queued_pos = w.end_pos;
        w.active.disk_bytes.store(w.end_pos, Ordering::Release);
    }

    /// On the mmap path: makes sure the file backs `bytes` more after the end (preallocating in
    /// steps, as for direct writes) and tells the mapping.
    pub(super) fn reserve_mapped(
        &self,
        w: &mut Guard<'_>,
        bytes: usize,
    ) -> Result<(), AppendError> {
        let end = w.end_pos + bytes as u64;
        self.preallocate(w, end)?;
        let allocated = w.allocated_bytes as usize;
        let map = &mut w.mapped.as_mut().expect("mmap path").writer;
        if map.backed_len() < allocated
            && let Err(source) = map.set_backed_len(allocated)
        {
            return Err(self.checked.fail("map", w.active.log_path(), source));
        }
        Ok(())
    }

    /// The mmap path's flush: appends are in the page cache as they happen; `Synced` `msync`s
    /// what was appended since the last sync, with the lock released meanwhile (group commit,
    /// as for direct writes).
    pub(super) fn sync_mapped<'a>(
        &'a self,
        mut w: Guard<'a>,
        level: Level,
    ) -> (Guard<'a>, Result<(), AppendError>) {
        if level < Level::Synced || w.synced_offset >= w.next_offset {
            return (w, Ok(()));
        }
        let mapped = w.mapped.as_ref().expect("mmap path");
        let reader: MapReader = mapped.writer.reader();
        let (from, to, target) = (mapped.synced_pos, w.end_pos, w.next_offset);
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
        if let Some(mapped) = w.mapped.as_mut() {
            mapped.synced_pos = mapped.synced_pos.max(to);
        }
        if w.synced_offset >= w.next_offset {
            w.unsynced_since = None;
        }
        (w, Ok(()))
    }
}
