//! A process that dies without closing its log leaves the active segment with its preallocated,
//! zero-filled tail and no clean-shutdown marker. Reopening must keep every acknowledged
//! (`Durability::Sync`) record, trim the zeros, and let appends continue where they stopped.
//! Runs on every I/O path (the mmap path preallocates with `fallocate` too).

mod common;

use std::fs;

use common::{
    append_rows, batch_spans, for_each_io_mode, log_file, numbered_batches, open_log, read_all,
    sync_config,
};
use ringlog::{CLEAN_SHUTDOWN_FILE, IoMode};

const BATCH_COUNT: usize = 40;
const RECORDS_PER_BATCH: usize = 5;
const VALUE_BYTES: usize = 300;

#[test]
fn unclosed_log_recovers_every_acknowledged_record_and_trims_the_zeros() {
    for_each_io_mode(unclosed_log_recovers);
}

fn unclosed_log_recovers(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let batches = numbered_batches(0, BATCH_COUNT, RECORDS_PER_BATCH, VALUE_BYTES, |o| {
        1_700_000_000_000 + o as i64
    });
    let acknowledged = batches.concat();
    let log = open_log(dir.path(), sync_config(io_mode));
    for batch in &batches {
        append_rows(&log, batch);
    }
    let data_bytes = log.size_bytes();
    // The crash: no close, no marker. The leaked log runs no background flusher
    // (`flush_interval_ms: None`), so nothing touches the files after this point.
    log.abandon();

    let path = log_file(dir.path(), 0);
    assert!(!dir.path().join(CLEAN_SHUTDOWN_FILE).exists());
    let file_bytes = fs::metadata(&path).unwrap().len();
    assert!(
        file_bytes > data_bytes,
        "the unclosed segment should keep its preallocated tail ({file_bytes} <= {data_bytes})"
    );

    let log = open_log(dir.path(), sync_config(io_mode));
    assert_eq!(log.next_offset(), acknowledged.len() as u64);
    assert_eq!(log.size_bytes(), data_bytes);
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        data_bytes,
        "recovery trims the zero-filled tail"
    );
    assert!(
        log.recovery_cuts().is_empty(),
        "never-written space is not reported as a cut: {:?}",
        log.recovery_cuts()
    );
    assert_eq!(read_all(&log), acknowledged);

    let more = numbered_batches(acknowledged.len() as u64, 3, RECORDS_PER_BATCH, 10, |o| {
        1_700_000_000_000 + o as i64
    });
    for batch in &more {
        append_rows(&log, batch);
    }
    let mut expected = acknowledged;
    expected.extend(more.concat());
    assert_eq!(read_all(&log), expected);
    log.close().unwrap();
    drop(log);

    let file = fs::read(&path).unwrap();
    assert_eq!(
        batch_spans(&file).len(),
        BATCH_COUNT + 3,
        "the file holds exactly the batches, no zeros between old and new"
    );
    let log = open_log(dir.path(), sync_config(io_mode));
    assert_eq!(read_all(&log), expected);
}
