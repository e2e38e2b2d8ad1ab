//! No read API returns, or points at, a record at or above the high watermark, on every I/O
//! path. Records above it are made with `Durability::Sync` and a storage wrapper that holds the
//! active segment's sync (`held_sync::HeldSync`): the append's bytes are written and readable
//! by the engine, but not acknowledged.
//!
//! - A fetch (and `read_records`, and the topic manager's `fetch_many`) at an offset in a gap
//!   at the end of the last sealed segment (as compaction leaves them) is sent to the active segment,
//!   whose first batch is then above the high watermark: it must return nothing, and return
//!   that batch once it is acknowledged.
//! - `offset_for_timestamp` must not answer with an offset at or above the high watermark.

mod common;
mod held_sync;

use std::path::Path;
use std::sync::Arc;

use common::{config, for_each_io_mode, now_ms, shared_config};
use held_sync::HeldSync;
use ringlog::record::{BatchHeader, Record};
use ringlog::segment::{INDEX_EXTENSION, LOG_EXTENSION, TIME_INDEX_EXTENSION, file_name};
use ringlog::topic::PartitionFetch;
use ringlog::{
    CleanupPolicy, Config, Durability, IoMode, Log, TopicConfig, TopicManager, TopicManagerConfig,
};

/// Segment size. The batches below are sized against it so that the log rolls exactly where
/// the scenario needs: `A` alone in the first segment, `B1` and the tombstone batch `B2` in the
/// second, the held batch first in the third.
const SEGMENT_BYTES: u64 = 16 * 1024;
const MAX_BATCH_BYTES: usize = 12 * 1024;
/// Records of batch `A` and their value size (about 7.6 KiB in all).
const A_RECORDS: usize = 5;
const A_VALUE_BYTES: usize = 1500;
/// The value of `B1`: it does not fit after `A` (the log rolls), `B2` fits after it.
const B1_VALUE_BYTES: usize = 10_000;
/// The value of the held batch: it does not fit after `B1` and `B2` (the log rolls again).
const HELD_VALUE_BYTES: usize = 8000;
const TOPIC: &str = "gaps";

fn log_config(io_mode: IoMode) -> Config {
    Config {
        durability: Durability::Sync,
        flush_interval_ms: None,
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: MAX_BATCH_BYTES,
        cleanup_policy: CleanupPolicy::Compact,
        ..config(io_mode)
    }
}

fn append(log: &Log, records: &[Record<'_>]) -> u64 {
    log.append(records).expect("append succeeds").base_offset
}

fn record<'a>(key: &'a [u8], value: Option<&'a [u8]>, timestamp_ms: i64) -> Record<'a> {
    Record {
        key: Some(key),
        value,
        timestamp_ms,
        headers: &[],
    }
}

/// A log whose last sealed segment ends in a gap, with a batch above the high watermark right
/// after it, first in the active segment.
struct Gap {
    /// The offset missing at the end of the last sealed segment.
    gap_offset: u64,
    /// The first offset of the active segment, held above the high watermark.
    held_offset: u64,
}

/// Writes batch `A` and then `B1`, which rolls; returns the offset after `B1`, which the gap
/// will be.
fn write_before_gap(log: &Log) -> u64 {
    let ts = now_ms();
    let a_value = vec![1u8; A_VALUE_BYTES];
    let keys: Vec<Vec<u8>> = (0..A_RECORDS)
        .map(|i| format!("a{i}").into_bytes())
        .collect();
    let a: Vec<Record<'_>> = keys.iter().map(|k| record(k, Some(&a_value), ts)).collect();
    append(log, &a);
    let b1_value = vec![2u8; B1_VALUE_BYTES];
    let b1_offset = append(log, &[record(b"b1", Some(&b1_value), ts)]);
    assert_eq!(log.segment_base_offsets(), vec![0, b1_offset], "B1 rolled");
    b1_offset + 1
}

/// In the closed log in `dir`, starts an empty segment one offset past `gap_offset`: the
/// layout a compaction leaves once the tombstone that ended the last sealed segment went, and
/// the segment after it is the active one (Kafka's cleaner removes such a tombstone in a later
/// pass; ringlog's before KIP-534 did in the same pass). Compaction itself needs a later
/// dirty segment to clean a second time, which would then sit between, so the files are made
/// here.
fn add_segment_after_gap(dir: &Path, gap_offset: u64) {
    for extension in [LOG_EXTENSION, INDEX_EXTENSION, TIME_INDEX_EXTENSION] {
        std::fs::write(dir.join(file_name(gap_offset + 1, extension)), b"")
            .expect("create the segment after the gap");
    }
}

/// Holds the sync of the next append (the first batch of the active segment after the gap),
/// runs `check` meanwhile, then releases it and checks that a fetch in the gap returns the held
/// batch (and so that the gap was there).
fn with_gap(log: &Log, held: &HeldSync, gap_offset: u64, check: impl FnOnce(&Gap)) {
    let ts = now_ms();
    let held_value = vec![3u8; HELD_VALUE_BYTES];
    let held_offset = gap_offset + 1;
    assert_eq!(
        log.next_offset(),
        held_offset,
        "the log resumes after the gap"
    );
    held.hold_syncs_of(&file_name(held_offset, LOG_EXTENSION));
    std::thread::scope(|scope| {
        let _release = held.release_on_drop();
        let appender = scope.spawn(|| append(log, &[record(b"held", Some(&held_value), ts)]));
        held.wait_until_held();
        assert_eq!(
            log.segment_base_offsets().last(),
            Some(&held_offset),
            "the held batch is in the segment after the gap"
        );
        assert_eq!(
            log.high_watermark(),
            held_offset,
            "the held batch is not acknowledged"
        );
        assert_eq!(
            log.next_offset(),
            held_offset + 1,
            "the held batch is appended"
        );
        check(&Gap {
            gap_offset,
            held_offset,
        });
        held.release();
        assert_eq!(appender.join().expect("the appender"), held_offset);
    });
    // Now acknowledged: a fetch in the gap returns it (and so the gap was there).
    assert_eq!(log.high_watermark(), held_offset + 1);
    let fetched = log.fetch(gap_offset, 1 << 20).expect("fetch in the gap");
    let header = BatchHeader::parse(&fetched.bytes).expect("a batch");
    assert_eq!(
        header.base_offset as u64, held_offset,
        "the batch after the gap"
    );
    assert_eq!(fetched.next_fetch_offset, held_offset + 1);
}

fn open_held(dir: &Path, io_mode: IoMode) -> (Log, Arc<HeldSync>) {
    let (shared, held) = HeldSync::shared(dir, &shared_config(io_mode)).expect("shared");
    let log = Log::open_with(dir, log_config(io_mode), &shared).expect("open");
    common::assert_io_path(&log, io_mode);
    (log, held)
}

#[test]
fn fetch_in_a_compaction_gap_returns_nothing_above_the_high_watermark() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (log, _) = open_held(dir.path(), io_mode);
        let gap_offset = write_before_gap(&log);
        drop(log);
        add_segment_after_gap(dir.path(), gap_offset);
        let (log, held) = open_held(dir.path(), io_mode);
        with_gap(&log, &held, gap_offset, |gap| {
            let high_watermark = log.high_watermark();
            let fetched = log
                .fetch(gap.gap_offset, 1 << 20)
                .expect("fetch in the gap");
            assert!(
                fetched.bytes.is_empty(),
                "fetch at {} returned batches from offset {:?}, at or above the high watermark \
                 {high_watermark}",
                gap.gap_offset,
                BatchHeader::parse(&fetched.bytes)
                    .map(|h| h.base_offset)
                    .ok()
            );
            assert_eq!(fetched.next_fetch_offset, gap.gap_offset);
            assert_eq!(fetched.high_watermark, gap.held_offset);
            let records = log
                .read_records(gap.gap_offset, 1 << 20)
                .expect("read_records in the gap");
            assert!(
                records.iter().all(|r| r.offset < high_watermark),
                "read_records returned offsets {:?}, high watermark {high_watermark}",
                records.iter().map(|r| r.offset).collect::<Vec<_>>()
            );
        });
    });
}

