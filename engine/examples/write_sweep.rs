//! Measures append throughput for write-chunk sizes and writes in flight, to choose the
//! defaults recorded in `docs/design.md`.
//!
//! `cargo run --release -p ringlog --example write_sweep -- [DIR] [MB]`
//!
//! Conditions: one producer, 1 KiB records in batches of 100, in the durability mode printed
//! (`flush()` at the end, so every figure includes getting everything to disk), a fresh log
//! per configuration, on the I/O path `IoMode::Auto` picks (printed). A warm-up of
//! `WARMUP_MB` is written untimed first, so the pool's buffers are recycled rather than touched
//! for the first time (the steady state of a running broker).

use std::time::Instant;

use ringlog::record::Record;
use ringlog::{Config, Durability, Log, Shared, SharedConfig};

const RECORD_BYTES: usize = 1024;
const BATCH_RECORDS: usize = 100;
const CACHE_MB: usize = 32;
const WARMUP_MB: usize = 96;

fn main() {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "/tmp/ringlog-sweep".to_string());
    let total_mb: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(512);
    let batches = total_mb * 1_000_000 / (RECORD_BYTES * BATCH_RECORDS);
    let value = vec![0x5a_u8; RECORD_BYTES];
    let records: Vec<Record<'_>> = (0..BATCH_RECORDS)
        .map(|_| Record {
            key: None,
            value: Some(&value),
            timestamp_ms: 0,
            headers: &[],
        })
        .collect();
    println!("chunk_kib in_flight durability path MB/s");
    for chunk_kib in [64usize, 256, 1024] {
        for in_flight in [1usize, 8] {
            for durability in [Durability::None, Durability::Sync] {
                let dir = format!("{base}/c{chunk_kib}-q{in_flight}-{}", durability.name());
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).expect("create the sweep directory");
                let shared = Shared::new(
                    dir.as_ref(),
                    &SharedConfig {
                        buffer_bytes: chunk_kib * 1024,
                        cache_bytes: CACHE_MB << 20,
                        buffer_pool_bytes: (CACHE_MB + 32) << 20,
                        ..SharedConfig::default()
                    },
                )
                .expect("set up I/O");
                let config = Config {
                    durability,
                    max_writes_in_flight: in_flight,
                    ..Config::default()
                };
                let log = Log::open_with(&dir, config, &shared).expect("open the log");
                let n = if durability == Durability::Sync {
                    batches / 8
                } else {
                    batches
                };
                for _ in 0..WARMUP_MB * 1_000_000 / (RECORD_BYTES * BATCH_RECORDS) {
                    log.append(&records).expect("append");
                }
                log.flush().expect("flush");
                let start = Instant::now();
                for _ in 0..n {
                    log.append(&records).expect("append");
                }
                log.flush().expect("flush");
                let secs = start.elapsed().as_secs_f64();
                let mb = (n * BATCH_RECORDS * RECORD_BYTES) as f64 / 1e6;
                println!(
                    "{chunk_kib:>9} {in_flight:>9} {:>10} {} {:>8.0}",
                    durability.name(),
                    log.io_path(),
                    mb / secs
                );
                drop(log);
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
}
