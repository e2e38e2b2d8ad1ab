//! Early syncs: under `Durability::Sync`, a pipelined append (one that does not wait, see
//! [`crate::Log::submit`]) that finds no flusher at work takes the writes that completed and
//! submits an `fdatasync` for them without waiting, so the sync runs while the producer encodes
//! its next batches instead of after it has stopped to wait. At most one such sync is in flight;
//! the next flusher for durability (or the next pipelined append) takes its result, and a
//! flusher whose offsets it covers needs no sync of its own.
//!
//! Only on storage whose syncs are asynchronous (io_uring): nothing waits for I/O under the
//! writer lock. A sync covers the writes that completed before it was submitted, so it raises
//! `synced_offset` to the `written_offset` of that moment, and only once it completed.

use std::sync::Arc;

use crate::config::Durability;
use crate::error::AppendError;
use crate::io::PendingSync;

use super::{Guard, LogInner};

/// An `fdatasync` of the active segment in flight, submitted by [`LogInner::start_syncs`] (a
/// roll settles, and so takes it, before the active segment changes).
pub(super) struct InFlightSync {
    pub(super) pending: PendingSync,
    /// Offsets below this were written when it was submitted.
    covers: u64,
}

impl LogInner {
    /// After a pipelined append, with the writer lock held and no flusher at work: takes the
    /// completed writes and a completed early sync, and submits the next sync when writes
    /// completed that no sync covers. Does nothing unless the log syncs for durability on
    /// storage with asynchronous syncs.
    ///
    /// # Errors
    /// A write or sync failed: the log is poisoned, and waiters are woken to find it so.
    pub(super) fn start_syncs(&self, w: &mut Guard<'_>) -> Result<(), AppendError> {
        if self.config.durability != Durability::Sync
            || w.flushing
            || w.mapped.is_some()
            || !self.checked.syncs_async()
        {
            return Ok(());
        }
        let result = self.advance_syncs(w);
        if result.is_err() {
            self.flushed.notify_all();
            self.waiters.wake_all();
        }
        result
    }

    fn advance_syncs(&self, w: &mut Guard<'_>) -> Result<(), AppendError> {
        self.checked.check()?;
        self.reap_completed_writes(w)?;
        if let Some(sync) = w.sync_in_flight.take() {
            let active = Arc::clone(&w.active);
            match self.checked.try_complete_sync(&active, sync.pending) {
                Ok(result) => {
                    result?;
                    self.on_synced(w, sync.covers);
                }
                Err(pending) => {
                    w.sync_in_flight = Some(InFlightSync { pending, ..sync });
                    return Ok(());
                }
            }
        }
        if w.written_offset > w.synced_offset {
            let pending = self.checked.submit_sync(&w.active)?;
            w.sync_in_flight = Some(InFlightSync {
                pending,
                covers: w.written_offset,
            });
        }
        Ok(())
    }

    /// For the flusher: waits (with the lock released) for the early sync in flight, if any,
    /// and takes its result.
    pub(super) fn finish_sync_in_flight<'a>(
        &'a self,
        mut w: Guard<'a>,
    ) -> (Guard<'a>, Result<(), AppendError>) {
        let Some(sync) = w.sync_in_flight.take() else {
            return (w, Ok(()));
        };
        let active = Arc::clone(&w.active);
        drop(w);
        let result = self.checked.complete_sync(&active, sync.pending);
        let mut w = self.lock_writer();
        if result.is_ok() {
            self.on_synced(&mut w, sync.covers);
        }
        (w, result)
    }

    /// A sync that covers the offsets below `covers` completed.
    pub(super) fn on_synced(&self, w: &mut Guard<'_>, covers: u64) {
        w.synced_offset = w.synced_offset.max(covers);
        self.publish_durable(w);
        if w.synced_offset >= w.next_offset {
            w.unsynced_since = None;
        }
    }
}
