//! Kafka's error codes (from Kafka's `Errors.java`) and the engine's errors mapped onto them.

use ringlog::{AppendError, ReadError, TopicError};

/// Kafka error codes used here.
pub mod code {
    /// No error.
    pub const NONE: i16 = 0;
    /// An unexpected server error.
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    /// The fetch offset is outside the log.
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    /// A batch failed its CRC, is malformed, or breaks a topic's rules.
    pub const CORRUPT_MESSAGE: i16 = 2;
    /// No such topic or partition here.
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    /// The partition cannot take writes (its log is closed).
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    /// A batch is larger than the topic allows.
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    /// No group coordinator here (consumer groups are not supported yet).
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    /// A topic name breaks Kafka's rules.
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    /// A duplicate batch's original did not become durable in time.
    pub const REQUEST_TIMED_OUT: i16 = 7;
    /// `acks` is not 0, 1 or -1.
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    /// A record timestamp is outside the accepted window.
    pub const INVALID_TIMESTAMP: i16 = 32;
    /// The API version is not supported.
    pub const UNSUPPORTED_VERSION: i16 = 35;
    /// The topic exists already.
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    /// The partition count is out of range.
    pub const INVALID_PARTITIONS: i16 = 37;
    /// Replication factor other than 1 on this single node.
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    /// An idempotent batch's sequence does not follow its producer's last one.
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    /// An idempotent batch from an older producer epoch than the partition has seen.
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    /// Manual replica assignment is not supported on one node.
    pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    /// A topic setting is unknown or out of range.
    pub const INVALID_CONFIG: i16 = 40;
    /// The request is well formed but not acceptable.
    pub const INVALID_REQUEST: i16 = 42;
    /// Transactions are not supported yet.
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    /// The log failed a write or sync and refuses writes (or a read failed).
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    /// The batch's compression codec is not supported.
    pub const UNSUPPORTED_COMPRESSION_TYPE: i16 = 76;
    /// A record breaks the topic's rules (a compacted topic needs keys).
    pub const INVALID_RECORD: i16 = 87;
}

/// A Kafka error code and the message sent beside it where the response has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaError {
    /// The code.
    pub code: i16,
    /// What went wrong, for the client's log.
    pub message: String,
}

impl KafkaError {
    /// An error with `code` and `message`.
    pub fn new(code: i16, message: impl Into<String>) -> Self {
        KafkaError {
            code,
            message: message.into(),
        }
    }
}

/// The code of an append's error.
pub fn append_code(error: &AppendError) -> i16 {
    match error {
        AppendError::InvalidBatch(ringlog::record::BatchError::Compressed { .. }) => {
            code::UNSUPPORTED_COMPRESSION_TYPE
        }
        AppendError::InvalidBatch(_)
        | AppendError::TrailingBytes { .. }
        | AppendError::Empty
        | AppendError::OffsetOverflow { .. } => code::CORRUPT_MESSAGE,
        AppendError::TooLarge { .. } => code::MESSAGE_TOO_LARGE,
        AppendError::InvalidTimestamp { .. } => code::INVALID_TIMESTAMP,
        AppendError::KeyRequired { .. } => code::INVALID_RECORD,
        AppendError::Closed | AppendError::ReadOnly => code::NOT_LEADER_OR_FOLLOWER,
        _ => code::KAFKA_STORAGE_ERROR,
    }
}

/// The code of a read's error.
pub fn read_code(error: &ReadError) -> i16 {
    match error {
        ReadError::OffsetOutOfRange { .. } => code::OFFSET_OUT_OF_RANGE,
        _ => code::KAFKA_STORAGE_ERROR,
    }
}

/// The code of a topic operation's error.
pub fn topic_code(error: &TopicError) -> i16 {
    match error {
        TopicError::InvalidName(_) | TopicError::Collides { .. } => code::INVALID_TOPIC_EXCEPTION,
        TopicError::InvalidConfig { .. } => code::INVALID_CONFIG,
        TopicError::AlreadyExists { .. } => code::TOPIC_ALREADY_EXISTS,
        TopicError::UnknownTopic { .. } | TopicError::UnknownPartition { .. } => {
            code::UNKNOWN_TOPIC_OR_PARTITION
        }
        TopicError::PartitionsCannotShrink { .. } => code::INVALID_PARTITIONS,
        TopicError::Append { source, .. } => append_code(source),
        TopicError::Read { source, .. } => read_code(source),
        _ => code::KAFKA_STORAGE_ERROR,
    }
}

impl From<&TopicError> for KafkaError {
    fn from(error: &TopicError) -> Self {
        KafkaError::new(topic_code(error), error.to_string())
    }
}
