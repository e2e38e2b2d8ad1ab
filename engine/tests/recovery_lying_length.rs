//! A batch whose `batchLength` field lies: `i32::MAX`, negative, or pointing past the end of
//! the file. In the active segment recovery keeps every batch before it and appends continue
//! at its base offset; in a sealed segment opening fails, naming the file and position. Runs
//! on every I/O path.

mod common;

use std::fs;
use std::path::Path;

use common::{
    Expected, append_rows, batch_spans, copy_log_dir, for_each_io_mode, log_file, numbered_batches,
    open_log, patch_file, read_all, remove_clean_marker, sync_config,
};
use ringlog::record::format::BATCH_LENGTH_OFFSET;
use ringlog::record::{BatchError, LOG_OVERHEAD_BYTES};
use ringlog::{Config, IoMode, Log, OpenError};

/// Length fields to try, given the batch's true total size and the bytes left in the file
/// from the batch's start.
fn lies(true_total: usize, bytes_to_eof: usize) -> Vec<(&'static str, i32)> {
    let past_eof = (bytes_to_eof - LOG_OVERHEAD_BYTES + 100) as i32;
    assert_ne!(past_eof as usize + LOG_OVERHEAD_BYTES, true_total);
    vec![
        ("i32::MAX", i32::MAX),
        ("-1", -1),
        ("i32::MIN", i32::MIN),
        ("past EOF", past_eof),
    ]
}

fn set_length(path: &Path, position: usize, length: i32) {
    patch_file(path, position + BATCH_LENGTH_OFFSET, &length.to_be_bytes());
}

#[test]
fn lying_length_of_the_last_batch_drops_only_that_batch() {
    for_each_io_mode(lying_last_length_drops_the_last_batch);
}

fn lying_last_length_drops_the_last_batch(io_mode: IoMode) {
    let root = tempfile::tempdir().unwrap();
    let pristine = root.path().join("pristine");
    let batches = numbered_batches(0, 4, 3, 200, |o| 1_700_000_000_000 + o as i64);
    {
        let log = open_log(&pristine, sync_config(io_mode));
        for batch in &batches {
            append_rows(&log, batch);
        }
        log.close().unwrap();
    }
    remove_clean_marker(&pristine);
    let file_bytes = fs::read(log_file(&pristine, 0)).unwrap().len();
    let (last_start, last_total) = *batch_spans(&fs::read(log_file(&pristine, 0)).unwrap())
        .last()
        .unwrap();
    let kept: Vec<Expected> = batches[..3].concat();
    let last_base = batches[3][0].offset;
    let work = root.path().join("work");

    for (name, length) in lies(last_total, file_bytes - last_start) {
        copy_log_dir(&pristine, &work);
        let path = log_file(&work, 0);
        set_length(&path, last_start, length);

        let log = Log::open(&work, sync_config(io_mode))
            .unwrap_or_else(|e| panic!("length {name}: reopen failed: {e}"));
        common::assert_io_path(&log, io_mode);
        assert_eq!(log.next_offset(), last_base, "length {name}");
        assert_eq!(read_all(&log), kept, "length {name}");
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            last_start as u64,
            "length {name}: trimmed to the last good batch"
        );
        let new_rows = numbered_batches(last_base, 1, 2, 30, |o| o as i64).remove(0);
        append_rows(&log, &new_rows);
        let mut expected = kept.clone();
        expected.extend(new_rows);
        assert_eq!(
            read_all(&log),
            expected,
            "length {name}: old and new records"
        );
        log.close().unwrap();
        drop(log);
        let log = open_log(&work, sync_config(io_mode));
        assert_eq!(read_all(&log), expected, "length {name}: after reopening");
    }
}

/// Segments of 4 KiB holding three batches of about 1.1 KiB each.
fn small_segments(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: 4096,
        max_batch_bytes: 4096,
        ..sync_config(io_mode)
    }
}

#[test]
fn lying_length_in_a_sealed_segment_fails_open_naming_file_and_position() {
    for_each_io_mode(lying_sealed_length_fails_open);
}

fn lying_sealed_length_fails_open(io_mode: IoMode) {
    let root = tempfile::tempdir().unwrap();
    let pristine = root.path().join("pristine");
    let batches = numbered_batches(0, 10, 2, 500, |o| 1_700_000_000_000 + o as i64);
    {
        let log = open_log(&pristine, small_segments(io_mode));
        for batch in &batches {
            append_rows(&log, batch);
        }
        assert!(log.segment_count() >= 3, "the log rolled");
        log.close().unwrap();
    }
    let first = fs::read(log_file(&pristine, 0)).unwrap();
    let spans = batch_spans(&first);
    let work = root.path().join("work");

    for (victim, (name, length)) in [
        (0, ("i32::MAX", i32::MAX)),
        (1, ("-1", -1)),
        (spans.len() - 1, lies(0, spans[spans.len() - 1].1)[3]),
    ] {
        copy_log_dir(&pristine, &work);
        let path = log_file(&work, 0);
        let position = spans[victim].0;
        set_length(&path, position, length);

        let error = Log::open(&work, small_segments(io_mode))
            .expect_err("a sealed segment with a lying length must fail the open");
        let message = error.to_string();
        let OpenError::CorruptSealedSegment {
            path: reported,
            position: reported_position,
            source,
        } = &error
        else {
            panic!("length {name}: expected CorruptSealedSegment, got {error}");
        };
        assert_eq!(reported, &path, "length {name}");
        assert_eq!(*reported_position, position as u64, "length {name}");
        if length < 0 || length == i32::MAX {
            assert!(
                matches!(source, BatchError::LengthOutOfRange { length: l, .. } if *l == i64::from(length)),
                "length {name}: unexpected cause {source}"
            );
        }
        assert!(
            message.contains(&path.display().to_string())
                && message.contains(&format!("byte {position}")),
            "length {name}: the message names the file and position: {message}"
        );
    }
}