#[test]
fn fetch_many_in_a_compaction_gap_returns_nothing_above_the_high_watermark() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let open_manager = || {
            let (shared, held) = HeldSync::shared(dir.path(), &shared_config(io_mode)).unwrap();
            let manager_config = TopicManagerConfig {
                shared: shared_config(io_mode),
                log: log_config(io_mode),
                cleaner_io_max_bytes_per_second: None,
            };
            let manager = TopicManager::open_with_shared(dir.path(), manager_config, shared)
                .expect("open the topic manager");
            (manager, held)
        };
        let (manager, _) = open_manager();
        manager
            .create_topic(
                TOPIC,
                TopicConfig {
                    partitions: 1,
                    cleanup_policy: CleanupPolicy::Compact,
                    retention_ms: None,
                    segment_bytes: SEGMENT_BYTES,
                    durability: Durability::Sync,
                    ..TopicConfig::default()
                },
            )
            .expect("create the topic");
        let log = manager.partition(TOPIC, 0).expect("the partition");
        let gap_offset = write_before_gap(&log);
        drop(log);
        drop(manager);
        add_segment_after_gap(&dir.path().join(format!("{TOPIC}-0")), gap_offset);
        let (manager, held) = open_manager();
        let log = manager.partition(TOPIC, 0).expect("the partition");
        with_gap(&log, &held, gap_offset, |gap| {
            let request = PartitionFetch {
                topic: TOPIC.to_owned(),
                partition: 0,
                offset: gap.gap_offset,
            };
            let answers = manager.fetch_many(&[request], 1 << 20, 1 << 20);
            let fetched = answers[0].result.as_ref().expect("fetch_many in the gap");
            assert!(
                fetched.bytes.is_empty(),
                "fetch_many at {} returned batches from offset {:?}, high watermark {}",
                gap.gap_offset,
                BatchHeader::parse(&fetched.bytes)
                    .map(|h| h.base_offset)
                    .ok(),
                gap.held_offset
            );
            assert_eq!(fetched.next_fetch_offset, gap.gap_offset);
        });
    });
}

#[test]
fn offset_for_timestamp_never_points_above_the_high_watermark() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (log, held) = open_held(dir.path(), io_mode);
        let ts = now_ms();
        let value = vec![5u8; 100];
        for i in 0..10 {
            append(&log, &[record(b"k", Some(&value), ts + i)]);
        }
        let held_offset = log.next_offset();
        let later = ts + 1000;
        held.hold_syncs_of(&file_name(0, LOG_EXTENSION));
        std::thread::scope(|scope| {
            let _release = held.release_on_drop();
            let appender = scope.spawn(|| append(&log, &[record(b"k", Some(&value), later)]));
            held.wait_until_held();
            assert_eq!(
                log.high_watermark(),
                held_offset,
                "the batch is not acknowledged"
            );
            assert_eq!(
                log.offset_for_timestamp(later).expect("lookup"),
                None,
                "only the unacknowledged record is that late"
            );
            assert_eq!(log.offset_for_timestamp(ts + 5).expect("lookup"), Some(5));
            held.release();
            assert_eq!(appender.join().expect("the appender"), held_offset);
        });
        assert_eq!(
            log.offset_for_timestamp(later).expect("lookup"),
            Some(held_offset)
        );
    });
}
