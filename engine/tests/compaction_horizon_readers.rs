//! Batches that compaction stamped with a delete horizon read as before everywhere: fetch
//! (every batch valid, CRC included), `read_records` (every record's timestamp unchanged),
//! `offset_for_timestamp` and the time index (the horizon, far past every record, is no
//! record's timestamp and no batch's `maxTimestamp`), a clean reopen, and a reopen whose
//! recovery scan rebuilds every index from the stamped segments. Runs on every I/O path.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{for_each_io_mode, open_log, remove_clean_marker};
use ringlog::compaction::CompactOptions;
use ringlog::record::{BatchLimits, Record, records, validate_batch};
use ringlog::segment::{INDEX_EXTENSION, TIME_INDEX_EXTENSION};
use ringlog::{CleanupPolicy, Config, IoMode, Log};

const SEGMENT_BYTES: u64 = 4096;
const VALUE_BYTES: usize = 60;
const KEYS: usize = 12;
const FIRST_TIMESTAMP_MS: i64 = 1_600_000_000_000;
const CLEANING_MS: i64 = 1_700_000_000_000;
const DELETE_RETENTION_MS: u64 = 7 * 24 * 60 * 60 * 1000;
const HORIZON_MS: i64 = CLEANING_MS + DELETE_RETENTION_MS as i64;

fn compacted_config(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: SEGMENT_BYTES as usize,
        index_interval_bytes: 256,
        cleanup_policy: CleanupPolicy::Compact,
        ..common::config(io_mode)
    }
}

/// `(key, value, timestamp)` of every record, and how many batches carry a horizon.
type Contents = (BTreeMap<u64, (Vec<u8>, Option<Vec<u8>>, i64)>, usize);

/// Every record through `fetch`, each batch validated (CRC included), and every record again
/// through `read_records`, which must agree.
fn contents(log: &Log) -> Contents {
    let limits = BatchLimits {
        max_batch_bytes: SEGMENT_BYTES as usize,
        require_contiguous_offsets: false,
    };
    let mut out = BTreeMap::new();
    let mut stamped = 0;
    let mut offset = log.start_offset();
    while offset < log.next_offset() {
        let fetched = log.fetch(offset, 64 * 1024).expect("fetch succeeds");
        let mut rest = &fetched.bytes[..];
        while !rest.is_empty() {
            let header = validate_batch(rest, &limits).expect("a valid batch");
            stamped += usize::from(header.delete_horizon_ms() == Some(HORIZON_MS));
            assert!(
                header.max_timestamp < CLEANING_MS,
                "maxTimestamp is a record's"
            );
            let (batch, tail) = rest.split_at(header.total_bytes());
            for r in records(batch).expect("records decode") {
                let r = r.expect("a record decodes");
                let record = (
                    r.key.expect("keyed").to_vec(),
                    r.value.map(<[u8]>::to_vec),
                    r.timestamp_ms,
                );
                out.insert(r.offset as u64, record);
            }
            rest = tail;
        }
        offset = fetched.next_fetch_offset;
    }
    let mut offset = log.start_offset();
    while offset < log.next_offset() {
        let read = log.read_records(offset, 64 * 1024).expect("read succeeds");
        let Some(last) = read.last() else { break };
        for r in &read {
            let (key, value, timestamp_ms) = &out[&r.offset];
            assert_eq!(r.key.as_deref(), Some(&key[..]), "offset {}", r.offset);
            assert_eq!(r.value.as_deref(), value.as_deref(), "offset {}", r.offset);
            assert_eq!(r.timestamp_ms, *timestamp_ms, "offset {}", r.offset);
        }
        offset = last.offset + 1;
    }
    (out, stamped)
}

/// Checks `offset_for_timestamp` against the records: nothing at or past the horizon, and for
/// every record's timestamp an offset at or before that record whose timestamp is at least it.
fn check_offsets_for_timestamps(log: &Log, (records, _): &Contents, when: &str) {
    for probe in [CLEANING_MS, HORIZON_MS - 1, HORIZON_MS, i64::MAX] {
        assert_eq!(
            log.offset_for_timestamp(probe).expect("lookup succeeds"),
            None,
            "{when}: no record is at {probe} or later"
        );
    }
    for (&offset, (_, _, timestamp_ms)) in records {
        let found = log
            .offset_for_timestamp(*timestamp_ms)
            .expect("lookup succeeds")
            .unwrap_or_else(|| panic!("{when}: nothing found for {timestamp_ms}"));
        assert!(found <= offset, "{when}: {timestamp_ms} found at {found}");
        assert!(
            records[&found].2 >= *timestamp_ms,
            "{when}: {timestamp_ms} found at {found}, an older record"
        );
    }
}

fn build(log: &Log) {
    for i in 0..200usize {
        let key = format!("key-{}", i % KEYS);
        let value = [(i % 251) as u8; VALUE_BYTES];
        // Every third record of the first keys is a tombstone; timestamps go back and forth.
        let tombstone = i % KEYS < 4 && i % 3 == 0;
        let timestamp_ms = FIRST_TIMESTAMP_MS + (i as i64 % 7) * 1_000 - (i as i64 % 3) * 5_000;
        let records = [
            Record {
                key: Some(key.as_bytes()),
                value: (!tombstone).then_some(&value[..]),
                timestamp_ms,
                headers: &[],
            },
            Record {
                key: Some(b"steady"),
                value: Some(&value[..8]),
                timestamp_ms: timestamp_ms + 3,
                headers: &[],
            },
        ];
        log.append(&records).expect("append succeeds");
    }
}

fn remove_indexes(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("list the log directory") {
        let path = entry.expect("list").path();
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        if name.ends_with(&format!(".{INDEX_EXTENSION}"))
            || name.ends_with(&format!(".{TIME_INDEX_EXTENSION}"))
        {
            std::fs::remove_file(&path).expect("remove an index");
        }
    }
}

#[test]
fn stamped_batches_read_the_same_through_every_reader_and_recovery() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = open_log(dir.path(), compacted_config(io_mode));
        build(&log);
        let (before, _) = contents(&log);
        let report = log
            .compact(&CompactOptions {
                delete_retention_ms: DELETE_RETENTION_MS,
                now_ms: Some(CLEANING_MS),
                ..CompactOptions::default()
            })
            .expect("compaction succeeds")
            .expect("there is something to clean");
        assert!(report.delete_horizons_set > 0, "{report}");
        let after = contents(&log);
        assert_eq!(
            after.1, report.delete_horizons_set as usize,
            "stamped batches"
        );
        for (offset, record) in &after.0 {
            assert_eq!(
                before.get(offset),
                Some(record),
                "offset {offset} kept as it was"
            );
        }
        check_offsets_for_timestamps(&log, &after, "compacted");
        drop(log);

        let log = open_log(dir.path(), compacted_config(io_mode));
        assert_eq!(contents(&log), after, "reopened");
        check_offsets_for_timestamps(&log, &after, "reopened");
        drop(log);

        // The recovery scan rebuilds every index from the stamped batches.
        remove_clean_marker(dir.path());
        remove_indexes(dir.path());
        let log = open_log(dir.path(), compacted_config(io_mode));
        assert_eq!(contents(&log), after, "recovered");
        check_offsets_for_timestamps(&log, &after, "recovered");
    });
}
