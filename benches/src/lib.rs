//! Shared pieces of the benchmark suite: where data goes, the quick profile, payloads, the
//! naive baseline engine, and the peer engines ringlog is compared with ([`peers`]).
//!
//! The benches themselves are `benches/log.rs`, `benches/topic.rs` and, with the `peers`
//! feature, `benches/peers.rs` (`cargo bench -p benches`, `cargo bench -p benches --features
//! mmap`, `cargo bench -p benches --features peers`).

pub mod crew;
pub mod disk;
pub mod fixtures;
pub mod naive;
pub mod peers;
pub mod report;
pub mod results;
pub mod scenarios;
pub mod timeline;
pub mod topic_fixtures;

use std::path::PathBuf;

use ringlog::{Config, Durability, IoMode};

/// Environment variable naming the directory benchmarks write into.
pub const BENCH_DIR_ENV: &str = "RINGLOG_BENCH_DIR";
/// Environment variable selecting the quick profile (`RINGLOG_BENCH_QUICK=1`): trimmed grids,
/// so the whole suite runs in a few minutes.
pub const QUICK_ENV: &str = "RINGLOG_BENCH_QUICK";

/// Whether the quick profile is on.
pub fn is_quick() -> bool {
    std::env::var_os(QUICK_ENV).is_some_and(|v| v != "0" && !v.is_empty())
}

/// `full` in the full profile, `quick` in the quick one.
pub fn grid<T: Clone>(full: &[T], quick: &[T]) -> Vec<T> {
    if is_quick() {
        quick.to_vec()
    } else {
        full.to_vec()
    }
}

/// A fresh directory for one benchmark's data, under `RINGLOG_BENCH_DIR` or the system's
/// temporary directory, removed when dropped (disk space stays bounded).
///
/// # Panics
/// If the directory cannot be created.
pub fn bench_dir() -> tempfile::TempDir {
    let parent: PathBuf =
        std::env::var_os(BENCH_DIR_ENV).map_or_else(std::env::temp_dir, PathBuf::from);
    std::fs::create_dir_all(&parent).expect("create the benchmark directory");
    tempfile::tempdir_in(&parent).expect("create a benchmark directory")
}

/// A line describing where benchmarks write and on which I/O path, printed once per bench
/// binary so every report states its conditions.
pub fn describe_conditions() -> String {
    let dir = bench_dir();
    let filesystem = ringlog_sys::direct::filesystem_name(dir.path())
        .unwrap_or_else(|e| format!("unknown ({e})"));
    let path = ringlog::Shared::new(dir.path(), &ringlog::SharedConfig::default())
        .map_or_else(|e| format!("unavailable: {e}"), |s| s.io_path().to_string());
    let tmpfs = if filesystem == "tmpfs" {
        " (tmpfs: set RINGLOG_BENCH_DIR to a real filesystem for meaningful figures)"
    } else {
        ""
    };
    format!(
        "ringlog benches: data in {} on {filesystem}{tmpfs}; I/O path {path}; profile {}",
        dir.path()
            .parent()
            .map_or_else(String::new, |p| p.display().to_string()),
        if is_quick() { "quick" } else { "full" }
    )
}

/// The engine configuration benchmarks use: the build's default I/O path and `durability`;
/// no background flush, so only the benchmarked thread does work unless a bench says
/// otherwise.
pub fn config(durability: Durability) -> Config {
    Config {
        durability,
        flush_interval_ms: None,
        retention_check_interval_ms: None,
        io_mode: IoMode::DEFAULT,
        ..Config::default()
    }
}

/// `len` bytes of deterministic, non-repeating-looking payload.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

/// The record sizes of most grids: 100 B, 1 KiB, 10 KiB.
pub const SIZES: [usize; 3] = [100, 1024, 10 * 1024];
