//! Retention: deleting the oldest segments by total size and by age.
//!
//! Which segments go is decided by [`choose_deletions`], a pure function over segment sizes
//! and timestamps; [`Log::enforce_retention`] carries the decision out. The active segment is
//! never deleted. Age counts from a segment's largest record timestamp, never its offsets or
//! file times, as Kafka does.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::spares::{self, Spare};
use super::{Log, LogInner};
use crate::error::MaintenanceError;
use crate::segment::{INDEX_EXTENSION, Segment, TIME_INDEX_EXTENSION};

/// What one retention pass deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Base offsets of the deleted segments.
    pub deleted_segments: Vec<u64>,
    /// Bytes of batches deleted.
    pub deleted_bytes: u64,
    /// The log start offset afterwards.
    pub start_offset: u64,
}

/// Size and age of one sealed segment, oldest first, as retention sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentStats {
    /// The segment's base offset.
    pub base_offset: u64,
    /// Bytes of batches.
    pub bytes: u64,
    /// Largest record timestamp, or -1 when unknown.
    pub max_timestamp_ms: i64,
}

/// How many of the oldest `sealed` segments to delete so the log keeps at most
/// `retention_bytes` (counting `active_bytes` too) and nothing older than `retention_ms` before
/// `now_ms`.
pub fn choose_deletions(
    sealed: &[SegmentStats],
    active_bytes: u64,
    retention_bytes: Option<u64>,
    retention_ms: Option<u64>,
    now_ms: i64,
) -> usize {
    let mut total: u64 = sealed.iter().map(|s| s.bytes).sum::<u64>() + active_bytes;
    let mut count = 0;
    for segment in sealed {
        let over_size = retention_bytes.is_some_and(|limit| total - segment.bytes >= limit);
        let expired = retention_ms.is_some_and(|limit| {
            segment.max_timestamp_ms >= 0
                && now_ms.saturating_sub(segment.max_timestamp_ms) > limit as i64
        });
        if !(over_size || expired) {
            break;
        }
        total -= segment.bytes;
        count += 1;
    }
    count
}

impl Log {
    /// Deletes the oldest sealed segments that retention (`retention_bytes`, `retention_ms`)
    /// no longer keeps, oldest first, stopping at the first segment that is kept. Waits for a
    /// running compaction of the log first: the two never overlap.
    ///
    /// # Errors
    /// [`MaintenanceError::Closed`] for a closed log. A file could not be deleted or the
    /// directory not synced; segments already deleted stay deleted and the log start offset
    /// reflects them.
    pub fn enforce_retention(&self) -> Result<RetentionReport, MaintenanceError> {
        self.enforce_retention_at(super::now_ms())
    }

    /// [`Log::enforce_retention`] with an explicit clock (tests, tools).
    ///
    /// # Errors
    /// As [`Log::enforce_retention`].
    pub fn enforce_retention_at(&self, now_ms: i64) -> Result<RetentionReport, MaintenanceError> {
        self.inner.refuse_read_only()?;
        self.inner.enforce_retention_at(now_ms)
    }
}

impl LogInner {
    /// Runs retention when `retention_check_interval_ms` passed since the last run (called by
    /// the background flusher). Failures are left for the next explicit call to report.
    pub(crate) fn retention_if_due(&self, now_ms: i64) {
        let Some(interval) = self.config.retention_check_interval_ms else {
            return;
        };
        if self.config.retention_bytes.is_none() && self.config.retention_ms.is_none()
            || self.config.cleanup_policy != crate::config::CleanupPolicy::Delete
        {
            return;
        }
        let last = self.last_retention_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < interval as i64 {
            return;
        }
        // The flusher serves every log and must not wait behind a compaction: a busy log is
        // tried again at the next pass.
        let Ok(_maintenance) = self.maintenance.try_lock() else {
            return;
        };
        if self.refuse_closed().is_err() {
            return;
        }
        self.last_retention_ms.store(now_ms, Ordering::Relaxed);
        let _ = self.delete_expired(now_ms);
    }

    pub(crate) fn enforce_retention_at(
        &self,
        now_ms: i64,
    ) -> Result<RetentionReport, MaintenanceError> {
        let _maintenance = self.lock_maintenance()?;
        self.delete_expired(now_ms)
    }

