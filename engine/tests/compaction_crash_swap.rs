//! A compaction stopped after each file operation of its swap (as a crash would stop it) and
//! the log reopened: nothing is lost, nothing duplicated, every batch is valid, no staged file
//! is left, the log holds exactly what it held before the pass or after it (a pass of several
//! segments commits whole), and a later compaction and appends work. Runs on every I/O path.
//!
//! The compaction under test cleans a log that was compacted once and then got new data, so it
//! rewrites groups of several small clean segments as well as single dirty ones, and drops
//! tombstones: its clock is `DELETE_RETENTION_MS` past the first compaction's, so the delete
//! horizons that one stamped have passed. Every compaction after it runs at the same clock, so
//! the horizons it stamps have not, and recompacting keeps what it kept. It is stopped after `n` file operations for every
//! `n` from 0 up to the count of a full swap, found as the first `n` at which it succeeds.
//! After recovery every segment must also have both of its index files; that check runs last,
//! over every stopping point and path, so the others are not masked by it.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::{copy_log_dir, for_each_io_mode, open_log};
use ringlog::compaction::CompactOptions;
use ringlog::compaction::swap::{CLEANED_SUFFIX, REPLACES_EXTENSION, SWAP_SUFFIX};
use ringlog::record::{BatchLimits, Record, peek_batch_bytes, records, validate_batch};
use ringlog::segment::{INDEX_EXTENSION, LOG_EXTENSION, TIME_INDEX_EXTENSION, parse_file_name};
use ringlog::{CleanupPolicy, Config, IoMode, Log};

const SEGMENT_BYTES: u64 = 4096;
const VALUE_BYTES: usize = 100;
/// Keys written before the first compaction; the first `COLD_KEYS` of them are deleted then
/// and never written again, so their tombstones reach the cleaned section.
const KEYS: usize = 30;
const COLD_KEYS: usize = 8;
/// Guard against a compaction that never succeeds.
const MAX_FILE_OPERATIONS: usize = 10_000;

type Contents = BTreeMap<u64, (Vec<u8>, Option<Vec<u8>>)>;

fn compacted_config(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: SEGMENT_BYTES as usize,
        index_interval_bytes: 512,
        cleanup_policy: CleanupPolicy::Compact,
        ..common::config(io_mode)
    }
}

/// Delete retention of every compaction, and the clock of the first one.
const DELETE_RETENTION_MS: u64 = 60_000;
const FIRST_COMPACTION_MS: i64 = 1_700_000_000_000;
/// The clock of the compaction under test and of every one after it.
const LATER_COMPACTION_MS: i64 = FIRST_COMPACTION_MS + DELETE_RETENTION_MS as i64;

fn options(now_ms: i64, stop_after_file_operations: Option<usize>) -> CompactOptions {
    CompactOptions {
        delete_retention_ms: DELETE_RETENTION_MS,
        now_ms: Some(now_ms),
        stop_after_file_operations,
        ..CompactOptions::default()
    }
}

/// Every record by fetching from the start; each batch validated (CRC included), offsets
/// strictly increasing.
fn contents(log: &Log) -> Contents {
    let limits = BatchLimits {
        max_batch_bytes: SEGMENT_BYTES as usize,
        require_contiguous_offsets: false,
    };
    let mut out = Contents::new();
    let mut offset = log.start_offset();
    while offset < log.next_offset() {
        let fetched = log.fetch(offset, 16 * 1024).expect("fetch succeeds");
        assert!(
            !fetched.bytes.is_empty(),
            "fetch at {offset} returned nothing"
        );
        let mut rest = &fetched.bytes[..];
        while !rest.is_empty() {
            let header = validate_batch(rest, &limits).expect("a valid batch");
            let (batch, tail) = rest.split_at(header.total_bytes());
            for r in records(batch).expect("records decode") {
                let r = r.expect("a record decodes");
                let at = r.offset as u64;
                assert!(
                    out.last_key_value().is_none_or(|(&last, _)| last < at),
                    "offset {at} appears twice or out of order"
                );
                out.insert(
                    at,
                    (r.key.expect("keyed").to_vec(), r.value.map(<[u8]>::to_vec)),
                );
            }
            rest = tail;
        }
        offset = fetched.next_fetch_offset;
    }
    out
}

/// The latest `(offset, value)` of every key in `contents`.
fn latest(contents: &Contents) -> BTreeMap<Vec<u8>, (u64, Option<Vec<u8>>)> {
    let mut out = BTreeMap::new();
    for (offset, (key, value)) in contents {
        out.insert(key.clone(), (*offset, value.clone()));
    }
    out
}

fn append(log: &Log, key: &str, value: Option<&[u8]>, timestamp_ms: i64) {
    log.append(&[Record {
        key: Some(key.as_bytes()),
        value,
        timestamp_ms,
        headers: &[],
    }])
    .expect("append succeeds");
}

