//! A flipped byte inside a batch's records (its CRC-32C no longer matches). In the active
//! segment recovery keeps everything before the damaged batch and drops it and everything
//! after; in a sealed segment truncating would drop acknowledged data that follows, so opening
//! fails and names the file and the byte position. Runs on every I/O path.

mod common;

use std::fs;
use std::path::Path;

use common::{
    Expected, append_rows, batch_spans, for_each_io_mode, log_file, numbered_batches, open_log,
    patch_file, read_all, remove_clean_marker, sync_config,
};
use ringlog::record::{BATCH_HEADER_BYTES, BatchError};
use ringlog::{Config, IoMode, Log, OpenError};

/// Flips one bit of a record byte in the middle of the batch at `position`.
fn flip_record_byte(path: &Path, position: usize, batch_bytes: usize) {
    let at = position + BATCH_HEADER_BYTES + (batch_bytes - BATCH_HEADER_BYTES) / 2;
    let byte = fs::read(path).unwrap()[at];
    patch_file(path, at, &[byte ^ 0x10]);
}

#[test]
fn crc_mismatch_in_the_active_segment_drops_that_batch_and_the_rest() {
    for_each_io_mode(active_segment_crc_mismatch_is_truncated);
}

fn active_segment_crc_mismatch_is_truncated(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let batches = numbered_batches(0, 5, 4, 100, |o| 1_700_000_000_000 + o as i64);
    {
        let log = open_log(dir.path(), sync_config(io_mode));
        for batch in &batches {
            append_rows(&log, batch);
        }
        log.close().unwrap();
    }
    remove_clean_marker(dir.path());
    let path = log_file(dir.path(), 0);
    let spans = batch_spans(&fs::read(&path).unwrap());
    let (middle_start, middle_bytes) = spans[2];
    flip_record_byte(&path, middle_start, middle_bytes);

    let file_bytes = fs::metadata(&path).unwrap().len();
    let log = open_log(dir.path(), sync_config(io_mode));
    let kept: Vec<Expected> = batches[..2].concat();
    let damaged_base = batches[2][0].offset;
    assert_eq!(log.next_offset(), damaged_base);
    // Never silent: the cut is reported with its byte range and the reason.
    let cuts = log.recovery_cuts();
    assert_eq!(cuts.len(), 1, "one cut reported: {cuts:?}");
    let cut = &cuts[0];
    assert_eq!(cut.path, path);
    assert_eq!(
        (cut.from_byte, cut.to_byte),
        (middle_start as u64, file_bytes)
    );
    assert_eq!(cut.next_offset, damaged_base);
    assert!(cut.written);
    assert!(
        cut.to_string().contains("CRC"),
        "the reason names the CRC: {cut}"
    );
    assert_eq!(read_all(&log), kept);
    assert_eq!(fs::metadata(&path).unwrap().len(), middle_start as u64);

    let new_rows = numbered_batches(damaged_base, 1, 3, 50, |o| o as i64).remove(0);
    append_rows(&log, &new_rows);
    let mut expected = kept;
    expected.extend(new_rows);
    assert_eq!(read_all(&log), expected);
    log.close().unwrap();
    drop(log);
    let log = open_log(dir.path(), sync_config(io_mode));
    assert_eq!(read_all(&log), expected);
}

/// Segments of 4 KiB holding three batches of about 1.1 KiB each.
fn small_segments(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: 4096,
        max_batch_bytes: 4096,
        ..sync_config(io_mode)
    }
}

fn corrupt_sealed_segment_fails_open(io_mode: IoMode, keep_marker: bool) {
    let dir = tempfile::tempdir().unwrap();
    let batches = numbered_batches(0, 10, 2, 500, |o| 1_700_000_000_000 + o as i64);
    {
        let log = open_log(dir.path(), small_segments(io_mode));
        for batch in &batches {
            append_rows(&log, batch);
        }
        assert!(log.segment_count() >= 3, "the log rolled");
        log.close().unwrap();
    }
    if !keep_marker {
        remove_clean_marker(dir.path());
    }
    let path = log_file(dir.path(), 0);
    let spans = batch_spans(&fs::read(&path).unwrap());
    assert!(spans.len() >= 2, "the first segment holds several batches");
    let (start, bytes) = spans[1];
    flip_record_byte(&path, start, bytes);

    let error = Log::open(dir.path(), small_segments(io_mode))
        .expect_err("a corrupt sealed segment must fail the open");
    let message = error.to_string();
    match &error {
        OpenError::CorruptSealedSegment {
            path: reported,
            position,
            source,
        } => {
            assert_eq!(reported, &path);
            assert_eq!(*position, start as u64);
            assert!(
                matches!(source, BatchError::CrcMismatch { .. }),
                "unexpected cause: {source}"
            );
        }
        other => panic!("expected CorruptSealedSegment, got {other}"),
    }
    assert!(
        message.contains(&path.display().to_string()) && message.contains(&start.to_string()),
        "the message names the file and position: {message}"
    );
    assert!(
        message.contains("CRC"),
        "the message names the cause: {message}"
    );
}

#[test]
fn crc_mismatch_in_a_sealed_segment_fails_open_after_a_clean_close() {
    for_each_io_mode(|io_mode| corrupt_sealed_segment_fails_open(io_mode, true));
}

#[test]
fn crc_mismatch_in_a_sealed_segment_fails_open_after_a_crash() {
    for_each_io_mode(|io_mode| corrupt_sealed_segment_fails_open(io_mode, false));
}
