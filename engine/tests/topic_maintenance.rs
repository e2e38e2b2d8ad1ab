//! Maintenance through the topic manager: `maintain()` compacts a `compact` topic once its dirty
//! ratio passes `min_cleanable_dirty_ratio` (and not before) and enforces size retention on a
//! `delete` topic; `compact_topic` compacts on demand, one report per partition, and refuses a
//! `delete` topic; `start_maintenance` does the same work on a background thread; a `compact`
//! topic refuses records without a key. Runs on every I/O path.

mod common;
mod topic_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{for_each_io_mode, now_ms};
use ringlog::compaction::CLEANER_CHECKPOINT_FILE;
use ringlog::record::{BatchHeader, BatchLimits, Record, records, validate_batch};
use ringlog::segment::{LOG_EXTENSION, parse_file_name};
use ringlog::topic::manager::{MaintenanceAction, MaintenanceOutcome};
use ringlog::{AppendError, CleanupPolicy, IoMode, TopicConfig, TopicError, TopicManager};
use topic_common::open_manager;

/// The compacted topic `maintain()` works on, one partition.
const COMPACTED: &str = "compacted";
/// A compacted topic of two partitions, compacted on demand.
const ON_DEMAND: &str = "on-demand";
/// A `delete` topic with size retention.
const RETAINED: &str = "retained";
const SEGMENT_BYTES: u64 = 4096;
const RETENTION_BYTES: u64 = 3 * SEGMENT_BYTES;
const MIN_CLEANABLE_DIRTY_RATIO: f64 = 0.5;
const VALUE_BYTES: usize = 100;
/// How long to wait for the background thread.
const BACKGROUND_DEADLINE: Duration = Duration::from_secs(20);

fn compacted_topic(partitions: u32) -> TopicConfig {
    TopicConfig {
        partitions,
        cleanup_policy: CleanupPolicy::Compact,
        segment_bytes: SEGMENT_BYTES,
        min_cleanable_dirty_ratio: MIN_CLEANABLE_DIRTY_RATIO,
        ..TopicConfig::default()
    }
}

fn retained_topic() -> TopicConfig {
    TopicConfig {
        cleanup_policy: CleanupPolicy::Delete,
        segment_bytes: SEGMENT_BYTES,
        retention_bytes: Some(RETENTION_BYTES),
        retention_ms: None,
        ..TopicConfig::default()
    }
}

/// Produces one record per key, `value_seed` making each value distinct.
fn produce_keys(manager: &TopicManager, topic: &str, keys: impl Iterator<Item = String>, seed: u8) {
    for key in keys {
        let value = vec![seed; VALUE_BYTES];
        manager
            .produce(
                topic,
                None,
                &[Record {
                    key: Some(key.as_bytes()),
                    value: Some(&value),
                    timestamp_ms: now_ms(),
                    headers: &[],
                }],
            )
            .unwrap_or_else(|e| panic!("produce to {topic}: {e}"));
    }
}

/// Every record of one partition: offset → (key, value). Offsets may have gaps.
fn read_partition(
    manager: &TopicManager,
    topic: &str,
    partition: u32,
) -> BTreeMap<u64, (Vec<u8>, Option<Vec<u8>>)> {
    let log = manager.partition(topic, partition).expect("a partition");
    let limits = BatchLimits {
        max_batch_bytes: SEGMENT_BYTES as usize,
        require_contiguous_offsets: false,
    };
    let mut out = BTreeMap::new();
    let mut offset = log.start_offset();
    while offset < log.next_offset() {
        let fetched = manager
            .fetch(topic, partition, offset, 64 * 1024)
            .unwrap_or_else(|e| panic!("fetch {topic}/{partition} at {offset}: {e}"));
        assert!(!fetched.bytes.is_empty(), "nothing at {offset}");
        let mut rest = &fetched.bytes[..];
        while !rest.is_empty() {
            let header = validate_batch(rest, &limits).expect("a valid batch");
            let (batch, tail) = rest.split_at(header.total_bytes());
            for r in records(batch).expect("records decode") {
                let r = r.expect("a record decodes");
                out.insert(
                    r.offset as u64,
                    (
                        r.key.unwrap_or_default().to_vec(),
                        r.value.map(<[u8]>::to_vec),
                    ),
                );
            }
            rest = tail;
        }
        offset = fetched.next_fetch_offset;
    }
    out
}

