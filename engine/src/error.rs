//! Error types, one per operation family, with messages written for the operator.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use ringlog_sys::UringError;
use ringlog_sys::direct::DirectIoError;

use crate::config::CleanupPolicy;
use crate::record::BatchError;

/// Opening (and recovering) a partition log failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A setting is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// io_uring was required (`IoMode::Uring`) but cannot be used; the message names the cause
    /// and the fix.
    #[error(transparent)]
    Uring(#[from] UringError),
    /// Direct I/O was probed and failed for a reason other than the filesystem refusing it.
    #[error(transparent)]
    DirectIo(#[from] DirectIoError),
    /// A file operation failed.
    #[error(
        "{op} {path} failed: {source}{hint}",
        hint = disk_full_hint(.source, "open the log again")
    )]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A file in the log directory looks like a segment file but its name is not a 20-digit
    /// base offset.
    #[error("{path} is not a segment file name: expected a 20-digit base offset")]
    BadFileName {
        /// The offending file.
        path: PathBuf,
    },
    /// A sealed segment is damaged in a way recovery must not repair by truncation (it is
    /// followed by newer segments, so truncating it would drop acknowledged data).
    #[error("sealed segment {path} is corrupt at byte {position}: {source}")]
    CorruptSealedSegment {
        /// The segment's `.log` file.
        path: PathBuf,
        /// Byte position of the damaged batch.
        position: u64,
        /// What is wrong with it.
        source: BatchError,
    },
    /// Another opener (in this process or another) holds the directory's lock: one writing
    /// process per directory, or a live writer and a recovering opener would destroy each
    /// other's data.
    #[error(
        "{dir} is in use by another process{holder}: one process at a time may open a log directory for writing; stop that process, or use a read-only command (logtool dump, verify, topics list, topics describe)",
        holder = holder_pid.map_or_else(String::new, |pid| format!(" (pid {pid})"))
    )]
    Locked {
        /// The locked directory.
        dir: PathBuf,
        /// The holder's pid, as it wrote it into the lock file, when readable.
        holder_pid: Option<u32>,
    },
    /// A read-only open found no log in the directory (a read-only open creates nothing).
    #[error("{dir} holds no segment files: a read-only open needs an existing log")]
    NoLog {
        /// The directory.
        dir: PathBuf,
    },
    /// Offsets of two segments overlap or go backwards.
    #[error(
        "segment {path} starts at offset {base_offset} but the previous segment ends at {previous_next_offset}"
    )]
    OffsetsOverlap {
        /// The later segment's `.log` file.
        path: PathBuf,
        /// Its base offset.
        base_offset: u64,
        /// The next offset after the previous segment.
        previous_next_offset: u64,
    },
}

/// An append failed. Nothing of the failed append was acknowledged; what was acknowledged
/// before stays.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// An earlier write or `fdatasync` failed. The kernel may have dropped the dirty data, so
    /// retrying would lie; the log refuses writes until it is reopened, which recovers what
    /// reached disk.
    #[error(
        "the log refuses writes since an earlier failure ({cause}); reopen it to recover what was acknowledged"
    )]
    Poisoned {
        /// The first failure.
        cause: Arc<str>,
    },
    /// The batch from the wire is malformed.
    #[error("invalid batch: {0}")]
    InvalidBatch(#[from] BatchError),
    /// The batch is larger than `max_batch_bytes`.
    #[error("batch of {bytes} bytes exceeds max_batch_bytes ({max})")]
    TooLarge {
        /// Size of the batch including its 12-byte log overhead.
        bytes: usize,
        /// The configured limit.
        max: usize,
    },
    /// An append needs at least one record.
    #[error("an append needs at least one record")]
    Empty,
    /// The buffer given to `append_batch` holds more than the one batch its header describes.
    #[error(
        "the buffer holds {given_bytes} bytes but its batch is {batch_bytes} bytes: append one batch at a time"
    )]
    TrailingBytes {
        /// Size of the batch from its header.
        batch_bytes: usize,
        /// Size of the buffer given.
        given_bytes: usize,
    },
    /// Offsets would exceed `i64::MAX`.
    #[error(
        "offset overflow: the log is at offset {next_offset} and the batch holds {records} records"
    )]
    OffsetOverflow {
        /// The log's next offset.
        next_offset: u64,
        /// Records in the batch.
        records: usize,
    },
    /// A write, `fdatasync`, `fallocate` or segment roll failed; the log is poisoned from now on.
    #[error(
        "{op} {path} failed: {source}; the log refuses further writes{hint}",
        hint = disk_full_hint(.source, "reopen the log")
    )]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A read the append needed failed. Nothing was appended and nothing acknowledged is at
    /// risk: the log stays writable and the append can be retried. (The read of the active
    /// segment's last partial page, which gave this before, is now part of the open.)
    #[error("{0}; nothing was appended and the log still accepts writes")]
    Read(#[source] ReadError),
    /// The log was closed.
    #[error("the log is closed")]
    Closed,
    /// The log was opened read-only ([`crate::Log::open_read_only`]).
    #[error("the log was opened read-only; open it with Log::open to write")]
    ReadOnly,
    /// A record's timestamp lies outside the window that `timestamp_before_max_ms` and
    /// `timestamp_after_max_ms` allow around the wall clock at append (Kafka's
    /// `InvalidTimestampException`, error `INVALID_TIMESTAMP`). Nothing of the batch was
    /// appended and the log stays writable.
    #[error(
        "record {index} has timestamp {timestamp_ms} ms, outside [{earliest_ms}, {latest_ms}]: at most timestamp_before_max_ms before and timestamp_after_max_ms after the wall clock ({now_ms}); fix the producer's clock or timestamps, or raise the limits"
    )]
    InvalidTimestamp {
        /// Index of the first offending record in the batch, from 0.
        index: usize,
        /// Its timestamp, in ms since the Unix epoch.
        timestamp_ms: i64,
        /// The wall clock at append, in ms since the Unix epoch.
        now_ms: i64,
        /// The earliest timestamp accepted.
        earliest_ms: i64,
        /// The latest timestamp accepted.
        latest_ms: i64,
    },
    /// A compacted log (`cleanup.policy=compact`) needs a key on every record.
    #[error(
        "record {index} has no key, but the log is compacted (cleanup.policy=compact) and compaction keeps the latest record per key"
    )]
    KeyRequired {
        /// Index of the first record without a key in the batch.
        index: usize,
    },
}

