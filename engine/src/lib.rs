//! ringlog: a partition log storage engine that keeps Kafka's on-disk formats and does its I/O
//! through io_uring with O_DIRECT.
//!
//! - [`Log`]: one partition's log: append records or wire batches, fetch whole batches by
//!   offset with a byte budget, look up offsets by timestamp, roll segments, enforce retention,
//!   recover after a crash.
//! - [`record`]: Kafka RecordBatch v2, the bytes on disk and on the wire.
//! - [`segment`]: file names and the two index formats.
//! - [`Shared`]: the I/O path, buffer pool and read cache shared by many logs.
//! - [`TopicManager`]: topics of partitions laid out as Kafka's, Kafka's partitioner.
//!
//! The design (formats, durability, recovery, threading) is in `docs/design.md`.

#![forbid(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!("ringlog supports Linux only: it relies on io_uring, O_DIRECT, statx and fallocate");

pub mod buffer_pool;
pub mod cache;
pub mod compaction;
pub mod config;
pub mod error;
mod flusher;
pub mod io;
pub mod lock;
mod log;
pub mod record;
pub mod segment;
pub mod shared;
pub mod topic;

pub use config::{CleanupPolicy, Config, Durability, IoMode};
pub use error::{AppendError, MaintenanceError, OpenError, ReadError};
pub use io::IoPath;
pub use log::retention::{SegmentStats, choose_deletions};
pub use log::{
    AppendHandle, AppendInfo, CLEAN_SHUTDOWN_FILE, FetchedBatches, Log, ReadRecord,
    RetentionReport, StoredRecord,
};
pub use segment::RecoveryCut;
pub use shared::{Shared, SharedConfig};
pub use topic::{TopicConfig, TopicError, TopicManager, TopicManagerConfig};
