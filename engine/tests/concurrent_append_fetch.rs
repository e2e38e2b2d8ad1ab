//! Four appenders and four tailing fetchers on one shared log. Every record's value carries
//! (appender, sequence) and a checksum; fetchers check that every batch is valid, offsets are
//! contiguous with no gap or duplicate, checksums hold, and each appender's sequence appears in
//! order exactly once. Runs with `Durability::None`, with `Durability::Sync`, and with a tiny
//! cache, small buffers and small segments so that segments roll and reads go to disk while
//! fetchers tail. Every scenario runs on every I/O path.
//!
//! Records per appender: `RINGLOG_CONCURRENT_RECORDS` scales the defaults (a percentage,
//! default 100).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{assert_io_path, for_each_io_mode, open_log};
use ringlog::record::{BatchLimits, Record, records, validate_batch};
use ringlog::{Config, Durability, IoMode, Log, Shared, SharedConfig};

const APPENDERS: usize = 4;
const FETCHERS: usize = 4;
/// A fetcher that sees no new data for this long fails the test instead of hanging.
const STALL_LIMIT: Duration = Duration::from_secs(30);
/// Bytes before the payload in a value: appender (1), sequence (4), payload length (2).
const VALUE_PREFIX_BYTES: usize = 7;
/// Bytes of the checksum after the payload.
const CHECKSUM_BYTES: usize = 8;