    /// Retention proper; the caller holds the maintenance lock.
    fn delete_expired(&self, now_ms: i64) -> Result<RetentionReport, MaintenanceError> {
        let inner = self;
        let doomed: Vec<Arc<Segment>> = {
            let mut segments = inner.segments.write().expect("segments lock poisoned");
            let all: Vec<Arc<Segment>> = segments.values().cloned().collect();
            let (active, sealed) = all.split_last().expect("a log has an active segment");
            let stats: Vec<SegmentStats> = sealed
                .iter()
                .map(|s| SegmentStats {
                    base_offset: s.base_offset,
                    bytes: s.data_bytes(),
                    max_timestamp_ms: s.max_timestamp(),
                })
                .collect();
            let count = choose_deletions(
                &stats,
                active.data_bytes(),
                inner.config.retention_bytes,
                inner.config.retention_ms,
                now_ms,
            );
            let doomed: Vec<Arc<Segment>> = sealed[..count].to_vec();
            for segment in &doomed {
                segments.remove(&segment.base_offset);
            }
            let start = segments
                .keys()
                .next()
                .copied()
                .expect("the active segment remains");
            inner.start_offset.store(start, Ordering::Release);
            doomed
        };
        let mut report = RetentionReport {
            start_offset: inner.start_offset.load(Ordering::Acquire),
            ..RetentionReport::default()
        };
        let mut spares = Vec::new();
        let storage = inner.shared.storage();
        for segment in doomed {
            inner.shared.cache().remove_segment(inner.id, segment.id);
            inner.read_ahead.forget_segment(segment.id);
            report.deleted_segments.push(segment.base_offset);
            report.deleted_bytes += segment.data_bytes();
            for extension in [INDEX_EXTENSION, TIME_INDEX_EXTENSION] {
                remove(storage.as_ref(), segment.path(extension))?;
            }
            if self.keeps_spare(&segment, spares.len()) {
                let path = spares::spare_path(&segment);
                storage
                    .rename(&segment.log_path(), &path)
                    .map_err(|source| MaintenanceError::Io {
                        op: "rename",
                        path: segment.log_path(),
                        source,
                    })?;
                let file = Arc::clone(&segment.file);
                spares.push(Spare { path, file });
            } else {
                remove(storage.as_ref(), segment.log_path())?;
            }
        }
        if !report.deleted_segments.is_empty() {
            storage
                .sync_dir(&inner.dir)
                .map_err(|source| MaintenanceError::Io {
                    op: "fsync directory",
                    path: inner.dir.clone(),
                    source,
                })?;
        }
        // Offered to rolls only now that their names are durable: a roll's rename of a spare
        // must not reach the disk before the rename that made it one.
        for spare in spares {
            self.spares.push(spare);
        }
        Ok(report)
    }

    /// Whether retention keeps the file of `segment` (which it deleted from the log) as a spare
    /// for a roll, `pending` more being kept in this pass: see `spares.rs`.
    fn keeps_spare(&self, segment: &Arc<Segment>, pending: usize) -> bool {
        !self.shared.uses_mmap()
            && self.spares.len() + pending < self.config.spare_segments
            && spares::unshared(segment)
    }
}

/// Deletes `path`; one already gone counts as deleted.
fn remove(
    storage: &dyn crate::io::Storage,
    path: std::path::PathBuf,
) -> Result<(), MaintenanceError> {
    match storage.remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(MaintenanceError::Io {
            op: "delete",
            path,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(base: u64, bytes: u64, ts: i64) -> SegmentStats {
        SegmentStats {
            base_offset: base,
            bytes,
            max_timestamp_ms: ts,
        }
    }

    #[test]
    fn size_retention_keeps_at_least_the_limit() {
        let sealed = [seg(0, 100, 1), seg(10, 100, 2), seg(20, 100, 3)];
        // 350 bytes in all; deleting the first leaves 250 >= 200, the second leaves 150 < 200.
        assert_eq!(choose_deletions(&sealed, 50, Some(200), None, 0), 1);
        assert_eq!(choose_deletions(&sealed, 50, Some(1000), None, 0), 0);
        assert_eq!(
            choose_deletions(&sealed, 50, Some(0), None, 0),
            3,
            "never the active one"
        );
    }

    #[test]
    fn time_retention_uses_the_largest_timestamp_and_stops_at_the_first_kept() {
        let sealed = [seg(0, 1, 1000), seg(10, 1, 5000), seg(20, 1, 1500)];
        // Only the first is older than 2000 ms at now = 4000; the third is older too but sits
        // behind a kept segment, and retention never leaves holes.
        assert_eq!(choose_deletions(&sealed, 0, None, Some(2000), 4000), 1);
        assert_eq!(choose_deletions(&sealed, 0, None, Some(2000), 100_000), 3);
        assert_eq!(
            choose_deletions(&[seg(0, 1, -1)], 0, None, Some(1), 100_000),
            0,
            "unknown age is kept"
        );
    }

    #[test]
    fn no_limits_delete_nothing() {
        assert_eq!(
            choose_deletions(&[seg(0, 100, 0)], 0, None, None, i64::MAX),
            0
        );
    }
}
