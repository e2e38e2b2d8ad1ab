//! The result file `ringbench suite` writes and `ringbench report` / `ringbench compare` read:
//! one JSON document per run and I/O path (`results/<UTC timestamp>/ringbench-<path>.json`).
//!
//! Units are in the field names. A figure that does not apply is `null`, never 0.

use serde::{Deserialize, Serialize};

/// Version of this layout; readers refuse other versions.
pub const SCHEMA_VERSION: u32 = 1;

/// One run of the scenario suite on one I/O path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// [`SCHEMA_VERSION`].
    pub schema: u32,
    /// Where and how it ran.
    pub environment: Environment,
    /// Every scenario case, in the order run.
    pub scenarios: Vec<ScenarioResult>,
}

/// The machine and build a run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// `/proc/cpuinfo` model name.
    pub cpu_model: String,
    /// Online CPUs.
    pub cores: u32,
    /// `MemTotal` of `/proc/meminfo`.
    pub memory_bytes: u64,
    /// `uname -r`.
    pub kernel: String,
    /// Filesystem of the data directory (`statfs`).
    pub filesystem: String,
    /// Block device of the data directory (from `/proc/self/mountinfo`), when found.
    pub device: Option<String>,
    /// The data directory.
    pub data_dir: String,
    /// `statx(STATX_DIOALIGN)` of the data directory's filesystem: (memory, offset) bytes.
    pub dio_alignment: Option<(u32, u32)>,
    /// "available", or why io_uring cannot be used.
    pub io_uring: String,
    /// The I/O path the engine ran on (`Log::io_path`).
    pub io_path: String,
    /// `git rev-parse HEAD` (with `-dirty` when the tree has changes), when known.
    pub git_revision: Option<String>,
    /// `rustc --version` of the build.
    pub rustc: Option<String>,
    /// "smoke", "quick" or "full".
    pub profile: String,
    /// When the run started (RFC 3339, UTC).
    pub started_utc: String,
}

/// Latency percentiles of one operation, in microseconds, from an HDR histogram.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest.
    pub max_us: f64,
    /// Mean.
    pub mean_us: f64,
}

/// What a compaction scenario did.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompactionFigures {
    /// Megabytes (10^6) of the cleaned segments before.
    pub mb_before: f64,
    /// After.
    pub mb_after: f64,
    /// Reclaimed.
    pub mb_reclaimed: f64,
    /// Records removed.
    pub records_removed: u64,
    /// Distinct keys kept.
    pub keys: u64,
    /// Wall time of the compaction, seconds.
    pub duration_s: f64,
}

/// One case of one scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The scenario's name, as in the Divan suite (`write_throughput`, `naive_random_fetch`,
    /// `topic_concurrent_producers`, ...).
    pub name: String,
    /// "produce", "fetch", "concurrency", "compaction", "topic", "mixed" or "baseline".
    pub category: String,
    /// "ringlog" or "naive".
    pub engine: String,
    /// The I/O path (`io_uring+O_DIRECT`, `mmap`, `pread/pwrite+O_DIRECT`, `page cache` for
    /// the naive baseline).
    pub io_path: String,
    /// "none", "write" or "sync" for appends; `None` for reads.
    pub durability: Option<String>,
    /// The case's parameters, e.g. `{"size": 1024, "messages": 10000}`; keys and values as in
    /// the Divan grids.
    pub params: std::collections::BTreeMap<String, u64>,
    /// Threads doing the work.
    pub threads: u32,
    /// Timed operations (appends, fetches, compactions).
    pub operations: u64,
    /// Records moved.
    pub messages: u64,
    /// Payload bytes moved.
    pub payload_bytes: u64,
    /// Bytes on disk for them (batch framing included), when known.
    pub disk_bytes: Option<u64>,
    /// Wall time of the timed region, seconds.
    pub elapsed_s: f64,
    /// Payload megabytes (10^6) per second.
    pub payload_mb_s: f64,
    /// On-disk megabytes per second, when known.
    pub disk_mb_s: Option<f64>,
    /// Records per second.
    pub messages_per_s: f64,
    /// Per-operation latency, when each operation was timed.
    pub latency: Option<Latency>,
    /// Process CPU time (user + system) per operation, microseconds.
    pub cpu_us_per_op: Option<f64>,
    /// Allocations per operation on the measuring thread.
    pub allocations_per_op: Option<f64>,
    /// For concurrent cases: throughput at N threads / (N x throughput at 1 thread).
    pub scaling: Option<f64>,
    /// For compaction cases.
    pub compaction: Option<CompactionFigures>,
}

impl RunResult {
    /// Reads a result file.
    ///
    /// # Errors
    /// A message naming the file and what is wrong (I/O, JSON, or another schema version).
    pub fn load(path: &std::path::Path) -> Result<RunResult, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let result: RunResult = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not a ringbench result: {e}", path.display()))?;
        if result.schema != SCHEMA_VERSION {
            return Err(format!(
                "{}: schema version {} (this ringbench reads {SCHEMA_VERSION})",
                path.display(),
                result.schema
            ));
        }
        Ok(result)
    }

    /// Writes the result as pretty JSON.
    ///
    /// # Errors
    /// The operating system's error.
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(
            path,
            serde_json::to_vec_pretty(self).expect("results serialize"),
        )
    }
}
