//! The mmap path's part of the write path: appends go straight into the active segment's
//! mapping, so a write is complete at once and `Sync` is an `msync` of the new range.

use std::sync::Arc;

use ringlog_sys::mmap::MapReader;

use crate::error::AppendError;

use super::{Guard, Level, LogInner};

impl LogInner {
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
        let map = w.map.as_mut().expect("mmap path");
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
        if w.synced_offset >= w.next_offset {
            w.unsynced_since = None;
        }
        (w, Ok(()))
    }
}
