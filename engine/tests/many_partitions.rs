//! Many logs on one `Shared`: 100 partitions share a small buffer pool and one read cache.
//! Every log holds its own records only (the cache is keyed per log, and every log's first
//! segment starts at offset 0 and file position 0), idle logs whose tails the flusher gave back
//! keep working, logs reopened on the same resources read their own data, and the pool never
//! keeps more buffers alive than its budget allows. Runs on every I/O path.
//!
//! Partition count: `RINGLOG_PARTITIONS` (default 100, on each I/O path).

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::{assert_io_path, for_each_io_mode};
use ringlog::record::Record;
use ringlog::{Config, Durability, IoMode, Log, Shared, SharedConfig};

const DEFAULT_PARTITIONS: usize = 100;
const BUFFER_BYTES: usize = 4096;
/// Room for 8 buffers: far fewer than partitions.
const BUFFER_POOL_BYTES: usize = 8 * BUFFER_BYTES;
const FLUSH_INTERVAL_MS: u64 = 10;

fn partition_count() -> usize {
    std::env::var("RINGLOG_PARTITIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_PARTITIONS)
}

/// Value of record `index` of round `round` in partition `partition`.
fn value(partition: usize, round: usize, index: usize) -> Vec<u8> {
    let mut v = format!("p{partition}-r{round}-i{index}:").into_bytes();
    let len = (partition * 131 + round * 977 + index * 17) % 1500;
    v.extend((0..len).map(|i| (i ^ partition) as u8));
    v
}

fn records_in_round(partition: usize, round: usize) -> usize {
    1 + (partition + round) % 4
}

struct Partitions {
    root: tempfile::TempDir,
    shared: Arc<Shared>,
    config: Config,
    cache_bytes: usize,
    logs: Vec<Log>,
    rounds: usize,
}

impl Partitions {
    fn new(io_mode: IoMode, cache_bytes: usize) -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let shared = Shared::new(
            root.path(),
            &SharedConfig {
                buffer_bytes: BUFFER_BYTES,
                buffer_pool_bytes: BUFFER_POOL_BYTES,
                cache_bytes,
                ..common::shared_config(io_mode)
            },
        )
        .expect("shared resources");
        let config = Config {
            durability: Durability::None,
            flush_interval_ms: Some(FLUSH_INTERVAL_MS),
            read_ahead_bytes: BUFFER_BYTES,
            ..common::config(io_mode)
        };
        let mut partitions = Partitions {
            root,
            shared,
            config,
            cache_bytes,
            logs: Vec::new(),
            rounds: 0,
        };
        partitions.logs = (0..partition_count()).map(|p| partitions.open(p)).collect();
        partitions
    }

    fn dir(&self, partition: usize) -> PathBuf {
        self.root.path().join(format!("topic-{partition}"))
    }

    fn open(&self, partition: usize) -> Log {
        let log = Log::open_with(self.dir(partition), self.config.clone(), &self.shared)
            .unwrap_or_else(|e| panic!("open partition {partition}: {e}"));
        assert_io_path(&log, self.config.io_mode);
        log
    }

    fn check_budgets(&self, when: &str) {
        let max_buffers = BUFFER_POOL_BYTES / BUFFER_BYTES;
        let live = self.shared.pool().live_buffers();
        assert!(
            live <= max_buffers,
            "{when}: {live} pooled buffers alive, budget is {max_buffers}"
        );
    }

    /// Appends one round of records to every partition.
    fn append_round(&mut self) {
        let round = self.rounds;
        for (p, log) in self.logs.iter().enumerate() {
            let values: Vec<Vec<u8>> = (0..records_in_round(p, round))
                .map(|i| value(p, round, i))
                .collect();
            let records: Vec<Record<'_>> = values
                .iter()
                .map(|v| Record {
                    key: Some(b"k"),
                    value: Some(v),
                    timestamp_ms: 1_700_000_000_000 + round as i64,
                    headers: &[],
                })
                .collect();
            let expected_base = log.next_offset();
            let info = log
                .append(&records)
                .unwrap_or_else(|e| panic!("partition {p} round {round}: {e}"));
            assert_eq!(
                info.base_offset, expected_base,
                "partition {p} round {round}"
            );
        }
        self.rounds += 1;
        self.check_budgets(&format!("after round {round}"));
    }

    /// Reads every partition back from offset 0 and checks it holds exactly its own records.
    fn verify(&self, when: &str) {
        for (p, log) in self.logs.iter().enumerate() {
            let expected: Vec<Vec<u8>> = (0..self.rounds)
                .flat_map(|r| (0..records_in_round(p, r)).map(move |i| value(p, r, i)))
                .collect();
            assert_eq!(
                log.next_offset(),
                expected.len() as u64,
                "{when}: partition {p}'s next_offset"
            );
            let mut offset = 0u64;
            while offset < log.next_offset() {
                let fetched = log
                    .read_records(offset, 2048)
                    .unwrap_or_else(|e| panic!("{when}: partition {p} read at {offset}: {e}"));
                assert!(
                    !fetched.is_empty(),
                    "{when}: partition {p} empty at {offset}"
                );
                for record in fetched {
                    assert_eq!(record.offset, offset, "{when}: partition {p}");
                    assert_eq!(
                        record.value.as_deref(),
                        Some(&expected[offset as usize][..]),
                        "{when}: partition {p} offset {offset} holds another record"
                    );
                    offset += 1;
                }
            }
        }
        self.check_budgets(when);
        assert!(
            self.shared.cache().used_bytes() <= self.cache_bytes,
            "{when}: cache over budget"
        );
    }

    /// Lets every log go idle long enough for the flusher to write its tail and give it back.
    fn idle(&self) {
        std::thread::sleep(Duration::from_millis(FLUSH_INTERVAL_MS * 10));
        self.check_budgets("after idling");
    }

    /// Closes and reopens every other partition on the same shared resources.
    fn reopen_every_other(&mut self) {
        for p in (0..self.logs.len()).step_by(2) {
            let fresh = self.open_after_close(p);
            self.logs[p] = fresh;
        }
    }

    fn open_after_close(&self, partition: usize) -> Log {
        self.logs[partition]
            .close()
            .unwrap_or_else(|e| panic!("close partition {partition}: {e}"));
        self.open(partition)
    }
}

fn many_partitions(io_mode: IoMode, cache_bytes: usize) {
    let mut partitions = Partitions::new(io_mode, cache_bytes);
    for _ in 0..3 {
        partitions.append_round();
    }
    partitions.verify("after appending");
    partitions.idle();
    partitions.verify("after idling");
    partitions.append_round();
    partitions.verify("after appending to idle logs");
    partitions.reopen_every_other();
    partitions.verify("after reopening every other log");
    partitions.append_round();
    partitions.idle();
    partitions.verify("after a last round");
}

#[test]
fn many_partitions_default_cache() {
    for_each_io_mode(|io_mode| many_partitions(io_mode, ringlog::config::DEFAULT_CACHE_BYTES));
}

/// A cache far smaller than the data: most reads go to disk, entries are evicted constantly.
#[test]
fn many_partitions_tiny_cache() {
    for_each_io_mode(|io_mode| many_partitions(io_mode, 64 * 1024));
}
