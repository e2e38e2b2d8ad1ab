//! A write torn inside the last batch: for every byte position inside the last batch, the
//! segment file is cut there and the log reopened without its clean-shutdown marker. Recovery
//! must keep every earlier batch, drop the torn one, trim the file to the last whole batch, and
//! let appends continue at the torn batch's base offset. Runs on every I/O path.

mod common;

use std::fs;

use common::{
    Expected, append_rows, batch_spans, copy_log_dir, for_each_io_mode, log_file, numbered_batches,
    open_log, read_all, remove_clean_marker, sync_config,
};
use ringlog::{IoMode, Log};

const BATCH_COUNT: usize = 8;
/// Two records, so the torn batch still holds more than one.
const RECORDS_PER_BATCH: usize = 2;
/// Small records keep the last batch near 130 bytes, so the per-byte loop, which runs once
/// per I/O path, stays fast.
const VALUE_BYTES: usize = 4;

#[test]
fn every_cut_inside_the_last_batch_recovers_to_the_batch_before() {
    for_each_io_mode(every_cut_recovers);
}

fn every_cut_recovers(io_mode: IoMode) {
    let root = tempfile::tempdir().unwrap();
    let pristine = root.path().join("pristine");
    let batches = numbered_batches(0, BATCH_COUNT, RECORDS_PER_BATCH, VALUE_BYTES, |o| {
        1_700_000_000_000 + o as i64
    });
    {
        let log = open_log(&pristine, sync_config(io_mode));
        for batch in &batches {
            append_rows(&log, batch);
        }
        log.close().unwrap();
    }
    remove_clean_marker(&pristine);

    let file = fs::read(log_file(&pristine, 0)).unwrap();
    let spans = batch_spans(&file);
    assert_eq!(spans.len(), BATCH_COUNT, "one batch per append");
    let (last_start, last_bytes) = spans[BATCH_COUNT - 1];
    assert!(
        (100..=200).contains(&last_bytes),
        "last batch is {last_bytes} bytes; keep it small so the loop is fast"
    );
    let kept: Vec<Expected> = batches[..BATCH_COUNT - 1].concat();
    let torn_base = batches[BATCH_COUNT - 1][0].offset;
    let work = root.path().join("work");

    for cut in last_start..last_start + last_bytes {
        copy_log_dir(&pristine, &work);
        let path = log_file(&work, 0);
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();

        let log = Log::open(&work, sync_config(io_mode))
            .unwrap_or_else(|e| panic!("reopen after a cut at byte {cut} failed: {e}"));
        common::assert_io_path(&log, io_mode);
        assert_eq!(
            log.next_offset(),
            torn_base,
            "cut at byte {cut}: the torn batch must be dropped"
        );
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            last_start as u64,
            "cut at byte {cut}: the file must be trimmed to the last whole batch"
        );
        assert_eq!(read_all(&log), kept, "cut at byte {cut}: earlier batches");

        let new_rows = numbered_batches(torn_base, 1, 2, VALUE_BYTES, |o| o as i64).remove(0);
        append_rows(&log, &new_rows);
        let mut expected = kept.clone();
        expected.extend(new_rows);
        assert_eq!(
            read_all(&log),
            expected,
            "cut at byte {cut}: old and new records"
        );
        log.close().unwrap();
        drop(log);

        let log = open_log(&work, sync_config(io_mode));
        assert_eq!(
            read_all(&log),
            expected,
            "cut at byte {cut}: old and new records after a clean reopen"
        );
    }
}
