//! Helpers shared by the topic-layer integration tests (`topic_*.rs`): opening a manager on one
//! I/O path, building records, and reading a partition back through the topic API, decoding
//! every batch with [`ringlog::record::records`].
//!
//! A test file using it declares `mod common;` before `mod topic_common;`.

#![allow(
    dead_code,
    reason = "each test crate uses a different subset of the helpers"
)]

use std::path::Path;

use ringlog::record::{BatchLimits, Record, peek_batch_bytes, records, validate_batch};
use ringlog::{IoMode, SharedConfig, TopicManager, TopicManagerConfig};

use crate::common::io_mode_allows;

/// The fetch budget used to read whole partitions back.
pub const READ_BACK_BYTES: usize = 64 * 1024;

/// The default manager configuration on `io_mode`.
pub fn manager_config(io_mode: IoMode) -> TopicManagerConfig {
    TopicManagerConfig {
        shared: SharedConfig {
            io_mode,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Opens the manager of `data_dir` on `io_mode` and checks it runs on that path.
pub fn open_manager(data_dir: &Path, io_mode: IoMode) -> TopicManager {
    let manager = TopicManager::open(data_dir, manager_config(io_mode)).unwrap_or_else(|e| {
        panic!(
            "open topic manager in {} on io mode {}: {e}",
            data_dir.display(),
            io_mode.name()
        )
    });
    let path = manager.io_path();
    assert!(
        io_mode_allows(io_mode, path),
        "asked for io mode {} but the manager runs on {path}",
        io_mode.name()
    );
    manager
}

/// A record with `key` and `value`, no headers, timestamp 1.
pub fn record<'a>(key: Option<&'a [u8]>, value: &'a [u8]) -> Record<'a> {
    Record {
        key,
        value: Some(value),
        timestamp_ms: 1,
        headers: &[],
    }
}

/// One record as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Its offset.
    pub offset: u64,
    /// Its key.
    pub key: Option<Vec<u8>>,
    /// Its value.
    pub value: Option<Vec<u8>>,
}

/// One batch of fetched bytes: its first and last offsets and its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSpan {
    /// Offset of its first record.
    pub base_offset: u64,
    /// Offset of its last record.
    pub last_offset: u64,
    /// Its size in bytes, log overhead included.
    pub total_bytes: usize,
}

/// Splits fetched bytes into whole, valid batches; panics on anything else.
pub fn batch_spans(bytes: &[u8]) -> Vec<BatchSpan> {
    let limits = BatchLimits {
        max_batch_bytes: usize::MAX,
        require_contiguous_offsets: true,
    };
    let mut spans = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let total = peek_batch_bytes(&bytes[pos..], usize::MAX)
            .unwrap_or_else(|e| panic!("no batch at byte {pos} of fetched bytes: {e}"));
        assert!(
            pos + total <= bytes.len(),
            "fetched bytes end inside the batch at byte {pos}"
        );
        let header = validate_batch(&bytes[pos..pos + total], &limits)
            .unwrap_or_else(|e| panic!("invalid batch at byte {pos} of fetched bytes: {e}"));
        spans.push(BatchSpan {
            base_offset: header.base_offset as u64,
            last_offset: header.last_offset() as u64,
            total_bytes: total,
        });
        pos += total;
    }
    spans
}

/// Every record of the whole batches in `bytes`.
pub fn decode(bytes: &[u8]) -> Vec<Decoded> {
    let mut out = Vec::new();
    let mut pos = 0;
    for span in batch_spans(bytes) {
        let batch = &bytes[pos..pos + span.total_bytes];
        for record in records(batch).expect("a validated batch decodes") {
            let record = record.expect("a validated batch's records decode");
            out.push(Decoded {
                offset: record.offset as u64,
                key: record.key.map(<[u8]>::to_vec),
                value: record.value.map(<[u8]>::to_vec),
            });
        }
        pos += span.total_bytes;
    }
    out
}

/// Every record of one partition, fetched through the manager from its start offset to its
/// end, with contiguous offsets.
pub fn read_partition(manager: &TopicManager, topic: &str, partition: u32) -> Vec<Decoded> {
    let log = manager
        .partition(topic, partition)
        .unwrap_or_else(|e| panic!("partition {partition} of {topic:?}: {e}"));
    let mut offset = log.start_offset();
    let mut out = Vec::new();
    loop {
        let fetched = manager
            .fetch(topic, partition, offset, READ_BACK_BYTES)
            .unwrap_or_else(|e| panic!("fetch {topic:?}/{partition} at {offset}: {e}"));
        if fetched.bytes.is_empty() {
            assert_eq!(
                offset, fetched.high_watermark,
                "{topic:?}/{partition}: an empty fetch before the log end"
            );
            break;
        }
        for record in decode(&fetched.bytes) {
            if record.offset < offset {
                continue;
            }
            assert_eq!(
                record.offset, offset,
                "{topic:?}/{partition}: offsets are contiguous"
            );
            offset += 1;
            out.push(record);
        }
        assert_eq!(
            fetched.next_fetch_offset, offset,
            "{topic:?}/{partition}: next_fetch_offset is one past the last record"
        );
    }
    out
}

/// Names of the entries of `dir`, sorted.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|e| e.expect("list").file_name().to_string_lossy().into_owned())
        // The directory lock of a manager that holds (or held) it is not the test's business.
        .filter(|name| name != ringlog::lock::LOCK_FILE)
        .collect();
    names.sort();
    names
}
