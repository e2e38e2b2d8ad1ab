//! An append whose handle was dropped becomes durable by itself, with no later append, flush
//! or close: under `Write` the background flusher writes it once the flush interval passed,
//! and under `Sync` it also syncs it, so the high watermark (what consumers see) reaches it.
//! On every I/O path. The wait is bounded generously; nothing here is timed.

mod common;

use std::time::{Duration, Instant};

use common::{Expected, for_each_io_mode, open_log, read_all, with_records};
use ringlog::{Config, Durability, IoMode};

const DROPPED: u64 = 10;
const FLUSH_INTERVAL_MS: u64 = 10;
/// Far beyond the flush interval: only a flusher that never flushes runs into it.
const GIVE_UP_AFTER: Duration = Duration::from_secs(20);

fn run(io_mode: IoMode, durability: Durability) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        durability,
        flush_interval_ms: Some(FLUSH_INTERVAL_MS),
        ..common::config(io_mode)
    };
    let rows: Vec<Expected> = (0..DROPPED)
        .map(|i| Expected::numbered(i, common::now_ms(), 300))
        .collect();
    let log = open_log(dir.path(), config);
    for row in &rows {
        drop(with_records(std::slice::from_ref(row), |r| {
            log.submit(r).expect("submit")
        }));
    }
    let started = Instant::now();
    while log.high_watermark() < DROPPED {
        assert!(
            started.elapsed() < GIVE_UP_AFTER,
            "{io_mode:?} {durability:?}: dropped appends never became durable \
             (high watermark {} of {DROPPED})",
            log.high_watermark()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(read_all(&log), rows, "{io_mode:?} {durability:?}");
    log.close().expect("close");
}

#[test]
fn dropped_handles_become_durable_under_write() {
    for_each_io_mode(|io_mode| run(io_mode, Durability::Write));
}

#[test]
fn dropped_handles_become_durable_under_sync() {
    for_each_io_mode(|io_mode| run(io_mode, Durability::Sync));
}
