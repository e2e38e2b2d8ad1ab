//! Compaction while the log is in use: two producers append keyed records (some tombstones),
//! two consumers tail the log from offset 0 with `fetch`, and a third thread compacts over and
//! over with small offset maps (several rounds) and no delete retention. A tiny read cache
//! sends most reads to disk, into files that compaction may have just replaced.
//!
//! Consumers must never fail, must see offsets strictly increase, and every record they read
//! must be the one written at its offset; each must see the latest value of every key. At the
//! end, after a final compaction, the key → latest map equals what the producers wrote last.
//! Runs on every I/O path.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{assert_io_path, for_each_io_mode};
use ringlog::compaction::CompactOptions;
use ringlog::compaction::offset_map::SLOT_BYTES;
use ringlog::record::{BatchLimits, Record, records, validate_batch};
use ringlog::{CleanupPolicy, Config, IoMode, Log, Shared, SharedConfig};

const PRODUCERS: usize = 2;
const CONSUMERS: usize = 2;
/// Batches per producer, of 1 to 4 records.
const BATCHES_PER_PRODUCER: usize = 600;
/// A producer pauses for a millisecond every this many batches.
const PAUSE_EVERY_BATCHES: usize = 4;
const KEYS: usize = 40;
const SEGMENT_BYTES: u64 = 16 * 1024;
const BUFFER_BYTES: usize = 16 * 1024;
const CACHE_BYTES: usize = 64 * 1024;
/// Offset-map sizes the compactor cycles through, in slots (a 16-slot map holds 14 keys).
const MAP_SLOTS: [usize; 3] = [16, 64, 4096];
/// A consumer that sees nothing new for this long fails instead of hanging.
const STALL_LIMIT: Duration = Duration::from_secs(30);

type Written = BTreeMap<u64, (Vec<u8>, Option<Vec<u8>>)>;

fn compacted_config(io_mode: IoMode) -> Config {
    Config {
        segment_bytes: SEGMENT_BYTES,
        max_batch_bytes: 8 * 1024,
        // Reads of 4 KiB: a sequential consumer keeps several in flight per segment
        // (read-ahead), which a compaction swap races.
        read_ahead_bytes: 4096,
        index_interval_bytes: 1024,
        cleanup_policy: CleanupPolicy::Compact,
        ..common::config(io_mode)
    }
}

fn open(dir: &std::path::Path, io_mode: IoMode) -> Arc<Log> {
    let shared = Shared::new(
        dir,
        &SharedConfig {
            io_mode,
            buffer_bytes: BUFFER_BYTES,
            cache_bytes: CACHE_BYTES,
            ..SharedConfig::default()
        },
    )
    .expect("shared resources");
    let log = Log::open_with(dir.join("log"), compacted_config(io_mode), &shared).expect("open");
    assert_io_path(&log, io_mode);
    Arc::new(log)
}

/// Appends `BATCHES_PER_PRODUCER` batches; returns what was written at each offset.
fn produce(log: &Log, producer: usize) -> Written {
    let mut written = Written::new();
    for batch in 0..BATCHES_PER_PRODUCER {
        let count = 1 + (batch * 7 + producer) % 4;
        let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0..count)
            .map(|i| {
                let n = batch * 4 + i;
                let key = format!("key-{}", (n * 13 + producer * 7) % KEYS).into_bytes();
                let value = (n % 11 != 0).then(|| {
                    let mut v = format!("producer-{producer}-record-{n}-").into_bytes();
                    v.resize(v.len() + (n * 31) % 200, b'a' + (n % 26) as u8);
                    v
                });
                (key, value)
            })
            .collect();
        let batch_records: Vec<Record<'_>> = rows
            .iter()
            .map(|(key, value)| Record {
                key: Some(key),
                value: value.as_deref(),
                timestamp_ms: 1_000_000 + (batch * PRODUCERS + producer) as i64,
                headers: &[],
            })
            .collect();
        let info = log.append(&batch_records).expect("append succeeds");
        for (i, row) in rows.into_iter().enumerate() {
            written.insert(info.base_offset + i as u64, row);
        }
        if batch % PAUSE_EVERY_BATCHES == 0 {
            // Gives the compactor time to run many times while the producers write.
            thread::sleep(Duration::from_millis(1));
        }
    }
    written
}