/// The dirty ratio as the cleaner computes it, from the files of a partition directory: dirty
/// bytes (sealed segments holding an offset at or past the cleaner checkpoint) over all sealed
/// bytes. The log must have been flushed.
fn dirty_ratio(dir: &Path) -> f64 {
    let checkpoint: u64 = std::fs::read_to_string(dir.join(CLEANER_CHECKPOINT_FILE))
        .map_or(0, |text| text.trim().parse().expect("an offset"));
    let mut bases: Vec<u64> = std::fs::read_dir(dir)
        .expect("list the partition")
        .filter_map(|e| {
            parse_file_name(
                &e.expect("list").file_name().to_string_lossy(),
                LOG_EXTENSION,
            )
        })
        .collect();
    bases.sort_unstable();
    bases.pop(); // The active segment.
    let (mut dirty, mut total) = (0u64, 0u64);
    for base in bases {
        let data = std::fs::read(dir.join(ringlog::segment::file_name(base, LOG_EXTENSION)))
            .expect("read a segment");
        let (mut bytes, mut next) = (0usize, base);
        while bytes + 12 <= data.len() && data[bytes..bytes + 12].iter().any(|&b| b != 0) {
            let header = BatchHeader::parse(&data[bytes..]).expect("a batch header");
            next = header.last_offset() as u64 + 1;
            bytes += header.total_bytes();
        }
        total += bytes as u64;
        if next > checkpoint {
            dirty += bytes as u64;
        }
    }
    if total == 0 {
        0.0
    } else {
        dirty as f64 / total as f64
    }
}

fn flushed_dirty_ratio(manager: &TopicManager, topic: &str) -> f64 {
    manager
        .partition(topic, 0)
        .expect("a partition")
        .flush()
        .expect("flush");
    dirty_ratio(&manager.partition_dir(topic, 0))
}

/// The outcome of `maintain()` for partition 0 of `topic`.
fn outcome<'a>(outcomes: &'a [MaintenanceOutcome], topic: &str) -> &'a MaintenanceAction {
    let found: Vec<_> = outcomes.iter().filter(|o| o.topic == topic).collect();
    assert_eq!(found.len(), 1, "one outcome for {topic}: {outcomes:?}");
    found[0]
        .result
        .as_ref()
        .unwrap_or_else(|e| panic!("maintenance of {topic} failed: {e}"))
}

/// `maintain()` compacts only past the dirty ratio, and enforces retention on the other topic.
fn maintain_follows_the_dirty_ratio(manager: &TopicManager) {
    // Many distinct keys, so compaction keeps most bytes and later appends make a small ratio.
    produce_keys(manager, COMPACTED, (0..200).map(|k| format!("key-{k}")), 1);
    produce_keys(manager, COMPACTED, (0..40).map(|k| format!("key-{k}")), 2);
    produce_keys(manager, RETAINED, (0..300).map(|k| format!("key-{k}")), 3);
    let ratio = flushed_dirty_ratio(manager, COMPACTED);
    assert!(
        ratio > MIN_CLEANABLE_DIRTY_RATIO,
        "never cleaned: ratio {ratio}"
    );
    let outcomes = manager.maintain();
    assert_eq!(outcomes.len(), 4, "one outcome per partition: {outcomes:?}");
    match outcome(&outcomes, COMPACTED) {
        MaintenanceAction::Compaction(Some(report)) => {
            assert!(report.records_removed() > 0, "{report}");
        }
        other => panic!("{COMPACTED} was not compacted: {other:?}"),
    }
    match outcome(&outcomes, RETAINED) {
        MaintenanceAction::Retention(report) => {
            assert!(!report.deleted_segments.is_empty(), "{report:?}");
            let log = manager.partition(RETAINED, 0).expect("a partition");
            assert_eq!(log.start_offset(), report.start_offset);
            assert!(report.start_offset > 0, "{report:?}");
            assert!(
                log.size_bytes() <= RETENTION_BYTES + SEGMENT_BYTES,
                "{report:?}"
            );
        }
        other @ MaintenanceAction::Compaction(_) => panic!("{RETAINED} got {other:?}"),
    }
    // A little new data: one more sealed segment, a small dirty ratio, no compaction.
    let log = manager.partition(COMPACTED, 0).expect("a partition");
    let active = *log.segment_base_offsets().last().expect("a segment");
    let mut k = 0;
    while *log.segment_base_offsets().last().expect("a segment") == active {
        produce_keys(manager, COMPACTED, std::iter::once(format!("new-{k}")), 4);
        k += 1;
    }
    let ratio = flushed_dirty_ratio(manager, COMPACTED);
    assert!(
        ratio > 0.0 && ratio <= MIN_CLEANABLE_DIRTY_RATIO,
        "the test needs a small ratio, got {ratio}"
    );
    let before = read_partition(manager, COMPACTED, 0);
    match outcome(&manager.maintain(), COMPACTED) {
        MaintenanceAction::Compaction(None) => {}
        other => panic!("compacted at dirty ratio {ratio}: {other:?}"),
    }
    assert_eq!(
        read_partition(manager, COMPACTED, 0),
        before,
        "nothing changed"
    );
    // Overwrites until the ratio passes the threshold: then maintain() compacts.
    let mut round = 5;
    while flushed_dirty_ratio(manager, COMPACTED) <= MIN_CLEANABLE_DIRTY_RATIO {
        produce_keys(
            manager,
            COMPACTED,
            (0..20).map(|k| format!("key-{k}")),
            round,
        );
        round += 1;
    }
    match outcome(&manager.maintain(), COMPACTED) {
        MaintenanceAction::Compaction(Some(report)) => {
            assert!(report.records_removed() > 0, "{report}");
        }
        other => panic!("not compacted past the dirty ratio: {other:?}"),
    }
    check_latest(manager, COMPACTED, 0);
}

