//! [`PendingRead`]: a read submitted without waiting for it, so read-ahead can keep several in
//! flight ahead of a sequential consumer (see `crate::log::read_ahead`).

use std::fs::File;
use std::io;
use std::sync::Arc;

use ringlog_sys::AlignedBuf;

use super::Storage;
use super::short::{check_enough, read_rest, read_until};

/// A read submitted to a [`Storage`] ([`Storage::submit_read`]). Dropping it before it
/// completes is safe: the ring keeps the buffer until the kernel is done with it, then frees it.
pub struct PendingRead {
    state: ReadState,
}

enum ReadState {
    /// On the ring, as `ticket`.
    Ring {
        ring: Arc<ringlog_sys::Ring>,
        ticket: ringlog_sys::Ticket<AlignedBuf>,
    },
    Done(io::Result<usize>, AlignedBuf),
}

impl PendingRead {
    /// A read that already completed (synchronous paths and test wrappers).
    pub fn done(result: io::Result<usize>, buf: AlignedBuf) -> Self {
        PendingRead {
            state: ReadState::Done(result, buf),
        }
    }

    /// A read submitted on `ring` as `ticket`.
    pub(crate) fn on_ring(
        ring: Arc<ringlog_sys::Ring>,
        ticket: ringlog_sys::Ticket<AlignedBuf>,
    ) -> Self {
        PendingRead {
            state: ReadState::Ring { ring, ticket },
        }
    }

    /// Blocks until the read completed; returns its result (the bytes read, which may be
    /// short) and the buffer, its length set to them.
    fn wait(self) -> (io::Result<usize>, AlignedBuf) {
        match self.state {
            ReadState::Ring { ring, ticket } => ring.wait(ticket),
            ReadState::Done(result, buf) => (result, buf),
        }
    }
}

/// Waits for `read`, submitted for `[offset, offset + len)` of `file`, and continues it
/// through `storage` after a short completion until at least `need` bytes are in, as
/// `read_at_least` does for a read made at once.
///
/// # Errors
/// The read's error; `UnexpectedEof` when the file ends before `need` bytes.
pub(crate) fn finish_read(
    storage: &dyn Storage,
    file: &Arc<File>,
    read: PendingRead,
    (offset, len, need): (u64, usize, usize),
) -> (io::Result<usize>, AlignedBuf) {
    let (result, buf) = read.wait();
    let first = result.map(|n| n.min(buf.len()));
    let align = storage.alignment().max(1);
    let mut first = Some(first);
    let (result, buf) = read_until(buf, len, need, align, |buf, start| match first.take() {
        Some(first) => (first, buf),
        None => read_rest(storage, file, buf, (offset, len, start)),
    });
    check_enough(result, need, offset, buf)
}
