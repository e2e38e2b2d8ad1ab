//! Group commit under `Durability::Sync`: many threads append at once, every append succeeds,
//! the offsets handed out are unique and contiguous, and after an unclean shutdown every
//! acknowledged record is found at the offset it was acknowledged with, on every I/O path.
//! Timings are not asserted.
//!
//! Batches per thread: `RINGLOG_GROUP_COMMIT_BATCHES` (default 25).

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{assert_io_path, for_each_io_mode};
use ringlog::record::Record;
use ringlog::{AppendInfo, CLEAN_SHUTDOWN_FILE, Config, Durability, Log, Shared, SharedConfig};

const THREADS: usize = 8;
const DEFAULT_BATCHES: usize = 25;

fn batches_per_thread() -> usize {
    std::env::var("RINGLOG_GROUP_COMMIT_BATCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_BATCHES)
}

/// How a test ends the first life of the log before reopening it.
#[derive(Clone, Copy, Debug)]
enum Shutdown {
    /// `close`, then the clean-shutdown marker is removed so the open scans.
    CloseAndForgetMarker,
    /// The log object is leaked: no close, no final flush, no marker; only what each
    /// acknowledged append synced is on disk.
    Abandon,
}

/// Value of record `index` of batch `batch` of `thread`: identifies it and has a size that
/// varies from a few bytes to `max_value_bytes`.
fn value(thread: usize, batch: usize, index: usize, max_value_bytes: usize) -> Vec<u8> {
    let tag = format!("t{thread}-b{batch}-r{index}:");
    let len = (thread * 7919 + batch * 104_729 + index * 31) % max_value_bytes;
    let mut v = tag.into_bytes();
    v.extend((0..len).map(|i| (i + thread + batch) as u8));
    v
}

/// One thread's appends: batches of 1 to 3 records. Returns the acknowledged offsets with the
/// (batch, records) they hold.
fn append_thread(log: &Log, thread: usize, max_value_bytes: usize) -> Vec<(AppendInfo, usize)> {
    let mut acked = Vec::new();
    for batch in 0..batches_per_thread() {
        let count = 1 + (thread + batch) % 3;
        let values: Vec<Vec<u8>> = (0..count)
            .map(|i| value(thread, batch, i, max_value_bytes))
            .collect();
        let records: Vec<Record<'_>> = values
            .iter()
            .map(|v| Record {
                key: None,
                value: Some(v),
                timestamp_ms: 1_700_000_000_000,
                headers: &[],
            })
            .collect();
        let info = log
            .append(&records)
            .unwrap_or_else(|e| panic!("thread {thread} batch {batch}: sync append failed: {e}"));
        assert_eq!(info.last_offset - info.base_offset + 1, count as u64);
        acked.push((info, batch));
    }
    acked
}

/// (info, thread, batch) of every acknowledged append, sorted by offset, checked contiguous.
fn run_appenders(log: &Arc<Log>, max_value_bytes: usize) -> Vec<(AppendInfo, usize, usize)> {
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let log = Arc::clone(log);
            std::thread::spawn(move || append_thread(&log, t, max_value_bytes))
        })
        .collect();
    let mut all = Vec::new();
    for (t, handle) in handles.into_iter().enumerate() {
        let acked = handle.join().expect("appender panicked");
        assert!(
            acked
                .windows(2)
                .all(|w| w[0].0.last_offset < w[1].0.base_offset),
            "thread {t}'s appends got offsets out of order"
        );
        all.extend(acked.into_iter().map(|(info, batch)| (info, t, batch)));
    }
    all.sort_by_key(|(info, _, _)| info.base_offset);
    let mut next = 0;
    for (info, thread, batch) in &all {
        assert_eq!(
            info.base_offset, next,
            "thread {thread} batch {batch}: offsets have a gap or an overlap"
        );
        next = info.last_offset + 1;
    }
    assert_eq!(log.next_offset(), next, "next_offset after all appends");
    all
}