/// No key appears twice below the active segment, and every key's latest value is there.
fn check_latest(manager: &TopicManager, topic: &str, partition: u32) {
    let contents = read_partition(manager, topic, partition);
    let log = manager.partition(topic, partition).expect("a partition");
    let active = *log.segment_base_offsets().last().expect("a segment");
    let mut seen = BTreeMap::new();
    for (offset, (key, _)) in contents.range(..active) {
        assert!(
            seen.insert(key.clone(), *offset).is_none(),
            "{topic}/{partition}: {key:?} twice below the active segment"
        );
    }
    assert!(!contents.is_empty());
}

/// `compact_topic` compacts every partition on demand and refuses a `delete` topic.
fn compact_on_demand(manager: &TopicManager) {
    for round in 0..4 {
        produce_keys(
            manager,
            ON_DEMAND,
            (0..60).map(|k| format!("key-{k}")),
            round,
        );
    }
    let sizes: Vec<u64> = (0..2)
        .map(|p| {
            manager
                .partition(ON_DEMAND, p)
                .expect("a partition")
                .size_bytes()
        })
        .collect();
    let reports = manager
        .compact_topic(ON_DEMAND)
        .expect("compaction on demand");
    assert_eq!(
        reports.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        [0, 1],
        "one report per partition"
    );
    for (partition, report) in &reports {
        let report = report
            .as_ref()
            .expect("each partition had sealed dirty segments");
        assert!(
            report.records_removed() > 0,
            "partition {partition}: {report}"
        );
        let log = manager
            .partition(ON_DEMAND, *partition)
            .expect("a partition");
        assert!(log.size_bytes() < sizes[*partition as usize], "{report}");
        check_latest(manager, ON_DEMAND, *partition);
    }
    // Nothing new: nothing to clean.
    let again = manager
        .compact_topic(ON_DEMAND)
        .expect("compaction on demand");
    assert!(again.iter().all(|(_, r)| r.is_none()), "{again:?}");
    match manager.compact_topic(RETAINED) {
        Err(TopicError::InvalidConfig { reason, .. }) => {
            assert!(reason.contains("compact"), "{reason}");
        }
        other => panic!("a delete topic was compacted: {other:?}"),
    }
    assert!(matches!(
        manager.compact_topic("no-such-topic"),
        Err(TopicError::UnknownTopic { .. })
    ));
}

