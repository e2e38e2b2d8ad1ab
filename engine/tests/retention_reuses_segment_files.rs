//! Spare segment files (`engine/src/log/spares.rs`): retention keeps the `.log` files of the
//! segments it deletes, renamed to `{base}.log.deleted`, and the next rolls write over them.
//! On every I/O path of the build (none on the mmap path, which never keeps a spare):
//! - retention keeps at most `spare_segments` spares, and rolls reuse them (the same inode);
//! - every record retention kept reads back exactly, before and after a clean reopen, and
//!   after a crash in a reused file (recovery keeps its records and nothing of the file's old
//!   batches);
//! - close deletes the spares, a writing open deletes those a crash left, and
//!   `spare_segments: 0` keeps none;
//! - a read-only opener still holding a deleted segment that the writer reused never serves
//!   the new segment's batches as the old segment's records.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{Expected, append_rows, for_each_io_mode, numbered_batches, open_log, read_all};
use ringlog::{Config, Durability, IoMode, IoPath, Log};

const SEGMENT_BYTES: u64 = 64 * 1024;
/// Retention keeps about two segments.
const RETENTION_BYTES: u64 = 2 * SEGMENT_BYTES;
/// Records of about 1 KiB, 8 per batch: eight batches fill a segment.
const VALUE_BYTES: usize = 1000;
const RECORDS_PER_BATCH: usize = 8;

fn config(io_mode: IoMode, spare_segments: usize) -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: 16 * 1024,
        retention_bytes: Some(RETENTION_BYTES),
        retention_check_interval_ms: None,
        durability: Durability::Sync,
        flush_interval_ms: None,
        spare_segments,
        io_mode,
        ..Config::default()
    }
}

/// The spare files in `dir`, by name.
fn spares(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list the log directory")
        .map(|e| e.expect("list").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log.deleted"))
        .collect();
    names.sort();
    names
}

/// Inodes of the files in `dir` whose names end with `suffix`.
fn inodes(dir: &Path, suffix: &str) -> BTreeSet<u64> {
    fs::read_dir(dir)
        .expect("list the log directory")
        .map(|e| e.expect("list"))
        .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
        .map(|e| e.metadata().expect("stat").ino())
        .collect()
}

/// Appends `batch_count` batches continuing at the log's next offset; returns their records.
fn append_batches(log: &Log, batch_count: usize) -> Vec<Expected> {
    let batches = numbered_batches(
        log.next_offset(),
        batch_count,
        RECORDS_PER_BATCH,
        VALUE_BYTES,
        |o| 1_700_000_000_000 + o as i64,
    );
    for batch in &batches {
        append_rows(log, batch);
    }
    batches.into_iter().flatten().collect()
}

/// Asserts the log holds exactly the records of `written` from its start offset on.
fn assert_holds(log: &Log, written: &[Expected]) {
    let start = log.start_offset();
    let kept: Vec<Expected> = written
        .iter()
        .filter(|r| r.offset >= start)
        .cloned()
        .collect();
    assert_eq!(
        log.next_offset(),
        written.last().map_or(0, |r| r.offset + 1)
    );
    let read = read_all(log);
    assert_eq!(read.len(), kept.len(), "records from offset {start}");
    assert!(
        read == kept,
        "a record read back differs from the one appended"
    );
}

/// Fills segments, runs retention, and rolls into the spares; returns what was written and
/// the inodes retention kept as spares.
fn retire_and_reuse(log: &Log, dir: &Path, io_mode: IoMode) -> (Vec<Expected>, BTreeSet<u64>) {
    let mut written = append_batches(log, 6 * 8);
    let report = log.enforce_retention().expect("retention");
    assert!(
        report.deleted_segments.len() >= 3,
        "retention deleted old segments: {report:?}"
    );
    let kept = spares(dir);
    let spare_inodes = inodes(dir, ".log.deleted");
    if log.io_path() == IoPath::Mmap {
        assert!(kept.is_empty(), "no spares on the mmap path: {kept:?}");
    } else {
        assert_eq!(
            kept.len(),
            log.config()
                .spare_segments
                .min(report.deleted_segments.len()),
            "retention keeps spare_segments files on {}: {kept:?}",
            io_mode.name()
        );
    }
    // Two more rolls take the spares.
    written.extend(append_batches(log, 2 * 8 + 1));
    assert!(spares(dir).is_empty(), "rolls took every spare");
    let reused = inodes(dir, ".log");
    assert!(
        spare_inodes.is_subset(&reused),
        "the new segments are the spare files: spares {spare_inodes:?}, segments {reused:?}"
    );
    (written, spare_inodes)
}

#[test]
fn rolls_write_over_the_files_retention_deleted() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = open_log(dir.path(), config(io_mode, 2));
        let (mut written, spare_inodes) = retire_and_reuse(&log, dir.path(), io_mode);
        if log.io_path() != IoPath::Mmap {
            assert_eq!(spare_inodes.len(), 2);
        }
        assert_holds(&log, &written);
        // Retention again: spares again, read back again.
        log.enforce_retention().expect("retention");
        written.extend(append_batches(&log, 3));
        assert_holds(&log, &written);
        log.close().expect("close");
        assert!(spares(dir.path()).is_empty(), "close deletes the spares");
        drop(log);
        let log = open_log(dir.path(), config(io_mode, 2));
        assert!(log.recovery_cuts().is_empty(), "{:?}", log.recovery_cuts());
        assert_holds(&log, &written);
    });
}

