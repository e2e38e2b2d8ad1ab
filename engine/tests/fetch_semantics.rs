//! Kafka's fetch contract, checked while the data is still in memory, after it is flushed, and
//! after reopening (read from disk): a fetch at the log end is empty, beyond it is out of range,
//! a budget smaller than one batch still returns that whole batch, a fetch inside a batch
//! returns the whole batch from its start while `read_records` skips the earlier records, and
//! `offset_for_timestamp` finds the first offset whose timestamp is at least the target, with
//! timestamps that go backwards across and within batches. Runs on every I/O path.

mod common;

use common::{Expected, append_rows, for_each_io_mode, open_log, read_all};
use ringlog::record::{BatchLimits, validate_batch};
use ringlog::{Config, Durability, IoMode, Log, ReadError};

/// Timestamps per batch: they go backwards within batches and across them.
const BATCH_TIMESTAMPS: [&[i64]; 6] = [
    &[100, 300, 200],
    &[150, 120],
    &[500, 400, 450, 90],
    &[50],
    &[600, 10, 20, 30, 40],
    &[250],
];
/// The value size of the batch that is much larger than the others.
const BIG_VALUE_BYTES: usize = 20_000;

fn config(io_mode: IoMode) -> Config {
    Config {
        durability: Durability::None,
        flush_interval_ms: None,
        // Small, so the offset and time indexes get entries and the lookups use them.
        index_interval_bytes: 64,
        ..common::config(io_mode)
    }
}

/// The batches, numbered from 0; batch 3 holds one large record.
fn batches() -> Vec<Vec<Expected>> {
    let mut offset = 0;
    BATCH_TIMESTAMPS
        .iter()
        .enumerate()
        .map(|(b, timestamps)| {
            timestamps
                .iter()
                .map(|&ts| {
                    let bytes = if b == 3 { BIG_VALUE_BYTES } else { 40 };
                    let row = Expected::numbered(offset, ts, bytes);
                    offset += 1;
                    row
                })
                .collect()
        })
        .collect()
}

const LIMITS: BatchLimits = BatchLimits {
    max_batch_bytes: usize::MAX,
    require_contiguous_offsets: true,
};

/// Base offset, last offset and byte size of every batch in `bytes`, which must be whole,
/// valid batches.
fn whole_batches(bytes: &[u8]) -> Vec<(u64, u64, usize)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let header = validate_batch(rest, &LIMITS).expect("fetch returns whole valid batches");
        out.push((
            header.base_offset as u64,
            header.last_offset() as u64,
            header.total_bytes(),
        ));
        rest = &rest[header.total_bytes()..];
    }
    out
}

fn check_fetch_contract(log: &Log, batches: &[Vec<Expected>], state: &str) {
    let end = log.next_offset();
    let at_end = log.fetch(end, 1 << 20).unwrap();
    assert!(at_end.bytes.is_empty(), "{state}: fetch at the log end");
    assert_eq!(
        (at_end.next_fetch_offset, at_end.high_watermark),
        (end, end)
    );
    match log.fetch(end + 1, 1 << 20) {
        Err(ReadError::OffsetOutOfRange {
            requested,
            start,
            end: e,
        }) => assert_eq!((requested, start, e), (end + 1, 0, end), "{state}"),
        other => panic!("{state}: fetch past the end gave {other:?}"),
    }
    assert!(
        matches!(
            log.fetch(u64::MAX, 1),
            Err(ReadError::OffsetOutOfRange { .. })
        ),
        "{state}: fetch at u64::MAX"
    );

    for (b, batch) in batches.iter().enumerate() {
        let base = batch[0].offset;
        let last = batch[batch.len() - 1].offset;
        for offset in base..=last {
            // A budget of one byte still returns exactly one whole batch.
            let fetched = log.fetch(offset, 1).unwrap();
            let found = whole_batches(&fetched.bytes);
            assert_eq!(found.len(), 1, "{state}: fetch({offset}, 1)");
            assert_eq!(
                (found[0].0, found[0].1),
                (base, last),
                "{state}: fetch({offset}, 1) returns batch {b} from its start"
            );
            assert_eq!(fetched.next_fetch_offset, last + 1, "{state}");
            assert_eq!(fetched.high_watermark, end, "{state}");

            let records = log.read_records(offset, 1).unwrap();
            let read: Vec<Expected> = records.iter().map(Expected::from_read).collect();
            assert_eq!(
                read,
                batch[(offset - base) as usize..].to_vec(),
                "{state}: read_records({offset}) skips the batch's earlier records"
            );
        }
    }

    // A large budget returns several whole batches, never a partial one.
    let mut offset = 0;
    while offset < end {
        let fetched = log.fetch(offset, 10_000).unwrap();
        let found = whole_batches(&fetched.bytes);
        assert_eq!(found[0].0, offset, "{state}");
        if found.len() > 1 {
            assert!(fetched.bytes.len() <= 10_000, "{state}: over budget");
        }
        offset = found.last().unwrap().1 + 1;
        assert_eq!(fetched.next_fetch_offset, offset, "{state}");
    }
    assert_eq!(read_all(log), batches.concat(), "{state}");
}

fn check_offset_for_timestamp(log: &Log, batches: &[Vec<Expected>], state: &str) {
    let all = batches.concat();
    let max = all.iter().map(|r| r.timestamp_ms).max().unwrap();
    for target in -1..=max + 1 {
        let expected = all
            .iter()
            .find(|r| r.timestamp_ms >= target)
            .map(|r| r.offset);
        assert_eq!(
            log.offset_for_timestamp(target).unwrap(),
            expected,
            "{state}: offset_for_timestamp({target})"
        );
    }
    assert_eq!(log.offset_for_timestamp(i64::MAX).unwrap(), None, "{state}");
}

#[test]
fn fetch_returns_whole_batches_in_memory_on_disk_and_after_reopen() {
    for_each_io_mode(fetch_contract_holds);
}

fn fetch_contract_holds(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let batches = batches();
    let log = open_log(dir.path(), config(io_mode));
    let empty = log.fetch(0, 1 << 20).unwrap();
    assert!(empty.bytes.is_empty(), "fetch on an empty log");
    assert_eq!((empty.next_fetch_offset, empty.high_watermark), (0, 0));
    assert_eq!(log.offset_for_timestamp(0).unwrap(), None, "empty log");
    assert!(matches!(
        log.fetch(1, 1),
        Err(ReadError::OffsetOutOfRange { .. })
    ));

    for batch in &batches {
        append_rows(&log, batch);
    }
    check_fetch_contract(&log, &batches, "in memory");
    check_offset_for_timestamp(&log, &batches, "in memory");
    log.flush().unwrap();
    check_fetch_contract(&log, &batches, "flushed");
    check_offset_for_timestamp(&log, &batches, "flushed");
    log.close().unwrap();
    drop(log);

    let log = open_log(dir.path(), config(io_mode));
    check_fetch_contract(&log, &batches, "reopened");
    check_offset_for_timestamp(&log, &batches, "reopened");
    drop(log);

    common::remove_clean_marker(dir.path());
    let log = open_log(dir.path(), config(io_mode));
    check_fetch_contract(&log, &batches, "recovered");
    check_offset_for_timestamp(&log, &batches, "recovered");
}
