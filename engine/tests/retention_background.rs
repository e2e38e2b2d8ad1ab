//! The background flusher enforces retention on its own, and writes `Durability::None` data
//! within the flush interval, without any explicit call.

use std::time::{Duration, Instant};

use ringlog::record::Record;
use ringlog::{Config, Durability, Log};

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn retention_runs_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        segment_bytes: 16 * 1024,
        max_batch_bytes: 8 * 1024,
        retention_bytes: Some(40 * 1024),
        retention_check_interval_ms: Some(10),
        ..Config::default()
    };
    let log = Log::open(dir.path(), config).unwrap();
    let value = vec![7u8; 1000];
    for i in 0..200 {
        log.append(&[Record {
            key: None,
            value: Some(&value),
            timestamp_ms: i,
            headers: &[],
        }])
        .unwrap();
    }
    let before = log.segment_count();
    assert!(before > 5, "small segments rolled ({before})");
    wait_for("retention", || {
        log.segment_count() < before && log.size_bytes() < 80 * 1024
    });
    let start = log.start_offset();
    assert!(start > 0, "the log start moved past deleted segments");
    let records = log.read_records(start, 1 << 20).unwrap();
    assert_eq!(
        records[0].offset, start,
        "the earliest kept record is readable"
    );
    assert!(
        log.size_bytes() >= 40 * 1024 - 16 * 1024,
        "retention keeps at least its limit minus one segment"
    );
}

#[test]
fn none_durability_reaches_disk_within_the_flush_interval() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        durability: Durability::None,
        flush_interval_ms: Some(20),
        ..Config::default()
    };
    let log = Log::open(dir.path(), config).unwrap();
    log.append(&[Record {
        key: Some(b"k"),
        value: Some(b"flushed by the background thread"),
        timestamp_ms: 1,
        headers: &[],
    }])
    .unwrap();
    let file = dir.path().join("00000000000000000000.log");
    // The batch is on disk once the file starts with it (the file is preallocated with zeros).
    wait_for("the background flush", || {
        std::fs::read(&file).is_ok_and(|bytes| bytes.len() > 12 && bytes[8..12] != [0, 0, 0, 0])
    });
    let bytes = std::fs::read(&file).unwrap();
    let header = ringlog::record::BatchHeader::parse(&bytes).unwrap();
    assert_eq!(header.base_offset, 0);
    assert_eq!(header.records_count, 1);
    // The idle tail went back to the pool, and the log still reads and appends.
    assert_eq!(
        log.read_records(0, 1024).unwrap()[0].value.as_deref(),
        Some(&b"flushed by the background thread"[..])
    );
    assert_eq!(
        log.append(&[Record {
            key: None,
            value: None,
            timestamp_ms: 2,
            headers: &[]
        }])
        .unwrap()
        .base_offset,
        1
    );
    assert_eq!(log.read_records(1, 1024).unwrap().len(), 1);
}
