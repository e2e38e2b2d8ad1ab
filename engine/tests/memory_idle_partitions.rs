//! Memory stays inside its budgets with many touched, then idle, partitions: one `Shared` with
//! small budgets and [`PARTITIONS`] logs, one small append to each, in each durability mode;
//! once they are idle, the process's anonymous resident memory (`RssAnon` in
//! `/proc/self/status`, so that mapped segment files on the mmap path do not count) is at most
//! [`PER_PARTITION_BYTES`] per partition plus the pool and cache budgets above what it was
//! after opening them. Idle write chunks must be handed back in every durability mode and the
//! read cache must charge the memory it keeps alive, not the bytes it serves.
//!
//! The bound is checked after idling, repeatedly until [`SETTLE_TIMEOUT`], so a slow machine
//! only makes the test take longer. The partitions live on `/dev/shm` where it exists: tmpfs
//! makes the 4,000 opens' `fsync`s free, and its pages are shared memory, not `RssAnon`. Runs
//! on every I/O path.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::for_each_io_mode;
use ringlog::record::Record;
use ringlog::{Config, Durability, IoMode, Log, Shared, SharedConfig};

const PARTITIONS: usize = 4_000;
/// Memory an idle partition may keep after one append, beyond what it held after opening:
/// bookkeeping and allocator slack, never a write chunk (256 KiB).
const PER_PARTITION_BYTES: usize = 4 * 1024;
const POOL_BYTES: usize = 2 * 1024 * 1024;
const CACHE_BYTES: usize = 1024 * 1024;
const FLUSH_INTERVAL_MS: u64 = 50;
/// How long the partitions may take to go idle and give their memory back.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Anonymous resident memory of this process, from `/proc/self/status`.
fn rss_anon_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("RssAnon:"))
        .expect("RssAnon in /proc/self/status");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("RssAnon is a number of kB");
    kib * 1024
}

fn open_partitions(io_mode: IoMode, durability: Durability, root: &std::path::Path) -> Vec<Log> {
    let shared: Arc<Shared> = Shared::new(
        root,
        &SharedConfig {
            buffer_pool_bytes: POOL_BYTES,
            cache_bytes: CACHE_BYTES,
            ..common::shared_config(io_mode)
        },
    )
    .expect("shared resources");
    let config = Config {
        durability,
        flush_interval_ms: Some(FLUSH_INTERVAL_MS),
        // On tmpfs preallocated space is memory: 4,000 of the default 8 MiB would be 32 GiB.
        preallocate_bytes: 64 * 1024,
        ..common::config(io_mode)
    };
    (0..PARTITIONS)
        .map(|p| {
            Log::open_with(root.join(format!("p{p}")), config.clone(), &shared)
                .unwrap_or_else(|e| panic!("open partition {p}: {e}"))
        })
        .collect()
}

#[test]
fn idle_partitions_stay_within_the_budgets_in_every_durability_mode() {
    for_each_io_mode(|io_mode| {
        for durability in [Durability::None, Durability::Write, Durability::Sync] {
            eprintln!("durability: {}", durability.name());
            idle_partitions(io_mode, durability);
        }
    });
}

fn idle_partitions(io_mode: IoMode, durability: Durability) {
    let shm = std::path::Path::new("/dev/shm");
    let root = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let logs = open_partitions(io_mode, durability, root.path());
    let baseline = rss_anon_bytes();
    let started = Instant::now();
    for (p, log) in logs.iter().enumerate() {
        let value = format!("partition {p}");
        log.append(&[Record {
            key: Some(b"k"),
            value: Some(value.as_bytes()),
            timestamp_ms: common::now_ms(),
            headers: &[],
        }])
        .unwrap_or_else(|e| panic!("append to partition {p}: {e}"));
    }
    let appended = started.elapsed();
    let bound = POOL_BYTES + CACHE_BYTES + PARTITIONS * PER_PARTITION_BYTES;
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let growth = loop {
        std::thread::sleep(Duration::from_millis(10 * FLUSH_INTERVAL_MS));
        let growth = rss_anon_bytes().saturating_sub(baseline);
        if growth <= bound || Instant::now() > deadline {
            break growth;
        }
    };
    eprintln!(
        "{PARTITIONS} appends in {appended:?}; anonymous memory grew by {} KiB (bound {} KiB)",
        growth / 1024,
        bound / 1024
    );
    assert!(
        growth <= bound,
        "{} durability: {PARTITIONS} idle partitions grew anonymous resident memory by {} KiB, \
         more than the pool ({} KiB) and cache ({} KiB) budgets plus {} KiB per partition",
        durability.name(),
        growth / 1024,
        POOL_BYTES / 1024,
        CACHE_BYTES / 1024,
        PER_PARTITION_BYTES / 1024
    );
    for (p, log) in logs.iter().enumerate() {
        let records = log.read_records(0, 1024).unwrap();
        assert_eq!(
            records[0].value.as_deref(),
            Some(format!("partition {p}").as_bytes()),
            "partition {p} holds its record"
        );
    }
}
