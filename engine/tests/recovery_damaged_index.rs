//! After a clean shutdown the indexes are trusted and recovery resumes at the last offset-index
//! entry. An index damaged so that an entry points inside a batch (found by the
//! `recovery_scan` fuzz target) must not cost data: a resumed scan that stops short is redone
//! from the start, so the active segment is not truncated at the bogus position and a sealed
//! segment still opens. An earlier entry pointing at bytes that look like a batch running past
//! the segment's data, or holding offsets outside the segment, makes fetches through it fail as
//! corrupt, not panic; and a time index of a segment named for a base offset near u64::MAX does
//! not overflow. Runs on every I/O path.

mod common;

use std::fs;
use std::path::Path;

use common::{
    Expected, append_rows, for_each_io_mode, log_file, numbered_batches, open_log, read_all,
    segment_path, sync_config,
};
use ringlog::record::Record;
use ringlog::segment::index::OffsetIndex;
use ringlog::segment::{INDEX_EXTENSION, TIME_INDEX_EXTENSION};
use ringlog::{AppendError, CLEAN_SHUTDOWN_FILE, Config, IoMode, ReadError};

fn config(io_mode: IoMode) -> Config {
    Config {
        index_interval_bytes: 256,
        ..sync_config(io_mode)
    }
}

/// Writes `batches` to a fresh log in `dir` and closes it cleanly.
fn write_log(dir: &Path, config: Config, batches: &[Vec<Expected>]) {
    let log = open_log(dir, config);
    for batch in batches {
        append_rows(&log, batch);
    }
    log.close().unwrap();
}

/// Moves the `entry`th offset-index entry of segment `base` to `position`, keeping the file a
/// well-formed index (entries still increase), so that only the position lies.
fn move_index_entry(dir: &Path, base: u64, entry: usize, position: u32) {
    let path = segment_path(dir, base, INDEX_EXTENSION);
    let mut bytes = fs::read(&path).unwrap();
    let at = entry * 8 + 4;
    bytes[at..at + 4].copy_from_slice(&position.to_be_bytes());
    let log_bytes = fs::read(log_file(dir, base)).unwrap().len() as u64;
    OffsetIndex::decode(&bytes, log_bytes).expect("the damaged index still decodes");
    fs::write(&path, bytes).unwrap();
}

fn index_entries(dir: &Path, base: u64) -> OffsetIndex {
    let bytes = fs::read(segment_path(dir, base, INDEX_EXTENSION)).unwrap();
    OffsetIndex::decode(&bytes, u64::MAX).unwrap()
}

#[test]
fn index_entry_inside_a_batch_loses_nothing_in_the_active_segment() {
    for_each_io_mode(active_segment_keeps_everything);
}

fn active_segment_keeps_everything(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let batches = numbered_batches(0, 12, 2, 100, |o| 1_700_000_000_000 + o as i64);
    write_log(dir.path(), config(io_mode), &batches);
    let last = index_entries(dir.path(), 0).last().expect("entries");
    move_index_entry(
        dir.path(),
        0,
        index_entries(dir.path(), 0).len() - 1,
        last.position + 1,
    );

    let log = open_log(dir.path(), config(io_mode));
    assert_eq!(log.next_offset(), 24, "no batch was cut off");
    assert_eq!(read_all(&log), batches.concat());
    let more = numbered_batches(24, 1, 1, 10, |o| 1_700_000_000_000 + o as i64);
    append_rows(&log, &more[0]);
    log.close().unwrap();
    drop(log);
    let log = open_log(dir.path(), config(io_mode));
    assert_eq!(read_all(&log), [batches.concat(), more.concat()].concat());
}

#[test]
fn index_entry_inside_a_batch_of_a_sealed_segment_still_opens() {
    for_each_io_mode(sealed_segment_opens);
}