/// A log compacted once, with new dirty data after it, closed cleanly.
fn build_pristine(dir: &Path, io_mode: IoMode) {
    let log = open_log(dir, compacted_config(io_mode));
    let mut timestamp_ms = 1_000_000;
    for i in 0..100usize {
        timestamp_ms += 100;
        let key = i % KEYS;
        let deleted = key < COLD_KEYS && i >= 70;
        let value = [(i % 251) as u8; VALUE_BYTES];
        append(
            &log,
            &format!("key-{key}"),
            (!deleted).then_some(&value[..]),
            timestamp_ms,
        );
    }
    log.compact(&options(FIRST_COMPACTION_MS, None))
        .expect("the first compaction succeeds")
        .expect("there was something to clean");
    for i in 0..30usize {
        timestamp_ms += 100;
        let key = COLD_KEYS + i % (2 * KEYS);
        let value = vec![(i % 13) as u8; VALUE_BYTES];
        append(&log, &format!("key-{key}"), Some(&value), timestamp_ms);
    }
    log.close().expect("close succeeds");
}

/// Names of files a swap stages, left in `dir`.
fn staged_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .expect("list the log directory")
        .map(|e| e.expect("list").file_name().to_string_lossy().into_owned())
        .filter(|name| {
            name.ends_with(&format!(".{CLEANED_SUFFIX}"))
                || name.ends_with(&format!(".{SWAP_SUFFIX}"))
                || name.contains(&format!(".{REPLACES_EXTENSION}"))
        })
        .collect()
}