/// A compacted topic refuses records without a key, and appends nothing of such a batch, also
/// when its keyed records are routed to other partitions.
fn keyless_records_are_refused(manager: &TopicManager) {
    let ends = || -> Vec<u64> {
        (0..2)
            .map(|p| {
                manager
                    .partition(ON_DEMAND, p)
                    .expect("a partition")
                    .next_offset()
            })
            .collect()
    };
    let before = ends();
    let keys: Vec<String> = (0..8).map(|k| format!("key-{k}")).collect();
    let record = |key: Option<&'static [u8]>| Record {
        key,
        value: Some(b"v"),
        timestamp_ms: now_ms(),
        headers: &[],
    };
    let mut mixed: Vec<Record<'_>> = keys
        .iter()
        .map(|k| Record {
            key: Some(k.as_bytes()),
            ..record(None)
        })
        .collect();
    mixed.push(record(None));
    let batches = [
        (None, vec![record(None)]),
        (Some(1), vec![record(Some(b"k")), record(None)]),
        (None, mixed),
    ];
    for (partition, batch) in batches {
        match manager.produce(ON_DEMAND, partition, &batch) {
            Err(TopicError::Append {
                source: AppendError::KeyRequired { .. },
                ..
            }) => {}
            other => panic!("a keyless record was not refused: {other:?}"),
        }
        assert_eq!(ends(), before, "nothing was appended to any partition");
    }
    assert!(
        manager.produce(RETAINED, None, &[record(None)]).is_ok(),
        "a delete topic takes records without a key"
    );
}

/// `start_maintenance` compacts and enforces retention on its own.
fn background_maintenance(manager: &Arc<TopicManager>) {
    let compacted = manager.partition(COMPACTED, 0).expect("a partition");
    let retained = manager.partition(RETAINED, 0).expect("a partition");
    let retained_start = retained.start_offset();
    // Overwrites of 20 keys until the dirty ratio passes the threshold; the last value wins.
    while flushed_dirty_ratio(manager, COMPACTED) <= MIN_CLEANABLE_DIRTY_RATIO {
        produce_keys(manager, COMPACTED, (0..20).map(|k| format!("key-{k}")), 50);
    }
    produce_keys(manager, COMPACTED, (0..20).map(|k| format!("key-{k}")), 55);
    produce_keys(manager, RETAINED, (0..200).map(|k| format!("more-{k}")), 60);
    let size = compacted.size_bytes();
    let handle = manager.start_maintenance(Duration::from_millis(20));
    let deadline = Instant::now() + BACKGROUND_DEADLINE;
    while compacted.size_bytes() >= size || retained.start_offset() == retained_start {
        assert!(
            Instant::now() < deadline,
            "background maintenance did nothing within {BACKGROUND_DEADLINE:?} (size {} of {size}, start {} of {retained_start})",
            compacted.size_bytes(),
            retained.start_offset()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(handle);
    check_latest(manager, COMPACTED, 0);
    let contents = read_partition(manager, COMPACTED, 0);
    let latest: BTreeMap<&[u8], &Option<Vec<u8>>> =
        contents.values().map(|(k, v)| (k.as_slice(), v)).collect();
    for k in 0..20 {
        let key = format!("key-{k}");
        assert_eq!(
            latest.get(key.as_bytes()),
            Some(&&Some(vec![55; VALUE_BYTES])),
            "latest of {key}"
        );
    }
}

fn run(io_mode: IoMode) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let manager = Arc::new(open_manager(dir.path(), io_mode));
    manager
        .create_topic(COMPACTED, compacted_topic(1))
        .expect("create the compacted topic");
    manager
        .create_topic(ON_DEMAND, compacted_topic(2))
        .expect("create the on-demand topic");
    manager
        .create_topic(RETAINED, retained_topic())
        .expect("create the retained topic");
    maintain_follows_the_dirty_ratio(&manager);
    compact_on_demand(&manager);
    keyless_records_are_refused(&manager);
    background_maintenance(&manager);
    manager.close().expect("close");
}

#[test]
fn maintenance_compacts_and_enforces_retention() {
    for_each_io_mode(run);
}

/// A maintenance handle dropped right after it started stops its thread at once, not after
/// its interval: the thread checks the stop flag before it first waits (a drop that notified
/// before the thread took the lock used to be missed, and the drop waited a whole interval).
#[test]
fn a_maintenance_handle_dropped_at_once_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let manager =
        Arc::new(TopicManager::open(dir.path(), ringlog::TopicManagerConfig::default()).unwrap());
    for _ in 0..50 {
        let started = Instant::now();
        drop(manager.start_maintenance(Duration::from_secs(30)));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the drop waited {:?} for the maintenance thread",
            started.elapsed()
        );
    }
}
