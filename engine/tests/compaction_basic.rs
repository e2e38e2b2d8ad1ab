//! Compaction keeps the latest record of every key at its original offset, drops tombstones
//! once their batch's delete horizon has passed, and leaves the active segment alone.

mod common;

use std::collections::BTreeMap;

use common::{config, for_each_io_mode, keyed_contents as contents, open_log};
use ringlog::compaction::CompactOptions;
use ringlog::record::Record;
use ringlog::{CleanupPolicy, Config, IoMode, Log};

fn compacted_config(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: 16 * 1024,
        max_batch_bytes: 8 * 1024,
        cleanup_policy: CleanupPolicy::Compact,
        ..config(io_mode)
    }
}

/// A compaction whose delete horizon is far off (tombstones stay), which finds something to
/// clean.
fn compact_keeping_tombstones(log: &Log) -> ringlog::compaction::CompactionReport {
    log.compact(&CompactOptions {
        delete_retention_ms: u64::MAX / 4,
        ..CompactOptions::default()
    })
    .unwrap()
    .expect("there was something to clean")
}

#[test]
fn compaction_keeps_the_latest_record_per_key() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().unwrap();
        let log = open_log(dir.path(), compacted_config(io_mode));
        let mut latest: BTreeMap<Vec<u8>, (u64, Option<Vec<u8>>)> = BTreeMap::new();
        for i in 0..2000u64 {
            let key = format!("key-{}", i % 50).into_bytes();
            let value = (i % 7 != 0).then(|| format!("value-{i}-{}", "x".repeat(100)).into_bytes());
            let info = log
                .append(&[Record {
                    key: Some(&key),
                    value: value.as_deref(),
                    timestamp_ms: 1_000 + i as i64,
                    headers: &[],
                }])
                .unwrap();
            latest.insert(key, (info.base_offset, value));
        }
        let before = contents(&log);
        let segments_before = log.segment_count();
        let active_base = *log.segment_base_offsets().last().unwrap();
        let report = compact_keeping_tombstones(&log);
        assert!(report.bytes_after < report.bytes_before, "{report}");
        assert!(report.records_removed() > 0, "{report}");
        assert!(log.segment_count() <= segments_before);
        let after = contents(&log);
        // Offsets only disappear, never appear or move.
        for (offset, record) in &after {
            assert_eq!(
                before.get(offset),
                Some(record),
                "offset {offset} kept its record"
            );
        }
        // The latest record of every key is still there (tombstones too: the horizon is far).
        for (key, (offset, value)) in &latest {
            assert_eq!(
                after.get(offset),
                Some(&(key.clone(), value.clone())),
                "latest of {key:?}"
            );
        }
        // In the sealed part, no key appears twice.
        let mut seen = BTreeMap::new();
        for (offset, (key, _)) in after.range(..active_base) {
            assert!(
                seen.insert(key.clone(), *offset).is_none(),
                "{key:?} twice below the active segment"
            );
        }
        // The active segment is untouched.
        assert_eq!(
            after.range(active_base..).collect::<Vec<_>>(),
            before.range(active_base..).collect::<Vec<_>>()
        );
        // A fetch of a removed offset returns the next record that exists.
        let removed = (0..active_base)
            .find(|o| !after.contains_key(o))
            .expect("something was removed");
        let records = log.read_records(removed, 1 << 16).unwrap();
        assert_eq!(records[0].offset, *after.range(removed..).next().unwrap().0);
        // Appends continue, and everything survives a reopen.
        let next = log.next_offset();
        log.append(&[Record {
            key: Some(b"k"),
            value: Some(b"v"),
            timestamp_ms: 0,
            headers: &[],
        }])
        .unwrap();
        drop(log);
        let log = open_log(dir.path(), compacted_config(io_mode));
        assert_eq!(log.next_offset(), next + 1);
        let reopened = contents(&log);
        assert_eq!(
            reopened.range(..next).collect::<Vec<_>>(),
            after.range(..next).collect::<Vec<_>>()
        );
        // A second compaction finds nothing new to clean in what was cleaned.
        let again = log.compact(&CompactOptions::default()).unwrap();
        if let Some(report) = again {
            assert_eq!(report.records_removed(), 0, "{report}");
        }
    });
}

