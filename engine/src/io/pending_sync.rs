//! [`PendingSync`]: an `fdatasync` submitted without waiting for it, so the write path can let
//! one run while appends go on (see `LogInner::start_syncs`).

use std::io;
use std::sync::Arc;

/// An `fdatasync` submitted to a [`super::Storage`] ([`super::Storage::submit_sync_data`]).
/// Like `fdatasync(2)` itself, it covers the writes that completed before it was submitted.
pub struct PendingSync {
    state: SyncState,
}

enum SyncState {
    /// On the ring, as `ticket`.
    Ring {
        ring: Arc<ringlog_sys::Ring>,
        ticket: ringlog_sys::Ticket<()>,
    },
    Done(io::Result<()>),
}

impl PendingSync {
    /// A sync that already completed (synchronous paths and test wrappers).
    pub fn done(result: io::Result<()>) -> Self {
        PendingSync {
            state: SyncState::Done(result),
        }
    }

    /// A sync submitted on `ring` as `ticket`.
    pub(crate) fn on_ring(ring: Arc<ringlog_sys::Ring>, ticket: ringlog_sys::Ticket<()>) -> Self {
        PendingSync {
            state: SyncState::Ring { ring, ticket },
        }
    }

    /// Blocks until the sync completed.
    ///
    /// # Errors
    /// The `fdatasync`'s error: the data may be lost, and the caller poisons the log.
    pub fn wait(self) -> io::Result<()> {
        match self.state {
            SyncState::Ring { ring, ticket } => ring.wait(ticket).0.map(|_| ()),
            SyncState::Done(result) => result,
        }
    }

    /// The result if the sync already completed, else the sync back.
    ///
    /// # Errors
    /// As [`PendingSync::wait`].
    pub fn try_wait(self) -> Result<io::Result<()>, PendingSync> {
        match self.state {
            SyncState::Ring { ring, ticket } => match ring.try_wait(ticket) {
                Ok((result, ())) => Ok(result.map(|_| ())),
                Err(ticket) => Err(PendingSync::on_ring(ring, ticket)),
            },
            SyncState::Done(result) => Ok(result),
        }
    }
}