#[test]
fn a_crash_in_a_reused_file_keeps_its_records_and_none_of_its_old_ones() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = open_log(dir.path(), config(io_mode, 2));
        let (mut written, _) = retire_and_reuse(&log, dir.path(), io_mode);
        // A few records into the active segment, a reused file whose old batches follow them.
        for batch_count in [1, 2] {
            written.extend(append_batches(&log, batch_count));
        }
        // The next retention leaves spares behind for the crash.
        log.enforce_retention().expect("retention");
        let left = spares(dir.path());
        log.abandon();
        let log = open_log(dir.path(), config(io_mode, 2));
        assert_holds(&log, &written);
        for cut in log.recovery_cuts() {
            assert!(
                cut.next_offset == log.next_offset(),
                "a cut keeps every acknowledged record: {cut}"
            );
        }
        if io_mode_keeps_spares(&log) {
            assert!(!left.is_empty(), "the crash left spares");
        }
        assert!(
            spares(dir.path()).is_empty(),
            "a writing open deletes the spares a crash left"
        );
        written.extend(append_batches(&log, 3));
        assert_holds(&log, &written);
    });
}

/// The rule the reuse rests on, at its sharpest: a reused file's old batches may start right
/// where the new data ends (no zero padding between, when the data ends on a page boundary), or
/// a torn write may leave one part-way into an old batch. Recovery keeps the new batches and
/// cuts the rest: old batches have offsets below the segment's base.
#[test]
fn old_batches_right_after_the_data_of_a_reused_file_are_cut() {
    for_each_io_mode(|io_mode| {
        for skew in [0usize, 100] {
            let dir = tempfile::tempdir().expect("tempdir");
            let log = open_log(dir.path(), config(io_mode, 2));
            let written = append_batches(&log, 8 + 4);
            log.close().expect("close");
            drop(log);
            let segments: Vec<String> = common::segment_files(dir.path())
                .into_iter()
                .filter(|n| Path::new(n).extension().is_some_and(|e| e == "log"))
                .collect();
            assert_eq!(segments.len(), 2, "{segments:?}");
            let old = fs::read(dir.path().join(&segments[0])).expect("read");
            let active = dir.path().join(&segments[1]);
            let mut bytes = fs::read(&active).expect("read");
            bytes.extend_from_slice(&old[skew..]);
            fs::write(&active, &bytes).expect("write");
            common::remove_clean_marker(dir.path());
            let log = open_log(dir.path(), config(io_mode, 2));
            assert_holds(&log, &written);
            let cuts = log.recovery_cuts();
            assert_eq!(cuts.len(), 1, "{cuts:?}");
            if skew == 0 {
                assert!(
                    cuts[0].reason.contains("at offset 0 where offset"),
                    "{}",
                    cuts[0]
                );
            }
            let mut more = written;
            more.extend(append_batches(&log, 2));
            assert_holds(&log, &more);
        }
    });
}

fn io_mode_keeps_spares(log: &Log) -> bool {
    log.io_path() != IoPath::Mmap
}

#[test]
fn no_spares_are_kept_when_spare_segments_is_zero() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = open_log(dir.path(), config(io_mode, 0));
        let mut written = append_batches(&log, 6 * 8);
        let report = log.enforce_retention().expect("retention");
        assert!(!report.deleted_segments.is_empty());
        assert!(spares(dir.path()).is_empty());
        written.extend(append_batches(&log, 2 * 8));
        assert_holds(&log, &written);
    });
}

#[test]
fn a_read_only_reader_never_serves_a_reused_file_as_its_old_segment() {
    for_each_io_mode(|io_mode| {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = open_log(dir.path(), config(io_mode, 2));
        let written = append_batches(&log, 6 * 8);
        // Another opener's view: its own handles on today's segments.
        let reader = Log::open_read_only(dir.path(), config(io_mode, 2)).expect("read-only open");
        let report = log.enforce_retention().expect("retention");
        append_batches(&log, 2 * 8 + 1);
        let (mut served, mut refused) = (0, 0);
        for &base in &report.deleted_segments {
            for offset in [base, base + 3] {
                match reader.read_records(offset, 4096) {
                    Ok(records) => {
                        served += 1;
                        assert!(!records.is_empty());
                        for record in &records {
                            let appended = &written[record.offset as usize];
                            assert!(
                                Expected::from_read(record) == *appended,
                                "the read-only reader served offset {} wrong",
                                record.offset
                            );
                        }
                    }
                    // The file holds another segment's batches now: refused, not served.
                    Err(e) => {
                        refused += 1;
                        assert!(
                            e.to_string().contains("outside the segment"),
                            "{}: {e}",
                            io_mode.name()
                        );
                    }
                }
            }
        }
        // Deleted segments past the spares keep their old inode for the reader; the reused
        // ones are refused (on the paths that keep spares).
        assert!(served > 0, "some deleted segments are still read");
        if io_mode_keeps_spares(&log) {
            assert!(refused > 0, "the reused files are refused");
        } else {
            assert_eq!(refused, 0);
        }
    });
}
