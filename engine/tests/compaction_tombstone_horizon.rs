//! Tombstones go as Kafka removes them (KIP-534): the first cleaning that keeps a tombstone
//! stamps its batch with the delete horizon `now + delete_retention_ms`, a cleaning before the
//! horizon keeps it, and the first cleaning at or after the horizon removes it. Producer
//! timestamps play no part: here the tombstones carry timestamps from 1970, far older than the
//! cleaned section, which once made the very first cleaning drop them. Runs on every I/O path.

mod common;

use std::collections::BTreeMap;

use common::{for_each_io_mode, open_log};
use ringlog::compaction::{CompactOptions, CompactionReport};
use ringlog::record::{BatchHeader, BatchLimits, Record, records, validate_batch};
use ringlog::{CleanupPolicy, Config, IoMode, Log};

const SEGMENT_BYTES: u64 = 4096;
const VALUE_BYTES: usize = 100;
/// Producer timestamps of the live data: recent.
const RECENT_MS: i64 = 1_700_000_000_000;
/// Producer timestamps of the tombstones: long before anything else in the log.
const OLD_MS: i64 = 1_000;
/// The cleaner's clock at the first cleaning that sees the tombstones sealed.
const FIRST_CLEANING_MS: i64 = RECENT_MS + 60_000;
const DELETE_RETENTION_MS: u64 = 24 * 60 * 60 * 1000;
const HORIZON_MS: i64 = FIRST_CLEANING_MS + DELETE_RETENTION_MS as i64;
/// Keys deleted one tombstone per batch, and one deleted in a batch that also holds a value.
const DELETED_KEYS: usize = 5;
const MIXED_KEY: usize = DELETED_KEYS;
const LIVE_KEYS: usize = 20;

fn compacted_config(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: SEGMENT_BYTES as usize,
        cleanup_policy: CleanupPolicy::Compact,
        ..common::config(io_mode)
    }
}

fn compact_at(log: &Log, now_ms: i64) -> CompactionReport {
    log.compact(&CompactOptions {
        delete_retention_ms: DELETE_RETENTION_MS,
        now_ms: Some(now_ms),
        ..CompactOptions::default()
    })
    .expect("compaction succeeds")
    .expect("there is something to clean")
}

/// One record as read back, and the header of its batch.
#[derive(Clone, Debug)]
struct Read {
    key: Vec<u8>,
    value: Option<Vec<u8>>,
    timestamp_ms: i64,
    batch: BatchHeader,
}

/// Every record by fetching from the start, each batch validated (CRC included).
fn contents(log: &Log) -> BTreeMap<u64, Read> {
    let limits = BatchLimits {
        max_batch_bytes: SEGMENT_BYTES as usize,
        require_contiguous_offsets: false,
    };
    let mut out = BTreeMap::new();
    let mut offset = log.start_offset();
    while offset < log.next_offset() {
        let fetched = log.fetch(offset, 64 * 1024).expect("fetch succeeds");
        let mut rest = &fetched.bytes[..];
        while !rest.is_empty() {
            let header = validate_batch(rest, &limits).expect("a valid batch");
            let (batch, tail) = rest.split_at(header.total_bytes());
            for r in records(batch).expect("records decode") {
                let r = r.expect("a record decodes");
                out.insert(
                    r.offset as u64,
                    Read {
                        key: r.key.expect("keyed").to_vec(),
                        value: r.value.map(<[u8]>::to_vec),
                        timestamp_ms: r.timestamp_ms,
                        batch: header,
                    },
                );
            }
            rest = tail;
        }
        offset = fetched.next_fetch_offset;
    }
    out
}

fn append(log: &Log, rows: &[(String, Option<&[u8]>, i64)]) -> u64 {
    let records: Vec<Record<'_>> = rows
        .iter()
        .map(|(key, value, timestamp_ms)| Record {
            key: Some(key.as_bytes()),
            value: *value,
            timestamp_ms: *timestamp_ms,
            headers: &[],
        })
        .collect();
    log.append(&records).expect("append succeeds").base_offset
}

/// Distinct keys with values, enough to roll what came before into a sealed segment.
fn append_filler(log: &Log, round: usize, timestamp_ms: i64) {
    let value = [7u8; VALUE_BYTES];
    for i in 0..60 {
        append(
            log,
            &[(format!("filler-{round}-{i}"), Some(&value), timestamp_ms)],
        );
    }
}