/// A fetch, record read or timestamp lookup failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The offset is outside `[log_start_offset, next_offset]`.
    #[error("offset {requested} is out of range: the log holds offsets [{start}, {end})")]
    OffsetOutOfRange {
        /// The offset asked for.
        requested: u64,
        /// The earliest offset the log holds.
        start: u64,
        /// The next offset to be assigned.
        end: u64,
    },
    /// A read failed.
    #[error("{op} {path} failed: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Bytes read back from a segment do not form a valid batch.
    #[error("segment {path} is corrupt at byte {position}: {source}")]
    Corrupt {
        /// The segment's `.log` file.
        path: PathBuf,
        /// Byte position of the damaged batch.
        position: u64,
        /// What is wrong with it.
        source: BatchError,
    },
}

/// Retention, flush or close failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaintenanceError {
    /// The log is poisoned (see [`AppendError::Poisoned`]).
    #[error(
        "the log refuses writes since an earlier failure ({cause}); reopen it to recover what was acknowledged"
    )]
    Poisoned {
        /// The first failure.
        cause: Arc<str>,
    },
    /// A file operation failed.
    #[error(
        "{op} {path} failed: {source}{hint}",
        hint = disk_full_hint(.source, "retry")
    )]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Reading a segment failed (or found a corrupt batch) during compaction.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The log was opened read-only ([`crate::Log::open_read_only`]).
    #[error("the log was opened read-only: retention, compaction and flushes need Log::open")]
    ReadOnly,
    /// Compaction cannot proceed.
    #[error("compaction of {path}: {reason}")]
    Compaction {
        /// The partition directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Compaction was asked of a log whose cleanup policy is not `compact`: its records may
    /// lack keys, and its old data is retention's to delete.
    #[error(
        "{path} has cleanup policy {policy}, and only a log with cleanup policy compact is compacted; open it with cleanup_policy Compact, or use retention",
        policy = .policy.name()
    )]
    NotCompacted {
        /// The partition directory.
        path: PathBuf,
        /// The log's policy.
        policy: CleanupPolicy,
    },
    /// The log was closed (or its topic deleted) before the compaction or retention could run;
    /// nothing was changed.
    #[error(
        "{path} is closed (or its topic was deleted), so it is not maintained; reopen the log to compact it or enforce retention"
    )]
    Closed {
        /// The partition directory.
        path: PathBuf,
    },
}

impl From<AppendError> for MaintenanceError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Poisoned { cause } => MaintenanceError::Poisoned { cause },
            AppendError::Io { op, path, source } => MaintenanceError::Io { op, path, source },
            AppendError::ReadOnly => MaintenanceError::ReadOnly,
            other => MaintenanceError::Io {
                op: "flush",
                path: PathBuf::new(),
                source: io::Error::other(other.to_string()),
            },
        }
    }
}

/// What to do when `source` says the filesystem is full (ENOSPC) or the quota is spent
/// (EDQUOT): free space, then `then`. Empty for any other error.
fn disk_full_hint(source: &io::Error, then: &str) -> String {
    match source.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
            format!("; the filesystem is full: free space on it, then {then}")
        }
        _ => String::new(),
    }
}
