//! Read-ahead racing the log's changes: a consumer reading sequentially from disk (no read
//! cache, reads of 4 KiB, four in flight) while a producer appends and rolls segments, and while
//! retention deletes the oldest segments and rolls write over their files (spares). Every fetch
//! returns whole batches below its high watermark, each record the one written at its offset,
//! or, for offsets retention took, `ReadError::OffsetOutOfRange`. (Compaction swaps under
//! read-ahead are raced by `compaction_concurrent.rs`.) Runs on every I/O path; io_uring is the
//! one that reads ahead.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{Expected, for_each_io_mode, with_records};
use ringlog::record::records;
use ringlog::{Config, Durability, IoMode, Log, ReadError, Shared, SharedConfig};

const SEGMENT_BYTES: u64 = 64 * 1024;
const VALUE_BYTES: usize = 700;
const BATCHES: usize = 1500;
/// A consumer that sees nothing new for this long fails instead of hanging.
const STALL_LIMIT: Duration = Duration::from_secs(30);

fn config(io_mode: IoMode, durability: Durability) -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: 16 * 1024,
        read_ahead_bytes: 4096,
        read_ahead_depth: 4,
        durability,
        ..common::config(io_mode)
    }
}

fn open(dir: &std::path::Path, config: Config) -> Arc<Log> {
    // No read cache: every read of written data goes to disk (or, for the active segment's
    // unwritten tail, to the writer's memory).
    let shared = Shared::new(
        dir,
        &SharedConfig {
            cache_bytes: 0,
            ..common::shared_config(config.io_mode)
        },
    )
    .expect("shared");
    Arc::new(Log::open_with(dir.join("log"), config, &shared).expect("open"))
}

/// The record written at `offset`.
fn expected(offset: u64) -> Expected {
    Expected::numbered(offset, 1_700_000_000_000 + offset as i64, VALUE_BYTES)
}

/// Appends `BATCHES` batches of 1 to 8 records, each record `expected(offset)`.
fn produce(log: &Log) {
    let mut offset = 0;
    for batch in 0..BATCHES {
        let rows: Vec<Expected> = (0..=batch % 8)
            .map(|i| expected(offset + i as u64))
            .collect();
        let info = with_records(&rows, |records| log.append(records)).expect("append");
        assert_eq!(info.base_offset, offset);
        offset = info.last_offset + 1;
        if batch % 16 == 0 {
            thread::yield_now();
        }
    }
}

/// Checks one fetch from `offset`: whole batches from the one holding `offset`, below the high
/// watermark, every record the one written at its offset. Returns the next offset.
fn check_fetch(fetched: &ringlog::FetchedBatches, offset: u64, when: &str) -> u64 {
    common::check_fetched(fetched, offset, when, |batch| {
        for record in records(batch).unwrap_or_else(|e| panic!("{when}: {e}")) {
            let record = record.unwrap_or_else(|e| panic!("{when}: {e}"));
            let want = expected(record.offset as u64);
            assert_eq!(
                record.key,
                want.key.as_deref(),
                "{when}: key at {}",
                record.offset
            );
            assert_eq!(
                record.value,
                want.value.as_deref(),
                "{when}: value at {}",
                record.offset
            );
        }
    })
}

/// Tails `log` until `done` and the end is reached; with `retention`, offsets that retention
/// took are skipped. Returns the records read.
fn consume(log: &Log, done: &AtomicBool, retention: bool, when: &str) -> u64 {
    let mut offset = 0;
    let mut read = 0;
    let mut last_progress = Instant::now();
    loop {
        if done.load(Ordering::Acquire) && offset >= log.next_offset() {
            return read;
        }
        let max_bytes = 1024 << (offset as usize % 5);
        let fetched = match log.fetch(offset, max_bytes) {
            Ok(fetched) => fetched,
            Err(ReadError::OffsetOutOfRange { start, .. }) if retention && offset < start => {
                offset = start;
                continue;
            }
            Err(e) => panic!("{when}: fetch at {offset}: {e}"),
        };
        if fetched.bytes.is_empty() {
            assert!(
                last_progress.elapsed() < STALL_LIMIT,
                "{when}: stuck at offset {offset} (high watermark {})",
                fetched.high_watermark
            );
            thread::yield_now();
            continue;
        }
        last_progress = Instant::now();
        let next = check_fetch(&fetched, offset, &format!("{when}: fetch at {offset}"));
        read += next - offset;
        offset = next;
    }
}

/// A producer and two tailing consumers on one log opened with `config`; with `retention`,
/// a third thread enforces retention over and over.
fn race(config: Config, retention: bool, when: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path(), config);
    let done = Arc::new(AtomicBool::new(false));
    let consumers: Vec<_> = (0..2)
        .map(|c| {
            let (log, done) = (Arc::clone(&log), Arc::clone(&done));
            let when = format!("{when}, consumer {c}");
            thread::spawn(move || consume(&log, &done, retention, &when))
        })
        .collect();
    let cleaner = retention.then(|| {
        let (log, done) = (Arc::clone(&log), Arc::clone(&done));
        thread::spawn(move || {
            let mut deleted = 0;
            while !done.load(Ordering::Acquire) {
                deleted += log
                    .enforce_retention()
                    .expect("retention")
                    .deleted_segments
                    .len();
                thread::sleep(Duration::from_millis(2));
            }
            deleted
        })
    });
    produce(&log);
    log.flush().expect("flush");
    done.store(true, Ordering::Release);
    let deleted = cleaner.map(|c| c.join().expect("retention thread"));
    for consumer in consumers {
        let read = consumer.join().expect("consumer");
        assert!(read > 0, "{when}: a consumer read nothing");
        if !retention {
            assert_eq!(read, log.next_offset(), "{when}: a consumer missed records");
        }
    }
    if let Some(deleted) = deleted {
        assert!(deleted > 0, "{when}: retention deleted nothing");
    }
    assert!(
        log.segment_count() > 1 || retention,
        "{when}: the log rolled"
    );
}

#[test]
fn consumers_reading_ahead_of_a_producer_get_only_what_is_below_the_high_watermark() {
    for_each_io_mode(|io_mode| {
        for durability in [Durability::None, Durability::Write, Durability::Sync] {
            let when = format!("{} {}", io_mode.name(), durability.name());
            race(config(io_mode, durability), false, &when);
        }
    });
}

#[test]
fn consumers_reading_ahead_of_retention_and_reused_files_get_records_or_out_of_range() {
    for_each_io_mode(|io_mode| {
        let config = Config {
            retention_bytes: Some(4 * SEGMENT_BYTES),
            retention_check_interval_ms: None,
            spare_segments: 2,
            ..config(io_mode, Durability::Write)
        };
        race(config, true, &format!("{} retention", io_mode.name()));
    });
}
