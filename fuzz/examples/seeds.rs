//! Writes the seed inputs of every fuzz target: valid batches, segments and indexes written by
//! the engine itself, and topic metadata as the engine writes it, plus a few damaged variants.
//!
//!   cd fuzz && cargo +nightly run --example seeds [-- CORPUS_DIR]   # default: corpus
//!
//! Seeds are named `seed-*`, so rerunning this replaces them and leaves the fuzzers' own
//! corpus entries alone.

use std::fs;
use std::path::{Path, PathBuf};

use ringlog::record::{BatchOptions, Header, Record, TimestampType};
use ringlog::segment::{INDEX_EXTENSION, LOG_EXTENSION, TIME_INDEX_EXTENSION, file_name};
use ringlog::topic::TopicConfig;
use ringlog::topic::metadata::{TopicMetadata, TopicState};
use ringlog::{CleanupPolicy, Config, Durability, IoMode, Log};
use ringlog_fuzz::batches::{bare_batch, encode, sample_batch};
use ringlog_fuzz::index_input::IndexInput;
use ringlog_fuzz::segment_input::{MAX_BATCH_BYTES, SegmentInput};

const TIMESTAMP_MS: i64 = 1_700_000_000_000;

fn main() {
    let root = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("corpus"), PathBuf::from);
    batch_seeds(&root.join("batch_decode"));
    let segment = engine_segment();
    segment_seeds(&root.join("recovery_scan"), &segment);
    index_seeds(&root.join("index_load"), &segment);
    metadata_seeds(&root.join("topic_metadata"));
}

fn put(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("create the corpus directory");
    fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
}

fn batch_seeds(dir: &Path) {
    put(dir, "one-record", &sample_batch(0, 1, TIMESTAMP_MS));
    put(dir, "seven-records", &sample_batch(42, 7, TIMESTAMP_MS));
    let headers = [Header {
        key: "k\u{e9}y",
        value: Some(b"v"),
    }];
    let extremes = [i64::MIN, i64::MAX, -1].map(|timestamp_ms| Record {
        key: None,
        value: Some(b""),
        timestamp_ms,
        headers: &headers,
    });
    put(
        dir,
        "extreme-timestamps",
        &encode(0, &extremes, &BatchOptions::default()),
    );
    let options = BatchOptions {
        timestamp_type: TimestampType::LogAppendTime,
        producer_id: 7,
        producer_epoch: 1,
        base_sequence: 0,
        partition_leader_epoch: 3,
    };
    put(dir, "log-append-time", &encode(9, &extremes[2..], &options));
    put(dir, "compacted", &bare_batch(0, &[0, 2], 3));
    put(dir, "empty-batch", &bare_batch(0, &[], 0));
}

/// A segment written by the engine: (.log, .index, .timeindex) bytes, with several index
/// entries.
fn engine_segment() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let tmp = std::env::temp_dir().join(format!("ringlog-seeds-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let config = Config {
        index_interval_bytes: 256,
        durability: Durability::None,
        flush_interval_ms: None,
        retention_check_interval_ms: None,
        cleanup_policy: CleanupPolicy::Delete,
        io_mode: IoMode::Portable,
        ..Config::default()
    };
    let log = Log::open(&tmp, config).expect("open a scratch log");
    for i in 0..12 {
        let batch = sample_batch(0, 1 + i % 4, TIMESTAMP_MS + i as i64 * 1000);
        log.append_batch(&batch).expect("append a seed batch");
    }
    log.close().expect("close the scratch log");
    drop(log);
    let read = |extension: &str| fs::read(tmp.join(file_name(0, extension))).expect("read");
    let files = (
        read(LOG_EXTENSION),
        read(INDEX_EXTENSION),
        read(TIME_INDEX_EXTENSION),
    );
    assert!(
        !files.1.is_empty(),
        "the seed segment has offset-index entries"
    );
    fs::remove_dir_all(&tmp).expect("remove the scratch log");
    files
}

fn segment_seeds(dir: &Path, (log, index, time_index): &(Vec<u8>, Vec<u8>, Vec<u8>)) {
    fn input(log: &[u8]) -> SegmentInput<'_> {
        SegmentInput {
            max_batch_bytes: MAX_BATCH_BYTES[3],
            segment_base: 0,
            sealed: false,
            indexes: None,
            reseal: false,
            log,
        }
    }
    put(dir, "active", &input(log).to_bytes());
    put(dir, "torn-tail", &input(&log[..log.len() - 20]).to_bytes());
    let mut zeros = log.clone();
    zeros.extend_from_slice(&[0; 4096]);
    put(dir, "zero-tail", &input(&zeros).to_bytes());
    put(
        dir,
        "sealed",
        &SegmentInput {
            sealed: true,
            ..input(log)
        }
        .to_bytes(),
    );
    put(
        dir,
        "indexed",
        &SegmentInput {
            indexes: Some((index, time_index)),
            ..input(log)
        }
        .to_bytes(),
    );
    put(
        dir,
        "small-max-batch",
        &SegmentInput {
            max_batch_bytes: MAX_BATCH_BYTES[0],
            reseal: true,
            ..input(log)
        }
        .to_bytes(),
    );
    // Batches based at 1000: an empty one, then a gap in the offsets, then compacted records.
    // No segment the engine writes looks like this, but recovery takes what validates.
    let mut based = bare_batch(1000, &[], 0);
    based.extend_from_slice(&sample_batch(1001, 3, TIMESTAMP_MS));
    based.extend_from_slice(&sample_batch(1010, 2, TIMESTAMP_MS));
    based.extend_from_slice(&bare_batch(1020, &[1, 3], 5));
    put(
        dir,
        "based-with-gap",
        &SegmentInput {
            segment_base: 1000,
            reseal: true,
            ..input(&based)
        }
        .to_bytes(),
    );
}

fn index_seeds(dir: &Path, (log, index, time_index): &(Vec<u8>, Vec<u8>, Vec<u8>)) {
    let engine = IndexInput {
        log_bytes: log.len() as u64,
        max_relative_offset: 29,
        index,
        time_index,
    };
    put(dir, "engine", &engine.to_bytes());
    put(
        dir,
        "empty",
        &IndexInput {
            index: &[],
            time_index: &[],
            ..engine
        }
        .to_bytes(),
    );
    // A preallocated index left untrimmed by a crash ends in zero entries.
    let mut untrimmed = index.clone();
    untrimmed.extend_from_slice(&[0; 16]);
    put(
        dir,
        "untrimmed",
        &IndexInput {
            index: &untrimmed,
            ..engine
        }
        .to_bytes(),
    );
}

fn metadata_seeds(dir: &Path) {
    let metadata = |config: TopicConfig, state: TopicState| TopicMetadata {
        name: "fuzz-topic".to_owned(),
        state,
        config,
    };
    let json = |m: &TopicMetadata| serde_json::to_vec_pretty(m).expect("metadata serializes");
    put(
        dir,
        "default",
        &json(&metadata(TopicConfig::default(), TopicState::Live)),
    );
    put(
        dir,
        "compacted",
        &json(&metadata(
            TopicConfig {
                partitions: 12,
                cleanup_policy: CleanupPolicy::Compact,
                retention_bytes: Some(1 << 30),
                retention_ms: None,
                segment_bytes: 1 << 20,
                durability: Durability::Sync,
                min_cleanable_dirty_ratio: 0.1,
                delete_retention_ms: 0,
            },
            TopicState::Creating,
        )),
    );
    let mut other = metadata(TopicConfig::default(), TopicState::Deleting);
    "other".clone_into(&mut other.name);
    put(dir, "name-mismatch", &json(&other));
}
