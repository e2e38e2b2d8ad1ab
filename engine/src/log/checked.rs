//! The write path's checked storage (after redb's `CheckedBackend`): every call of a log's write
//! path that changes a segment's bytes or size goes through [`CheckedStorage`], which records
//! the first failure and from then on refuses everything: the kernel may have dropped the dirty
//! pages a failed write or `fdatasync` covered, so a retry that succeeds would claim data the
//! disk does not hold. Poisoning happens here, in one place, not at each call site.
//!
//! Checked: write submissions and completions, `fdatasync`, `msync`, `fallocate`, `ftruncate`,
//! and the steps of a segment roll (reported through [`CheckedStorage::fail`]). Not checked,
//! because a failure there loses nothing that was acknowledged and the operation can be retried:
//! reads, compaction (it writes new files and swaps them in crash-safely), retention, and close
//! (whose failure leaves the log for recovery at the next open).

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use ringlog_sys::mmap::MapReader;

use crate::error::AppendError;
use crate::io::{PendingSync, PendingWrite, Storage};
use crate::segment::Segment;

/// A log's view of the shared storage for its write path.
pub(crate) struct CheckedStorage {
    storage: Arc<dyn Storage>,
    /// The first failure, set once. Lock-free to read: every append checks it.
    first_failure: OnceLock<Arc<str>>,
}

impl CheckedStorage {
    pub(crate) fn new(storage: Arc<dyn Storage>) -> Self {
        CheckedStorage {
            storage,
            first_failure: OnceLock::new(),
        }
    }

    /// The first failure, if the log is poisoned.
    pub(crate) fn poisoned(&self) -> Option<Arc<str>> {
        self.first_failure.get().cloned()
    }

    /// [`AppendError::Poisoned`] once anything failed.
    pub(crate) fn check(&self) -> Result<(), AppendError> {
        match self.first_failure.get() {
            Some(cause) => Err(AppendError::Poisoned {
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Records `op` on `path` failing with `source` (the log's first failure, if it is) and
    /// returns the error to report.
    pub(crate) fn fail(&self, op: &'static str, path: PathBuf, source: io::Error) -> AppendError {
        let cause = format!("{op} {} failed: {source}", path.display());
        self.first_failure.get_or_init(|| Arc::from(cause));
        AppendError::Io { op, path, source }
    }

    fn checked<T>(
        &self,
        op: &'static str,
        segment: &Segment,
        result: io::Result<T>,
    ) -> Result<T, AppendError> {
        result.map_err(|source| self.fail(op, segment.log_path(), source))
    }

    /// [`CheckedStorage::checked`] for a poll of a pending operation: the operation back while
    /// it runs, else its checked result.
    fn checked_poll<P>(
        &self,
        op: &'static str,
        segment: &Segment,
        polled: Result<io::Result<()>, P>,
    ) -> Result<Result<(), AppendError>, P> {
        polled.map(|result| self.checked(op, segment, result))
    }

    /// Submits a write of `data` at `offset` of `segment`.
    pub(crate) fn submit_write(
        &self,
        segment: &Segment,
        data: Bytes,
        offset: u64,
    ) -> Result<PendingWrite, AppendError> {
        let submitted = self.storage.submit_write(&segment.file, data, offset);
        self.checked("write to", segment, submitted)
    }

    /// Waits for a write of `segment` to complete.
    pub(crate) fn complete_write(
        &self,
        segment: &Segment,
        pending: PendingWrite,
    ) -> Result<(), AppendError> {
        self.checked("write to", segment, pending.wait())
    }

    /// The result of a write of `segment` if it completed already, else the write back.
    pub(crate) fn try_complete_write(
        &self,
        segment: &Segment,
        pending: PendingWrite,
    ) -> Result<Result<(), AppendError>, PendingWrite> {
        self.checked_poll("write to", segment, pending.try_wait())
    }

    /// `fdatasync` of `segment`.
    pub(crate) fn sync_data(&self, segment: &Segment) -> Result<(), AppendError> {
        self.checked("fdatasync", segment, self.storage.sync_data(&segment.file))
    }

    /// Whether syncs can be submitted without waiting (see [`Storage::syncs_async`]).
    pub(crate) fn syncs_async(&self) -> bool {
        self.storage.syncs_async()
    }

    /// Submits an `fdatasync` of `segment` without waiting for it.
    pub(crate) fn submit_sync(&self, segment: &Segment) -> Result<PendingSync, AppendError> {
        let submitted = self.storage.submit_sync_data(&segment.file);
        self.checked("fdatasync", segment, submitted)
    }

    /// Waits for a submitted `fdatasync` of `segment`.
    pub(crate) fn complete_sync(
        &self,
        segment: &Segment,
        pending: PendingSync,
    ) -> Result<(), AppendError> {
        self.checked("fdatasync", segment, pending.wait())
    }

    /// The result of a submitted `fdatasync` of `segment` if it completed, else the sync back.
    pub(crate) fn try_complete_sync(
        &self,
        segment: &Segment,
        pending: PendingSync,
    ) -> Result<Result<(), AppendError>, PendingSync> {
        self.checked_poll("fdatasync", segment, pending.try_wait())
    }

    /// `msync` of `[offset, offset + len)` of `segment`'s mapping.
    pub(crate) fn sync_mapped(
        &self,
        segment: &Segment,
        map: &MapReader,
        offset: usize,
        len: usize,
    ) -> Result<(), AppendError> {
        let synced = self.storage.sync_mapped(map, offset, len);
        self.checked("msync", segment, synced)
    }

    /// Preallocates `[offset, offset + len)` of `segment`.
    pub(crate) fn allocate(
        &self,
        segment: &Segment,
        offset: u64,
        len: u64,
    ) -> Result<(), AppendError> {
        let allocated = self.storage.allocate(&segment.file, offset, len);
        self.checked("fallocate", segment, allocated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_is_kept_and_refuses_everything_after() {
        let checked =
            CheckedStorage::new(Arc::new(crate::io::portable::PortableStorage::new(None)));
        assert!(checked.check().is_ok());
        let first = checked.fail(
            "fdatasync",
            PathBuf::from("/a.log"),
            io::Error::other("one"),
        );
        assert!(matches!(
            first,
            AppendError::Io {
                op: "fdatasync",
                ..
            }
        ));
        checked.fail("write to", PathBuf::from("/b.log"), io::Error::other("two"));
        let cause = checked.poisoned().expect("poisoned");
        assert!(cause.contains("fdatasync /a.log failed: one"), "{cause}");
        match checked.check() {
            Err(AppendError::Poisoned { cause }) => assert!(cause.contains("/a.log")),
            other => panic!("{other:?}"),
        }
    }
}
