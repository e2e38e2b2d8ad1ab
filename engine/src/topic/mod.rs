//! Topics: named sets of partition logs laid out as Kafka lays them out
//! (`<data_dir>/<topic>-<partition>/`), Kafka's default partitioner, and per-topic settings.

pub mod manager;
pub mod metadata;
pub mod name;
pub mod partitioner;

use serde::{Deserialize, Serialize};

use crate::config::{CleanupPolicy, DEFAULT_SEGMENT_BYTES, Durability};
use crate::error::{AppendError, MaintenanceError, OpenError, ReadError};
pub use manager::{
    PartitionDescription, PartitionFetch, PartitionFetched, ProduceResult, TopicDescription,
    TopicManager, TopicManagerConfig,
};
pub use name::{TopicNameError, validate_topic_name};

/// Kafka's default `retention.ms`: 7 days.
pub const DEFAULT_TOPIC_RETENTION_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// Kafka's default `delete.retention.ms`: how long tombstones survive in the cleaned part of a
/// compacted topic, 1 day.
pub const DEFAULT_DELETE_RETENTION_MS: u64 = 24 * 60 * 60 * 1000;
/// Kafka's default `min.cleanable.dirty.ratio`.
pub const DEFAULT_MIN_CLEANABLE_DIRTY_RATIO: f64 = 0.5;
/// Most partitions one topic may have here (a guard against typos, not a format limit).
pub const MAX_PARTITIONS: u32 = 100_000;

/// Settings of one topic, stored in its metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicConfig {
    /// Number of partitions (only ever grows).
    pub partitions: u32,
    /// Retention (`delete`) or compaction (`compact`).
    pub cleanup_policy: CleanupPolicy,
    /// Retention by size per partition; `None` keeps everything (Kafka's -1).
    pub retention_bytes: Option<u64>,
    /// Retention by age ([`DEFAULT_TOPIC_RETENTION_MS`]); `None` keeps everything.
    pub retention_ms: Option<u64>,
    /// Segment size ([`DEFAULT_SEGMENT_BYTES`]).
    pub segment_bytes: u64,
    /// When produce is acknowledged.
    pub durability: Durability,
    /// Compaction runs when the dirty part of the sealed segments passes this fraction
    /// ([`DEFAULT_MIN_CLEANABLE_DIRTY_RATIO`]).
    pub min_cleanable_dirty_ratio: f64,
    /// How long tombstones stay once cleaned ([`DEFAULT_DELETE_RETENTION_MS`]).
    pub delete_retention_ms: u64,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            partitions: 1,
            cleanup_policy: CleanupPolicy::Delete,
            retention_bytes: None,
            retention_ms: Some(DEFAULT_TOPIC_RETENTION_MS),
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            durability: Durability::None,
            min_cleanable_dirty_ratio: DEFAULT_MIN_CLEANABLE_DIRTY_RATIO,
            delete_retention_ms: DEFAULT_DELETE_RETENTION_MS,
        }
    }
}

impl TopicConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// A message naming the setting out of range.
    pub fn validate(&self) -> Result<(), String> {
        if self.partitions == 0 || self.partitions > MAX_PARTITIONS {
            return Err(format!(
                "partitions {} is out of range [1, {MAX_PARTITIONS}]",
                self.partitions
            ));
        }
        if !(0.0..=1.0).contains(&self.min_cleanable_dirty_ratio) {
            return Err(format!(
                "min_cleanable_dirty_ratio {} is out of range [0, 1]",
                self.min_cleanable_dirty_ratio
            ));
        }
        let probe = crate::Config {
            segment_bytes: self.segment_bytes,
            max_batch_bytes: crate::config::DEFAULT_MAX_BATCH_BYTES
                .min(self.segment_bytes as usize),
            ..crate::Config::default()
        };
        probe.validate()
    }
}

/// A topic operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// The name breaks Kafka's rules.
    #[error(transparent)]
    InvalidName(#[from] TopicNameError),
    /// A setting is out of range.
    #[error("invalid configuration of topic {topic:?}: {reason}")]
    InvalidConfig {
        /// The topic.
        topic: String,
        /// What is wrong.
        reason: String,
    },
    /// The topic exists already.
    #[error("topic {topic:?} already exists")]
    AlreadyExists {
        /// The topic.
        topic: String,
    },
    /// The name differs from an existing topic's only by '.' versus '_', which collide in
    /// Kafka's metric names; Kafka refuses it too.
    #[error(
        "topic {topic:?} collides with existing topic {existing:?} ('.' and '_' are the same in metric names)"
    )]
    Collides {
        /// The topic asked for.
        topic: String,
        /// The existing topic.
        existing: String,
    },
    /// No such topic.
    #[error("unknown topic {topic:?}")]
    UnknownTopic {
        /// The topic.
        topic: String,
    },
    /// No such partition.
    #[error("topic {topic:?} has no partition {partition}: it has {partitions}")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: u32,
        /// How many partitions the topic has.
        partitions: u32,
    },
    /// Another create, delete or partition change of this topic is in progress.
    #[error("topic {topic:?} is being created, deleted or changed by another call")]
    Busy {
        /// The topic.
        topic: String,
    },
    /// Partitions can only be added.
    #[error(
        "topic {topic:?} has {current} partitions; the count can only grow, not become {requested}"
    )]
    PartitionsCannotShrink {
        /// The topic.
        topic: String,
        /// Current count.
        current: u32,
        /// Count asked for.
        requested: u32,
    },
    /// Metadata could not be read or written.
    #[error("topic metadata {path}: {reason}")]
    Metadata {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A file operation failed.
    #[error("{op} {path} failed: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Setting up the I/O resources every partition shares (io_uring, the O_DIRECT probe of
    /// the data directory) failed; the message names the directory.
    #[error(transparent)]
    Setup(OpenError),
    /// The topic manager was opened read-only ([`TopicManager::open_read_only`]).
    #[error(
        "{data_dir} was opened read-only: creating, deleting or growing topics needs TopicManager::open"
    )]
    ReadOnly {
        /// The data directory.
        data_dir: std::path::PathBuf,
    },
    /// Opening a partition failed.
    #[error("partition {partition} of topic {topic:?}: {source}")]
    Open {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// Why.
        source: OpenError,
    },
    /// Producing failed. A produce routed to several partitions appends one batch per
    /// partition; those appended before the failure stay, and `written` says which.
    #[error("produce to partition {partition} of topic {topic:?}: {source}")]
    Append {
        /// The topic.
        topic: String,
        /// The partition that failed.
        partition: u32,
        /// Why.
        source: AppendError,
        /// Batches of the same call already appended to other partitions.
        written: Vec<ProduceResult>,
    },
    /// Fetching failed.
    #[error("fetch from partition {partition} of topic {topic:?}: {source}")]
    Read {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// Why.
        source: ReadError,
    },
    /// Retention or compaction failed.
    #[error("maintenance of partition {partition} of topic {topic:?}: {source}")]
    Maintenance {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// Why.
        source: MaintenanceError,
    },
}