fn key(i: usize) -> String {
    format!("live-{i}")
}

/// The tombstones' offsets, by key.
fn build(log: &Log) -> BTreeMap<String, u64> {
    let value = [1u8; VALUE_BYTES];
    for i in 0..3 * LIVE_KEYS {
        append(
            log,
            &[(key(i % LIVE_KEYS), Some(&value), RECENT_MS + i as i64)],
        );
    }
    // A clean section with recent timestamps, then segments holding only old ones.
    compact_at(log, RECENT_MS);
    append_filler(log, 0, OLD_MS);
    let mut tombstones = BTreeMap::new();
    for i in 0..DELETED_KEYS {
        let offset = append(log, &[(key(i), None, OLD_MS + i as i64)]);
        tombstones.insert(key(i), offset);
    }
    let offset = append(
        log,
        &[
            (key(MIXED_KEY), None, OLD_MS),
            ("beside-the-tombstone".to_owned(), Some(&value), OLD_MS + 1),
        ],
    );
    tombstones.insert(key(MIXED_KEY), offset);
    append_filler(log, 1, OLD_MS);
    tombstones
}

#[test]
fn tombstones_survive_their_first_cleaning_and_go_once_their_horizon_passed() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = open_log(dir.path(), compacted_config(io_mode));
        let tombstones = build(&log);
        let active_base = *log.segment_base_offsets().last().expect("a segment");
        assert!(
            tombstones.values().all(|&o| o < active_base),
            "the tombstones are sealed"
        );

        let first = compact_at(&log, FIRST_CLEANING_MS);
        assert_eq!(first.tombstones_removed, 0, "{first}");
        assert_eq!(
            first.delete_horizons_set,
            tombstones.len() as u64,
            "one horizon per batch holding a tombstone: {first}"
        );
        let after_first = contents(&log);
        for (key, &offset) in &tombstones {
            let read = after_first
                .get(&offset)
                .unwrap_or_else(|| panic!("the tombstone of {key} is gone after one cleaning"));
            assert_eq!(read.value, None);
            assert_eq!(read.batch.delete_horizon_ms(), Some(HORIZON_MS), "{key}");
            assert!(
                read.timestamp_ms < OLD_MS + 10,
                "{key}: the producer's timestamp reads back ({})",
                read.timestamp_ms
            );
            assert!(read.batch.max_timestamp < OLD_MS + 10, "maxTimestamp stays");
        }
        let beside = tombstones[&key(MIXED_KEY)] + 1;
        assert_eq!(
            after_first[&beside].timestamp_ms,
            OLD_MS + 1,
            "a value stamped with its tombstone keeps its timestamp"
        );

        // Just before the horizon: still kept, and not stamped again.
        append_filler(&log, 2, RECENT_MS);
        let before_horizon = compact_at(&log, HORIZON_MS - 1);
        assert_eq!(before_horizon.tombstones_removed, 0, "{before_horizon}");
        let read = contents(&log);
        for (key, &offset) in &tombstones {
            assert_eq!(
                read.get(&offset).map(|r| r.batch.delete_horizon_ms()),
                Some(Some(HORIZON_MS)),
                "{key} before its horizon"
            );
        }

        // At the horizon: gone, and no older value of the keys comes back.
        append_filler(&log, 3, RECENT_MS);
        let at_horizon = compact_at(&log, HORIZON_MS);
        assert_eq!(
            at_horizon.tombstones_removed,
            tombstones.len() as u64,
            "{at_horizon}"
        );
        let read = contents(&log);
        for key in tombstones.keys() {
            assert!(
                read.values().all(|r| r.key != key.as_bytes()),
                "{key} reads back after its tombstone went"
            );
        }
        let kept = read
            .get(&beside)
            .expect("the value beside a tombstone stays");
        assert_eq!(kept.timestamp_ms, OLD_MS + 1);
        assert_eq!(
            kept.batch.delete_horizon_ms(),
            Some(HORIZON_MS),
            "its batch keeps the horizon, as in Kafka"
        );
        for i in DELETED_KEYS + 1..LIVE_KEYS {
            assert!(
                read.values()
                    .any(|r| r.key == key(i).as_bytes() && r.value.is_some()),
                "live key {i} is kept"
            );
        }
    });
}