/// Checks that every `.log` file holds whole valid batches (CRC checked) with increasing
/// offsets; returns the index files missing beside them.
fn check_files(dir: &Path, when: &str) -> Vec<String> {
    let limits = BatchLimits {
        max_batch_bytes: SEGMENT_BYTES as usize,
        require_contiguous_offsets: false,
    };
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list the log directory")
        .map(|e| e.expect("list").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut missing = Vec::new();
    for name in &names {
        let Some(base) = parse_file_name(name, LOG_EXTENSION) else {
            continue;
        };
        for extension in [INDEX_EXTENSION, TIME_INDEX_EXTENSION] {
            let index = ringlog::segment::file_name(base, extension);
            if !names.contains(&index) {
                missing.push(format!("{when}: segment {name} has no {index}"));
            }
        }
        let data = fs::read(dir.join(name)).expect("read a segment");
        let mut pos = 0;
        let mut next = base;
        while pos < data.len() {
            if data[pos..].iter().all(|&b| b == 0) {
                break; // Preallocated space of the active segment.
            }
            let total = peek_batch_bytes(&data[pos..], usize::MAX).expect("a batch starts here");
            let header = validate_batch(&data[pos..pos + total], &limits)
                .unwrap_or_else(|e| panic!("{when}: {name} at byte {pos}: {e}"));
            assert!(
                header.base_offset as u64 >= next,
                "{when}: {name}: batch at {} after offset {next}",
                header.base_offset
            );
            next = header.last_offset() as u64 + 1;
            pos += total;
        }
    }
    missing
}

/// `full ⊆ found ⊆ original`, each record equal to the original at its offset, and the latest
/// value of every key present.
fn check_between(found: &Contents, original: &Contents, full: &Contents, when: &str) {
    for (offset, record) in found {
        assert_eq!(
            original.get(offset),
            Some(record),
            "{when}: offset {offset} is not the original record"
        );
    }
    for (offset, record) in full {
        assert_eq!(
            found.get(offset),
            Some(record),
            "{when}: offset {offset}, kept by a full compaction, is missing"
        );
    }
    let found_latest = latest(found);
    for (key, (offset, value)) in latest(original) {
        match (&value, found_latest.get(&key)) {
            (Some(_), read) => assert_eq!(
                read,
                Some(&(offset, value.clone())),
                "{when}: the latest value of {key:?} is lost"
            ),
            (None, read) => assert!(
                read.is_none_or(|(o, v)| *o == offset && v.is_none()),
                "{when}: deleted {key:?} reads back as {read:?}"
            ),
        }
    }
}

/// A pass commits whole: the log holds exactly the records it held before it, or exactly those
/// it holds after it, never a mix of the two.
fn assert_pre_or_post(found: &Contents, original: &Contents, full: &Contents, when: &str) {
    assert!(
        found == original || found == full,
        "{when}: {} records, neither the {} before the pass nor the {} after it",
        found.len(),
        original.len(),
        full.len()
    );
}

/// The crashed log, reopened, then compacted fully and appended to; returns the index files
/// found missing on the way.
fn check_reopened(
    dir: &Path,
    io_mode: IoMode,
    original: &Contents,
    full: &Contents,
    n: usize,
) -> Vec<String> {
    let when = format!("reopened after a stop at file operation {n}");
    let log = open_log(dir, compacted_config(io_mode));
    let staged = staged_files(dir);
    assert!(staged.is_empty(), "{when}: staged files left: {staged:?}");
    let mut missing = check_files(dir, &when);
    assert_eq!(
        log.next_offset(),
        *original.last_key_value().expect("records").0 + 1
    );
    check_between(&contents(&log), original, full, &when);
    assert_pre_or_post(&contents(&log), original, full, &when);
    log.compact(&options(LATER_COMPACTION_MS, None))
        .unwrap_or_else(|e| panic!("{when}: a full compaction fails: {e}"));
    let compacted = contents(&log);
    check_between(&compacted, original, full, &format!("{when}, compacted"));
    let values = |c: &Contents| -> Contents {
        c.iter()
            .filter(|(_, (_, v))| v.is_some())
            .map(|(o, r)| (*o, r.clone()))
            .collect()
    };
    assert_eq!(
        values(&compacted),
        values(full),
        "{when}: a full compaction keeps the same values"
    );
    let next = log.next_offset();
    append(&log, "after", Some(b"v"), 9_000_000);
    assert_eq!(log.next_offset(), next + 1, "{when}: appends continue");
    let last = log.read_records(next, 1024).expect("read the new record");
    assert_eq!(last[0].value.as_deref(), Some(&b"v"[..]));
    drop(log);
    missing.extend(check_files(dir, &format!("{when}, compacted and closed")));
    missing
}

#[test]
fn a_swap_stopped_at_any_file_operation_recovers() {
    // Checked after every path ran, so that every other check ran for every stopping point.
    let mut missing_indexes = Vec::new();
    for_each_io_mode(|io_mode| {
        let root = tempfile::tempdir().expect("a temporary directory");
        let pristine = root.path().join("pristine");
        let work = root.path().join("work");
        build_pristine(&pristine, io_mode);
        copy_log_dir(&pristine, &work);
        let (original, full, full_report) = {
            let log = open_log(&work, compacted_config(io_mode));
            let original = contents(&log);
            let report = log
                .compact(&options(LATER_COMPACTION_MS, None))
                .expect("a full compaction succeeds")
                .expect("there is something to clean");
            (original, contents(&log), report)
        };
        assert!(
            full_report.tombstones_removed > 0
                && full_report.segments_before > full_report.segments_after,
            "the compaction under test drops tombstones and merges segments: {full_report}"
        );
        let mut file_operations = None;
        let mut missing = Vec::new();
        for n in 0..MAX_FILE_OPERATIONS {
            copy_log_dir(&pristine, &work);
            let log = open_log(&work, compacted_config(io_mode));
            let result = log.compact(&options(LATER_COMPACTION_MS, Some(n)));
            // The log that failed to compact reads exactly as before the pass or after it.
            let when = format!("stopped at file operation {n}, before reopening");
            check_between(&contents(&log), &original, &full, &when);
            assert_pre_or_post(&contents(&log), &original, &full, &when);
            drop(log);
            match result {
                Ok(report) => {
                    assert_eq!(
                        report.as_ref().map(|r| r.records_after),
                        Some(full_report.records_after)
                    );
                    missing.extend(check_reopened(&work, io_mode, &original, &full, n));
                    file_operations = Some(n);
                    break;
                }
                Err(e) => {
                    assert!(e.to_string().contains("simulated crash"), "{e}");
                    missing.extend(check_reopened(&work, io_mode, &original, &full, n));
                }
            }
        }
        let file_operations = file_operations.expect("the compaction succeeds eventually");
        // A pass commits with one rename, then deletes 3 files per old segment, renames 3 per
        // new one and deletes its manifest.
        assert!(
            full_report.segments_before > 1 && full_report.segments_after > 1,
            "the pass under test replaces several segments with several: {full_report}"
        );
        assert_eq!(
            file_operations,
            2 + 3 * full_report.segments_before + 3 * full_report.segments_after,
            "{file_operations} file operations for {full_report}"
        );
        missing_indexes.extend(missing.into_iter().map(|m| {
            format!(
                "{} ({file_operations} file operations): {m}",
                io_mode.name()
            )
        }));
    });
    // A pass stopped after a new segment's `.index.cleaned` (or also `.timeindex.cleaned`) was
    // renamed into place is finished at open by running step 4 again; it deletes the index
    // files of every old segment, and a new segment may have an old one's base offset, so it
    // must not delete the new ones.
    assert!(
        missing_indexes.is_empty(),
        "recovery left segments without their index files:\n{}",
        missing_indexes.join("\n")
    );
}