/// Checks that every acknowledged record is at its acknowledged offset.
fn verify(log: &Log, acked: &[(AppendInfo, usize, usize)], max_value_bytes: usize) {
    let end = acked.last().map_or(0, |(info, _, _)| info.last_offset + 1);
    assert_eq!(
        log.next_offset(),
        end,
        "acknowledged records lost or extra ones found"
    );
    let mut got = Vec::new();
    while (got.len() as u64) < end {
        let records = log
            .read_records(got.len() as u64, 256 * 1024)
            .unwrap_or_else(|e| panic!("read at {}: {e}", got.len()));
        assert!(!records.is_empty(), "no records at {}", got.len());
        got.extend(records);
    }
    for (info, thread, batch) in acked {
        for offset in info.base_offset..=info.last_offset {
            let record = &got[offset as usize];
            assert_eq!(record.offset, offset);
            let index = (offset - info.base_offset) as usize;
            assert_eq!(
                record.value.as_deref(),
                Some(&value(*thread, *batch, index, max_value_bytes)[..]),
                "record {offset} (thread {thread} batch {batch} record {index})"
            );
        }
    }
}

fn reopen_after(
    log: Arc<Log>,
    shutdown: Shutdown,
    dir: &Path,
    config: &Config,
    shared: &Arc<Shared>,
) -> Log {
    let log = Arc::try_unwrap(log).expect("appenders joined");
    match shutdown {
        Shutdown::CloseAndForgetMarker => {
            log.close().expect("close");
            drop(log);
            std::fs::remove_file(dir.join(CLEAN_SHUTDOWN_FILE)).expect("remove the marker");
        }
        Shutdown::Abandon => log.abandon(),
    }
    assert!(!dir.join(CLEAN_SHUTDOWN_FILE).exists());
    Log::open_with(dir, config.clone(), shared).expect("reopen after an unclean shutdown")
}

fn group_commit(
    shutdown: Shutdown,
    config: &Config,
    shared_config: &SharedConfig,
    max_value: usize,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let shared = Shared::new(dir.path(), shared_config).expect("shared resources");
    let log = Arc::new(Log::open_with(dir.path(), config.clone(), &shared).expect("open"));
    assert_io_path(&log, shared_config.io_mode);
    let acked = run_appenders(&log, max_value);
    verify(&log, &acked, max_value);
    let log = reopen_after(log, shutdown, dir.path(), config, &shared);
    verify(&log, &acked, max_value);
    // The recovered log keeps accepting appends after the recovered end.
    let next = log.next_offset();
    let info = log
        .append(&[Record {
            key: None,
            value: Some(b"after recovery"),
            timestamp_ms: 0,
            headers: &[],
        }])
        .expect("append after recovery");
    assert_eq!(info.base_offset, next);
}

/// [`group_commit`] once per I/O path, with `config` and `shared_config` otherwise unchanged.
fn group_commit_on_every_path(
    shutdown: Shutdown,
    config: &Config,
    shared_config: &SharedConfig,
    max_value: usize,
) {
    for_each_io_mode(|io_mode| {
        let config = Config {
            io_mode,
            ..config.clone()
        };
        let shared_config = SharedConfig {
            io_mode,
            ..shared_config.clone()
        };
        group_commit(shutdown, &config, &shared_config, max_value);
    });
}

fn sync_config() -> Config {
    Config {
        durability: Durability::Sync,
        // No background flusher: an abandoned log must not be written to behind the new one.
        flush_interval_ms: None,
        ..Config::default()
    }
}

#[test]
fn sync_appends_survive_close_without_marker() {
    group_commit_on_every_path(
        Shutdown::CloseAndForgetMarker,
        &sync_config(),
        &SharedConfig::default(),
        600,
    );
}

#[test]
fn sync_appends_survive_abandoned_log() {
    group_commit_on_every_path(
        Shutdown::Abandon,
        &sync_config(),
        &SharedConfig::default(),
        600,
    );
}

/// Small chunks and segments: batches straddle chunks, some exceed a chunk, and segments roll
/// while other threads wait for their sync.
#[test]
fn sync_appends_with_rolls_and_straddling_batches_survive_abandoned_log() {
    let config = Config {
        segment_bytes: 32 * 1024,
        max_batch_bytes: 32 * 1024,
        read_ahead_bytes: 4096,
        ..sync_config()
    };
    let shared = SharedConfig {
        buffer_bytes: 4096,
        cache_bytes: 0,
        ..SharedConfig::default()
    };
    group_commit_on_every_path(Shutdown::Abandon, &config, &shared, 6000);
}