#[test]
fn tombstones_past_the_delete_horizon_are_dropped() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().unwrap();
        let log = open_log(dir.path(), compacted_config(io_mode));
        for round in 0..3i64 {
            for i in 0..300i64 {
                let key = format!("key-{}", i % 30);
                let tombstone = round == 2 || i % 30 < 10;
                let value = format!("v{round}-{i}-{}", "y".repeat(80));
                log.append(&[Record {
                    key: Some(key.as_bytes()),
                    value: (!tombstone).then_some(value.as_bytes()),
                    timestamp_ms: round * 1_000_000 + i,
                    headers: &[],
                }])
                .unwrap();
            }
        }
        let options = |now_ms| CompactOptions {
            delete_retention_ms: 1_000,
            now_ms: Some(now_ms),
            ..CompactOptions::default()
        };
        // The first pass keeps every tombstone and stamps its batch with the delete horizon,
        // the cleaner's clock plus the retention: 1_000 ms from now.
        let first = log.compact(&options(0)).unwrap().expect("dirty segments");
        assert_eq!(first.tombstones_removed, 0, "no horizon yet: {first}");
        assert!(first.delete_horizons_set > 0, "{first}");
        // New dirty data makes the cleaner run again (as Kafka's does), each pass a retention
        // later. Tombstones go once the cleaner's clock reaches their horizon; those that were
        // in the active segment at the first pass are stamped by a later one.
        let mut removed = 0;
        for pass in 0..4i64 {
            for i in 0..300i64 {
                let key = format!("other-{pass}-{i}");
                log.append(&[Record {
                    key: Some(key.as_bytes()),
                    value: Some(&[1u8; 80]),
                    timestamp_ms: (pass + 10) * 1_000_000 + i,
                    headers: &[],
                }])
                .unwrap();
            }
            removed += log
                .compact(&options((pass + 1) * 1_000))
                .unwrap()
                .expect("dirty segments again")
                .tombstones_removed;
        }
        assert!(removed > 0, "tombstones past the horizon go");
        let after = contents(&log);
        for key in (0..30).map(|k| format!("key-{k}").into_bytes()) {
            let versions: Vec<_> = after.values().filter(|(k, _)| *k == key).collect();
            assert!(
                versions.len() <= 1,
                "at most the tombstone itself is left for {key:?}"
            );
            assert!(
                versions.iter().all(|(_, v)| v.is_none()),
                "no value of a deleted key comes back"
            );
        }
    });
}

#[test]
fn a_compacted_log_refuses_records_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), compacted_config(IoMode::DEFAULT)).unwrap();
    let error = log
        .append(&[Record {
            key: None,
            value: Some(b"v"),
            timestamp_ms: 0,
            headers: &[],
        }])
        .unwrap_err();
    assert!(error.to_string().contains("has no key"), "{error}");
    assert_eq!(log.next_offset(), 0, "nothing was appended");
}

/// Cleaned segments are cut at `segment_bytes` by what they hold, so a first compaction that
/// halves full segments also halves their count (Kafka's grouping by input sizes would keep
/// it), and no cleaned segment passes `segment_bytes`.
#[test]
fn a_compaction_that_halves_full_segments_merges_them() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().unwrap();
        let config = compacted_config(io_mode);
        let segment_bytes = config.segment_bytes;
        let log = open_log(dir.path(), config.clone());
        let value = vec![7u8; 200];
        // Every key twice, the second copy later: half of the sealed records are superseded.
        let keys = 600u64;
        for i in 0..2 * keys {
            let key = format!("key-{:04}", i % keys).into_bytes();
            log.append(&[Record {
                key: Some(&key),
                value: Some(&value),
                timestamp_ms: i as i64,
                headers: &[],
            }])
            .unwrap();
        }
        let before = contents(&log);
        let sealed_before = log.segment_count() - 1;
        assert!(sealed_before >= 10, "{sealed_before} sealed segments");
        let report = compact_keeping_tombstones(&log);
        let sealed_after = log.segment_count() - 1;
        assert_eq!(report.segments_before, sealed_before, "{report}");
        assert_eq!(report.segments_after, sealed_after, "{report}");
        // Each cleaned segment is full but for less than one batch.
        let fewest = report.bytes_after.div_ceil(segment_bytes) as usize;
        assert!(
            sealed_after <= fewest + 1,
            "{sealed_after} cleaned segments for {} bytes of {segment_bytes}-byte segments: {report}",
            report.bytes_after
        );
        assert!(sealed_after * 2 <= sealed_before + 2, "{report}");
        let bases = log.segment_base_offsets();
        for base in &bases[..bases.len() - 1] {
            let path = dir.path().join(ringlog::segment::file_name(*base, "log"));
            let bytes = std::fs::metadata(&path).unwrap().len();
            assert!(bytes <= segment_bytes, "{}: {bytes} bytes", path.display());
        }
        // What the cleaning keeps reads the same, here and after a reopen.
        let after = contents(&log);
        for (offset, record) in &after {
            assert_eq!(before.get(offset), Some(record), "offset {offset}");
        }
        assert_eq!(
            report.records_removed(),
            (before.len() - after.len()) as u64,
            "{report}"
        );
        let active_base = *bases.last().unwrap();
        let mut seen = BTreeMap::new();
        for (offset, (key, _)) in after.range(..active_base) {
            assert!(seen.insert(key.clone(), *offset).is_none(), "{key:?} twice");
        }
        drop(log);
        let log = open_log(dir.path(), config);
        assert_eq!(contents(&log), after);
    });
}