/// Tails the log from 0 until the producers are done and the end is reached; returns every
/// record read.
fn consume(log: &Log, producers_done: &AtomicBool, consumer: usize) -> Written {
    let limits = BatchLimits {
        max_batch_bytes: 8 * 1024,
        require_contiguous_offsets: false,
    };
    let mut seen = Written::new();
    let mut offset = 0;
    let mut last_progress = Instant::now();
    loop {
        let done = producers_done.load(Ordering::Acquire);
        if done && offset >= log.next_offset() {
            return seen;
        }
        let max_bytes = 1024 << (offset as usize % 6);
        let fetched = log
            .fetch(offset, max_bytes)
            .unwrap_or_else(|e| panic!("consumer {consumer}: fetch at {offset}: {e}"));
        if fetched.bytes.is_empty() {
            assert!(
                last_progress.elapsed() < STALL_LIMIT,
                "consumer {consumer} stuck at offset {offset} (log end {})",
                fetched.high_watermark
            );
            thread::yield_now();
            continue;
        }
        last_progress = Instant::now();
        let mut rest = &fetched.bytes[..];
        while !rest.is_empty() {
            let header = validate_batch(rest, &limits)
                .unwrap_or_else(|e| panic!("consumer {consumer}: batch at {offset}: {e}"));
            let (batch, tail) = rest.split_at(header.total_bytes());
            for r in records(batch).expect("records decode") {
                let r = r.expect("a record decodes");
                let at = r.offset as u64;
                assert!(
                    at >= offset && seen.last_key_value().is_none_or(|(&last, _)| last < at),
                    "consumer {consumer}: offset {at} after {:?} (fetched from {offset})",
                    seen.last_key_value().map(|(o, _)| o)
                );
                seen.insert(
                    at,
                    (r.key.expect("keyed").to_vec(), r.value.map(<[u8]>::to_vec)),
                );
            }
            rest = tail;
        }
        assert!(
            fetched.next_fetch_offset > offset,
            "consumer {consumer}: no progress"
        );
        offset = fetched.next_fetch_offset;
    }
}

/// Compacts until the producers are done; returns how many compactions removed records.
fn compact_repeatedly(log: &Log, producers_done: &AtomicBool) -> usize {
    let mut productive = 0;
    let mut round = 0;
    while !producers_done.load(Ordering::Acquire) {
        let report = log
            .compact(&CompactOptions {
                offset_map_bytes: MAP_SLOTS[round % MAP_SLOTS.len()] * SLOT_BYTES,
                delete_retention_ms: 0,
                ..CompactOptions::default()
            })
            .unwrap_or_else(|e| panic!("compaction {round} fails: {e}"));
        if report.is_some_and(|r| r.records_removed() > 0) {
            productive += 1;
        }
        round += 1;
        thread::sleep(Duration::from_millis(2));
    }
    productive
}

/// Every record of the log, read after everything stopped.
fn contents(log: &Log) -> Written {
    let done = AtomicBool::new(true);
    consume(log, &done, usize::MAX)
}

/// The latest `(offset, value)` of every key.
fn latest(records: &Written) -> BTreeMap<Vec<u8>, (u64, Option<Vec<u8>>)> {
    let mut out = BTreeMap::new();
    for (offset, (key, value)) in records {
        out.insert(key.clone(), (*offset, value.clone()));
    }
    out
}

fn run(io_mode: IoMode) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = open(dir.path(), io_mode);
    let producers_done = Arc::new(AtomicBool::new(false));
    let (written, seen, productive) = thread::scope(|s| {
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|c| {
                let (log, done) = (&log, &producers_done);
                s.spawn(move || consume(log, done, c))
            })
            .collect();
        let compactor = s.spawn(|| compact_repeatedly(&log, &producers_done));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let log = &log;
                s.spawn(move || produce(log, p))
            })
            .collect();
        let mut written = Written::new();
        for producer in producers {
            written.extend(producer.join().expect("a producer panicked"));
        }
        producers_done.store(true, Ordering::Release);
        let seen: Vec<Written> = consumers
            .into_iter()
            .map(|c| c.join().expect("a consumer panicked"))
            .collect();
        let productive = compactor.join().expect("the compactor panicked");
        (written, seen, productive)
    });
    assert_eq!(
        log.next_offset(),
        written.len() as u64,
        "every offset was written"
    );
    assert!(
        productive > 0,
        "no compaction removed anything while producers ran"
    );
    let last = latest(&written);
    for (consumer, records) in seen.iter().enumerate() {
        for (offset, record) in records {
            assert_eq!(
                written.get(offset),
                Some(record),
                "consumer {consumer} read something else at offset {offset}"
            );
        }
        for (key, (offset, value)) in &last {
            if value.is_some() {
                assert!(
                    records.contains_key(offset),
                    "consumer {consumer} missed the latest record of {key:?} at offset {offset}"
                );
            }
        }
    }
    log.compact(&CompactOptions {
        delete_retention_ms: 0,
        ..CompactOptions::default()
    })
    .expect("the final compaction succeeds");
    let after = contents(&log);
    let after_latest = latest(&after);
    for (offset, record) in &after {
        assert_eq!(written.get(offset), Some(record), "offset {offset} changed");
    }
    for (key, (offset, value)) in &last {
        let read = after_latest.get(key);
        if value.is_some() {
            assert_eq!(read, Some(&(*offset, value.clone())), "latest of {key:?}");
        } else {
            assert!(
                read.is_none_or(|(o, v)| o == offset && v.is_none()),
                "deleted {key:?} reads back as {read:?}"
            );
        }
    }
    assert!(
        after_latest.keys().all(|key| last.contains_key(key)),
        "no unknown key"
    );
}

#[test]
fn consumers_and_producers_run_through_repeated_compactions() {
    for_each_io_mode(run);
}