fn sealed_segment_opens(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let small = Config {
        segment_bytes: 4096,
        max_batch_bytes: 4096,
        ..config(io_mode)
    };
    let batches = numbered_batches(0, 30, 2, 100, |o| 1_700_000_000_000 + o as i64);
    write_log(dir.path(), small.clone(), &batches);
    let log = open_log(dir.path(), small.clone());
    let bases = log.segment_base_offsets();
    drop(log);
    assert!(bases.len() >= 2, "the log rolled: {bases:?}");
    let sealed = bases[0];
    let entries = index_entries(dir.path(), sealed);
    let last = entries.last().expect("entries");
    move_index_entry(dir.path(), sealed, entries.len() - 1, last.position + 3);

    let log = open_log(dir.path(), small);
    assert_eq!(log.segment_base_offsets(), bases);
    assert_eq!(read_all(&log), batches.concat());
}

#[test]
fn index_entry_at_a_fake_header_fails_fetches_as_corrupt() {
    for_each_io_mode(|io_mode| {
        // A plausible base offset, but a length running far past the segment's data.
        fake_header_is_corrupt(io_mode, 5, "truncated");
        // Offsets that cannot be in this segment: before it (a last offset of -1 would also
        // overflow the next fetch offset), or past its end (the segment holds 24).
        fake_header_is_corrupt(io_mode, -1, "outside the segment based at offset 0");
        fake_header_is_corrupt(io_mode, 1000, "outside the segment based at offset 0");
    });
}

fn fake_header_is_corrupt(io_mode: IoMode, fake_base_offset: i64, phrase: &str) {
    let dir = tempfile::tempdir().unwrap();
    // The first record's value looks like a batch header: the given base offset, a length of
    // 1,000,000 bytes (below max_batch_bytes), lastOffsetDelta 0.
    let mut fake = vec![0x55_u8; 64];
    fake[..8].copy_from_slice(&fake_base_offset.to_be_bytes());
    fake[8..12].copy_from_slice(&1_000_000_i32.to_be_bytes());
    fake[23..27].copy_from_slice(&0_i32.to_be_bytes());
    let mut batches = numbered_batches(0, 12, 2, 100, |o| 1_700_000_000_000 + o as i64);
    batches[0][0].value = Some(fake.clone());
    write_log(dir.path(), config(io_mode), &batches);
    let file = fs::read(log_file(dir.path(), 0)).unwrap();
    let fake_at = file
        .windows(fake.len())
        .position(|w| w == fake.as_slice())
        .expect("the value is in the file");
    let entries = index_entries(dir.path(), 0);
    assert!(entries.len() >= 2, "two entries: {entries:?}");
    let first = entries.entries()[0];
    move_index_entry(dir.path(), 0, 0, fake_at as u32);

    let log = open_log(dir.path(), config(io_mode));
    assert_eq!(
        log.next_offset(),
        24,
        "the last entry is sound, so nothing is rescanned"
    );
    let offset = u64::from(first.relative_offset);
    let error = log
        .fetch(offset, 1 << 20)
        .expect_err("a fetch through the fake header");
    assert!(
        matches!(error, ReadError::Corrupt { position, .. } if position == fake_at as u64),
        "{error:?}"
    );
    assert!(error.to_string().contains(phrase), "{error}");
    // Offsets before the damaged entry are still served.
    assert!(!log.fetch(0, 1).unwrap().bytes.is_empty());
}

#[test]
fn time_index_of_a_segment_named_near_u64_max_does_not_overflow() {
    for_each_io_mode(segment_near_u64_max_opens);
}

fn segment_near_u64_max_opens(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let base = u64::MAX - 1;
    fs::write(log_file(dir.path(), base), []).unwrap();
    fs::write(segment_path(dir.path(), base, INDEX_EXTENSION), []).unwrap();
    // One entry at relative offset 5: base + 5 is past u64::MAX.
    let mut entry = 1_i64.to_be_bytes().to_vec();
    entry.extend_from_slice(&5_u32.to_be_bytes());
    fs::write(segment_path(dir.path(), base, TIME_INDEX_EXTENSION), entry).unwrap();
    fs::write(dir.path().join(CLEAN_SHUTDOWN_FILE), b"0\n").unwrap();

    let log = open_log(dir.path(), config(io_mode));
    assert_eq!(log.next_offset(), base);
    assert_eq!(log.offset_for_timestamp(5).unwrap(), None);
    let record = Record {
        key: None,
        value: Some(b"v"),
        timestamp_ms: 0,
        headers: &[],
    };
    assert!(matches!(
        log.append(&[record]),
        Err(AppendError::OffsetOverflow { .. })
    ));
}