fn scaled(records: u32) -> u32 {
    let percent: u32 = std::env::var("RINGLOG_CONCURRENT_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    (records * percent / 100).max(1)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The value of `appender`'s record number `seq`.
fn encode_value(appender: u8, seq: u32) -> Vec<u8> {
    let payload_len = 16 + (seq as usize * 37 + usize::from(appender) * 101) % 900;
    let mut value = Vec::with_capacity(VALUE_PREFIX_BYTES + payload_len + CHECKSUM_BYTES);
    value.push(appender);
    value.extend_from_slice(&seq.to_le_bytes());
    value.extend_from_slice(&(payload_len as u16).to_le_bytes());
    value.extend((0..payload_len).map(|i| (i as u32 ^ seq) as u8 ^ appender));
    let checksum = fnv1a(&value);
    value.extend_from_slice(&checksum.to_le_bytes());
    value
}

/// (appender, seq) of a value, after checking its layout and checksum.
fn decode_value(value: &[u8], offset: u64) -> (u8, u32) {
    assert!(
        value.len() >= VALUE_PREFIX_BYTES + CHECKSUM_BYTES,
        "value at offset {offset} is {} bytes, too short",
        value.len()
    );
    let (body, checksum) = value.split_at(value.len() - CHECKSUM_BYTES);
    assert_eq!(
        fnv1a(body).to_le_bytes(),
        checksum,
        "checksum of the value at offset {offset}"
    );
    let appender = body[0];
    let seq = u32::from_le_bytes(body[1..5].try_into().expect("4 bytes"));
    let payload_len = usize::from(u16::from_le_bytes(body[5..7].try_into().expect("2 bytes")));
    assert_eq!(
        body.len(),
        VALUE_PREFIX_BYTES + payload_len,
        "payload length of the value at offset {offset}"
    );
    assert_eq!(
        value,
        encode_value(appender, seq),
        "value at offset {offset} (appender {appender}, seq {seq})"
    );
    (appender, seq)
}

/// Appends `count` records of `appender` in batches of 1 to 4 records.
fn append_all(log: &Log, appender: u8, count: u32) {
    let mut seq = 0;
    while seq < count {
        let batch = (1 + seq % 4).min(count - seq);
        let values: Vec<Vec<u8>> = (seq..seq + batch)
            .map(|s| encode_value(appender, s))
            .collect();
        let key = [appender];
        let batch_records: Vec<Record<'_>> = values
            .iter()
            .map(|v| Record {
                key: Some(&key),
                value: Some(v),
                timestamp_ms: 1_700_000_000_000 + i64::from(seq),
                headers: &[],
            })
            .collect();
        let info = log
            .append(&batch_records)
            .unwrap_or_else(|e| panic!("appender {appender} at seq {seq}: {e}"));
        assert_eq!(
            info.last_offset - info.base_offset,
            u64::from(batch) - 1,
            "offsets assigned to a batch of {batch}"
        );
        seq += batch;
    }
}

/// What one fetcher saw, in offset order: next expected sequence per appender.
struct Tail {
    position: u64,
    next_seq: [u32; APPENDERS],
}

impl Tail {
    fn new() -> Self {
        Tail {
            position: 0,
            next_seq: [0; APPENDERS],
        }
    }

    /// Checks one fetch's batches and advances past them.
    fn consume(&mut self, bytes: &[u8], next_fetch_offset: u64, max_batch_bytes: usize) {
        let limits = BatchLimits {
            max_batch_bytes,
            require_contiguous_offsets: true,
        };
        let mut rest = bytes;
        while !rest.is_empty() {
            let header = validate_batch(rest, &limits)
                .unwrap_or_else(|e| panic!("batch at offset {}: {e}", self.position));
            assert_eq!(
                header.base_offset as u64, self.position,
                "batch base offset: a gap or a duplicate"
            );
            let (batch, tail) = rest.split_at(header.total_bytes());
            rest = tail;
            for record in records(batch).expect("a validated batch decodes") {
                let record = record.expect("a validated batch's records decode");
                let offset = record.offset as u64;
                assert_eq!(offset, self.position, "record offsets are contiguous");
                let (appender, seq) = decode_value(record.value.expect("non-null value"), offset);
                assert_eq!(record.key, Some(&[appender][..]), "key of offset {offset}");
                let expected = &mut self.next_seq[usize::from(appender)];
                assert_eq!(
                    seq, *expected,
                    "appender {appender}'s records out of order or repeated at offset {offset}"
                );
                *expected += 1;
                self.position += 1;
            }
        }
        assert_eq!(
            next_fetch_offset, self.position,
            "next_fetch_offset after the returned batches"
        );
    }
}

/// Fetches from 0 until `total` records were seen, with budgets varying per fetch.
fn tail_log(log: &Log, fetcher: usize, total: u64, done: &AtomicBool) -> Tail {
    let mut tail = Tail::new();
    let mut last_progress = Instant::now();
    let mut round = 0usize;
    let max_batch_bytes = log.config().max_batch_bytes;
    while tail.position < total {
        let max_bytes = [1, 700, 4096, 64 * 1024, 1 << 20][(round + fetcher) % 5];
        round += 1;
        let batches = log
            .fetch(tail.position, max_bytes)
            .unwrap_or_else(|e| panic!("fetcher {fetcher} at {}: {e}", tail.position));
        // That batches end within `high_watermark` is checked by its own test below.
        if batches.bytes.is_empty() {
            assert_eq!(batches.next_fetch_offset, tail.position);
            assert!(
                last_progress.elapsed() < STALL_LIMIT,
                "fetcher {fetcher} stalled at {} (appenders done: {})",
                tail.position,
                done.load(Ordering::Acquire)
            );
            std::thread::yield_now();
            continue;
        }
        tail.consume(&batches.bytes, batches.next_fetch_offset, max_batch_bytes);
        last_progress = Instant::now();
    }
    assert_eq!(tail.position, total, "fetcher {fetcher} read past the end");
    tail
}

/// Runs appenders and fetchers together and checks every fetcher saw every record once.
fn run(log: Log, per_appender: u32) -> Log {
    let log = Arc::new(log);
    let total = u64::from(per_appender) * APPENDERS as u64;
    let done = Arc::new(AtomicBool::new(false));
    let fetchers: Vec<_> = (0..FETCHERS)
        .map(|f| {
            let (log, done) = (Arc::clone(&log), Arc::clone(&done));
            std::thread::spawn(move || tail_log(&log, f, total, &done))
        })
        .collect();
    let appenders: Vec<_> = (0..APPENDERS)
        .map(|a| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || append_all(&log, a as u8, per_appender))
        })
        .collect();
    for appender in appenders {
        appender.join().expect("appender panicked");
    }
    done.store(true, Ordering::Release);
    for (f, fetcher) in fetchers.into_iter().enumerate() {
        let tail = fetcher
            .join()
            .unwrap_or_else(|_| panic!("fetcher {f} panicked"));
        assert_eq!(
            tail.next_seq, [per_appender; APPENDERS],
            "fetcher {f} did not see every appender's records exactly once"
        );
    }
    assert_eq!(log.next_offset(), total);
    Arc::try_unwrap(log).expect("threads are joined")
}

