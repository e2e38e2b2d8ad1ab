//! `Log::open_read_only` changes nothing on disk and works beside a live writer, and
//! `Log::open` refuses a directory another opener holds (`OpenError::Locked`).
//!
//! - A crashed directory (preallocated tail, no marker) read-only: every acknowledged record
//!   reads back, every write API is refused, and afterwards every file is byte-identical (the
//!   tail a writing open would trim is still there, no marker appears).
//! - Beside a live writer in this process: a second writing open is refused naming this pid;
//!   read-only opens see a prefix of what the writer acknowledged, intact.
//! - A compaction interrupted after its commit point: read-only reads what a writing open
//!   would (the committed swap), without settling it.
//! - A missing or empty directory: `OpenError::NoLog`, and nothing is created.
//!
//! Runs on every I/O path (of the writer; read-only opens read through the page cache).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{
    Expected, append_rows, copy_log_dir, for_each_io_mode, numbered_batches, open_log, read_all,
    sync_config,
};
use ringlog::compaction::CompactOptions;
use ringlog::{AppendError, CleanupPolicy, Config, IoMode, Log, MaintenanceError, OpenError};

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

fn small_config(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: 16 * 1024,
        max_batch_bytes: 16 * 1024,
        ..sync_config(io_mode)
    }
}

fn assert_writes_refused(log: &Log) {
    let refused = common::with_records(&[Expected::numbered(0, 0, 1)], |r| log.append(r));
    assert!(matches!(refused, Err(AppendError::ReadOnly)), "{refused:?}");
    assert!(matches!(log.flush(), Err(AppendError::ReadOnly)));
    assert!(matches!(
        log.enforce_retention(),
        Err(MaintenanceError::ReadOnly)
    ));
    assert!(matches!(
        log.compact(&CompactOptions::default()),
        Err(MaintenanceError::ReadOnly)
    ));
    assert!(log.is_read_only());
}

#[test]
fn a_read_only_open_of_a_crashed_log_changes_nothing() {
    for_each_io_mode(|io_mode| {
        let root = tempfile::tempdir().unwrap();
        let live = root.path().join("live");
        let crashed = root.path().join("crashed");
        let batches = numbered_batches(0, 40, 3, 300, |o| 1_700_000_000_000 + o as i64);
        let log = open_log(&live, small_config(io_mode));
        for batch in &batches {
            append_rows(&log, batch);
        }
        assert!(log.segment_count() > 1, "sealed segments too");
        copy_log_dir(&live, &crashed);
        drop(log);
        let before = snapshot(&crashed);

        let reader = Log::open_read_only(&crashed, small_config(io_mode)).unwrap();
        assert_eq!(read_all(&reader), batches.concat(), "on {}", io_mode.name());
        assert_writes_refused(&reader);
        reader.close().unwrap();
        drop(reader);
        assert!(
            snapshot(&crashed) == before,
            "on {}: a read-only open left every file as it was",
            io_mode.name()
        );

        let writer = open_log(&crashed, small_config(io_mode));
        assert_eq!(read_all(&writer), batches.concat());
    });
}

#[test]
fn a_live_writer_holds_its_directory_and_readers_see_a_prefix() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().unwrap();
        let batches = numbered_batches(0, 60, 2, 200, |o| 1_700_000_000_000 + o as i64);
        let writer = open_log(dir.path(), small_config(io_mode));
        for (i, batch) in batches.iter().enumerate() {
            append_rows(&writer, batch);
            if i % 20 == 10 {
                match Log::open(dir.path(), small_config(io_mode)) {
                    Err(OpenError::Locked { dir: d, holder_pid }) => {
                        assert_eq!(d, dir.path());
                        assert_eq!(holder_pid, Some(std::process::id()));
                    }
                    other => panic!("a second writer must be refused: {other:?}"),
                }
                let reader = Log::open_read_only(dir.path(), small_config(io_mode)).unwrap();
                let seen = read_all(&reader);
                let acknowledged = batches[..=i].concat();
                assert_eq!(seen, acknowledged, "on {}", io_mode.name());
            }
        }
        drop(writer);
        let message = {
            let _held = open_log(dir.path(), small_config(io_mode));
            Log::open(dir.path(), small_config(io_mode))
                .unwrap_err()
                .to_string()
        };
        assert!(
            message.contains("in use by another process")
                && message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        open_log(dir.path(), small_config(io_mode));
    });
}

#[test]
fn a_read_only_open_reads_an_unsettled_compaction_as_settled() {
    for_each_io_mode(|io_mode| {
        let config = Config {
            cleanup_policy: CleanupPolicy::Compact,
            ..small_config(io_mode)
        };
        let mut rows = numbered_batches(0, 80, 2, 200, |o| 1_700_000_000_000 + o as i64);
        for row in rows.iter_mut().flatten() {
            row.key = Some(format!("k{}", row.offset % 5).into_bytes());
        }
        // Stopped after every file operation of the pass in turn, before and after its commit
        // point, until it completes.
        for n in 0..1_000 {
            let root = tempfile::tempdir().unwrap();
            let dir = root.path().join("log");
            let log = open_log(&dir, config.clone());
            for batch in &rows {
                append_rows(&log, batch);
            }
            let stopped = log.compact(&CompactOptions {
                stop_after_file_operations: Some(n),
                ..CompactOptions::default()
            });
            if stopped.is_ok() {
                assert!(
                    n > 6,
                    "a pass of several segments takes more operations: {n}"
                );
                return;
            }
            log.abandon();
            let before = snapshot(&dir);
            let reader = Log::open_read_only(&dir, config.clone()).unwrap();
            let seen = read_all_gapped(&reader);
            drop(reader);
            assert!(
                snapshot(&dir) == before,
                "nothing settled by a read-only open"
            );
            let writer = open_log(&dir, config.clone());
            assert_eq!(
                seen,
                read_all_gapped(&writer),
                "stopped after {n} file operations, on {}",
                io_mode.name()
            );
        }
        panic!("the compaction never completed");
    });
}

/// Every record of a compacted log (offsets with gaps).
fn read_all_gapped(log: &Log) -> Vec<Expected> {
    let mut out = Vec::new();
    let mut offset = log.start_offset();
    while offset < log.high_watermark() {
        let fetched = log.fetch(offset, 1 << 20).unwrap();
        let records = log.read_records(offset, 1 << 20).unwrap();
        out.extend(records.iter().map(Expected::from_read));
        offset = fetched.next_fetch_offset;
    }
    out
}

#[test]
fn a_read_only_open_of_nothing_creates_nothing() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("missing");
    let error = Log::open_read_only(&missing, Config::default()).unwrap_err();
    assert!(matches!(error, OpenError::NoLog { .. }), "{error}");
    assert!(!missing.exists(), "nothing created");
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let error = Log::open_read_only(&empty, Config::default()).unwrap_err();
    assert!(matches!(error, OpenError::NoLog { .. }), "{error}");
    assert_eq!(
        std::fs::read_dir(&empty).unwrap().count(),
        0,
        "nothing created"
    );
}