/// Reads the whole log once more, single-threaded.
fn verify_from_start(log: &Log, per_appender: u32) {
    let total = u64::from(per_appender) * APPENDERS as u64;
    let done = AtomicBool::new(true);
    let tail = tail_log(log, 0, total, &done);
    assert_eq!(tail.next_seq, [per_appender; APPENDERS]);
}

fn run_and_reopen(config: &Config, shared: &SharedConfig, per_appender: u32) {
    let dir = tempfile::tempdir().expect("temp dir");
    let resources = Shared::new(dir.path(), shared).expect("shared resources");
    let log = Log::open_with(dir.path(), config.clone(), &resources).expect("open");
    assert_io_path(&log, shared.io_mode);
    let log = run(log, per_appender);
    verify_from_start(&log, per_appender);
    log.close().expect("close");
    drop(log);
    let log = Log::open_with(dir.path(), config.clone(), &resources).expect("reopen");
    verify_from_start(&log, per_appender);
}

/// [`run_and_reopen`] once per I/O path, with `config` and `shared` otherwise unchanged.
fn run_and_reopen_on_every_path(config: &Config, shared: &SharedConfig, per_appender: u32) {
    for_each_io_mode(|io_mode| {
        let config = Config {
            io_mode,
            ..config.clone()
        };
        let shared = SharedConfig {
            io_mode,
            ..shared.clone()
        };
        run_and_reopen(&config, &shared, per_appender);
    });
}

#[test]
fn durability_none_default_resources() {
    let config = Config {
        durability: Durability::None,
        ..Config::default()
    };
    run_and_reopen_on_every_path(&config, &SharedConfig::default(), scaled(1500));
}

#[test]
fn durability_sync_default_resources() {
    let config = Config {
        durability: Durability::Sync,
        ..Config::default()
    };
    run_and_reopen_on_every_path(&config, &SharedConfig::default(), scaled(100));
}

#[test]
fn tiny_cache_small_segments_roll_while_fetching() {
    let config = Config {
        durability: Durability::None,
        segment_bytes: 32 * 1024,
        max_batch_bytes: 32 * 1024,
        read_ahead_bytes: 4096,
        index_interval_bytes: 1024,
        flush_interval_ms: Some(5),
        ..Config::default()
    };
    let shared = SharedConfig {
        buffer_bytes: 4096,
        buffer_pool_bytes: 16 * 4096,
        cache_bytes: 16 * 1024,
        ..SharedConfig::default()
    };
    run_and_reopen_on_every_path(&config, &shared, scaled(800));
}

#[test]
fn no_cache_small_segments_durability_write() {
    let config = Config {
        durability: Durability::Write,
        segment_bytes: 32 * 1024,
        max_batch_bytes: 32 * 1024,
        read_ahead_bytes: 8192,
        ..Config::default()
    };
    let shared = SharedConfig {
        buffer_bytes: 8192,
        cache_bytes: 0,
        ..SharedConfig::default()
    };
    run_and_reopen_on_every_path(&config, &shared, scaled(300));
}

/// A fetch reports the log end offset it ran against; the batches it returns must end at or
/// before it. One appender appends single small records as fast as it can while fetchers
/// fetch at the tail, so an append often lands while a fetch runs.
#[test]
fn fetch_never_returns_records_past_its_high_watermark() {
    for_each_io_mode(fetch_stays_within_its_high_watermark);
}

fn fetch_stays_within_its_high_watermark(io_mode: IoMode) {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = Arc::new(open_log(dir.path(), common::config(io_mode)));
    let appends = u64::from(scaled(20_000));
    let fetchers: Vec<_> = (0..3)
        .map(|_| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut position = 0;
                while position < appends {
                    let batches = log.fetch(position, 1 << 20).expect("fetch");
                    assert!(
                        batches.next_fetch_offset <= batches.high_watermark,
                        "fetch({position}) returned batches up to offset {} but reported \
                         high_watermark {}",
                        batches.next_fetch_offset - 1,
                        batches.high_watermark
                    );
                    position = batches.next_fetch_offset;
                }
            })
        })
        .collect();
    for i in 0..appends {
        log.append(&[Record {
            key: None,
            value: Some(&i.to_le_bytes()),
            timestamp_ms: 0,
            headers: &[],
        }])
        .expect("append");
    }
    for fetcher in fetchers {
        fetcher.join().expect("fetcher panicked");
    }
}
