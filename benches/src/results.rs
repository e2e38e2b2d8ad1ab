//! The result file `ringbench suite` writes and `ringbench report` / `ringbench compare` read:
//! one JSON document per run and I/O path (`results/<UTC timestamp>/ringbench-<path>.json`).
//!
//! Units are in the field names. A figure that does not apply is `null`, never 0.
//!
//! `ringbench peers` writes the same document as `peers.json`: its scenarios are the peer
//! workloads (category "peers", one engine each) and [`RunResult::peers`] says how each engine
//! was driven. `ringbench disk` writes it as `disk.json`: its scenarios are the disk's own
//! cases (category "disk", see [`crate::disk`]) and [`RunResult::disk`] holds the engine's
//! request size and depth they were chosen for. Fields added after the first layout
//! ([`RunResult::peers`], [`RunResult::disk`], [`ScenarioResult::disk_write_bytes`],
//! [`ScenarioResult::timeline`], the extra percentiles of [`Latency`]) are optional and left
//! out when absent, so files of either age load with either reader and [`SCHEMA_VERSION`]
//! stays 1.

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
    /// For `ringbench peers`: the engines, what their durability modes mean, how the page
    /// cache was emptied, and ringlog's ratio to each peer. Absent in suite results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peers: Option<PeersInfo>,
    /// For `ringbench disk`: what the disk's cases were chosen for. Absent elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<DiskInfo>,
}

/// How a `ringbench disk` run was made, beside its figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiskInfo {
    /// The engine's write request size the run measured at: its default write chunk
    /// (`SharedConfig::buffer_bytes`).
    pub engine_write_bytes: u64,
    /// The engine's write queue depth: `Config::max_writes_in_flight` by default.
    pub engine_writes_in_flight: u64,
    /// Size of each file the cases write or read (a case stops early when it reaches the end
    /// of a fallocated file).
    pub file_bytes: u64,
    /// Wall time each case aimed for, seconds.
    pub case_duration_s: f64,
    /// Alignment of buffers, offsets and lengths, bytes (`statx` DIOALIGN, at least 4 KiB).
    pub alignment_bytes: u64,
}
/// How a `ringbench peers` run was made, beside its figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeersInfo {
    /// How cold phases emptied the page cache: `drop_caches` (`sync`, then "1" written to
    /// `/proc/sys/vm/drop_caches`: the whole machine's clean page cache) or `fadvise`
    /// (`fdatasync` and `posix_fadvise(DONTNEED)` on each of the engine's files).
    pub cache_drop: String,
    /// Payload bytes of every record.
    pub record_bytes: u64,
    /// Records per appended batch.
    pub batch_records: u64,
    /// Seed of the point reads' offsets (the same for every engine).
    pub point_read_seed: u64,
    /// Every engine of the run, ringlog first.
    pub engines: Vec<PeerDescription>,
    /// Engines asked for but not built into this binary (their cargo feature was off).
    pub not_built: Vec<String>,
    /// Engines whose workload failed, with the error; their figures up to the failure are
    /// kept.
    #[serde(default)]
    pub failures: Vec<String>,
    /// ringlog's ratio to each peer, case by case.
    pub ratios: Vec<PeerRatio>,
    /// Rounds of the whole workload (the engines interleaved in each); every figure is the
    /// median round's, with the range of all in its `spread` (absent in files written before
    /// rounds: one).
    #[serde(default = "one_round")]
    pub rounds: u64,
}

fn one_round() -> u64 {
    1
}

/// One engine of a peers run, described so a reader can check the comparison is fair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerDescription {
    /// `ringlog`, `raft-engine`, `fjall`, `glommio`, `naive`, `rocksdb`.
    pub name: String,
    /// Crate and version, or "this workspace".
    pub version: String,
    /// The I/O path as the engine takes it (page cache, O_DIRECT, io_uring, ...).
    pub io_path: String,
    /// What the "cheapest" appends of this engine guarantee when acknowledged.
    pub cheapest: String,
    /// What the "sync" appends (one sync per batch) guarantee, and how they are made.
    pub sync: String,
    /// How concurrent producers write, or why the engine has none.
    pub producers: String,
    /// How the workload drives the engine: append, read and reopen calls.
    pub driven: String,
}

/// ringlog's figure over a peer's on the same case: above 1 means ringlog did better.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerRatio {
    /// The case's scenario name (`peer_append`, `peer_read_seq`, ...).
    pub scenario: String,
    /// Its durability label (`cheapest`, `sync`), `None` for reads and reopens.
    pub durability: Option<String>,
    /// Its parameters, as in [`ScenarioResult::params`].
    pub params: std::collections::BTreeMap<String, u64>,
    /// The peer.
    pub peer: String,
    /// What was compared: `records/s` (ringlog / peer) or `time` (peer / ringlog, for the
    /// one-operation reopen).
    pub metric: String,
    /// The ratio: with several rounds, the median of the rounds' ratios (each round pairs
    /// ringlog's figure with the peer's of the same round).
    pub ringlog_vs_peer: f64,
    /// With several rounds: the smallest and largest of the rounds' ratios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<Range>,
}

/// The smallest and largest of a figure's repetitions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Range {
    /// The range of `values`; `None` for fewer than two.
    pub fn of(values: &[f64]) -> Option<Range> {
        (values.len() >= 2).then(|| Range {
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }
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
    /// The engine's default read cache budget in the run (`SharedConfig::cache_bytes`, sized
    /// from the machine's memory); 0 in results written before it was recorded.
    #[serde(default)]
    pub cache_bytes: u64,
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
    /// 75th percentile (absent in files written before the HDR plot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p75_us: Option<f64>,
    /// 95th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_us: Option<f64>,
    /// 99.5th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p995_us: Option<f64>,
    /// 99.99th percentile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p9999_us: Option<f64>,
}

/// Throughput of one case over its run, interval by interval, so a stall shows as a dip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Length of each interval, milliseconds (the last one may be longer, see
    /// [`crate::timeline::Recorder::finish`]).
    pub interval_ms: u64,
    /// Megabytes (10^6) per second completed in each interval, from the start of the timed
    /// region: payload bytes for the engine, request bytes for the disk.
    pub mb_s: Vec<f64>,
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
    /// Bytes the process sent to storage during the case: the delta of `write_bytes` in
    /// `/proc/self/io` (every thread, io_uring workers included), when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_write_bytes: Option<u64>,
    /// Throughput over time, for sustained cases (`sustained_produce`, `ringbench produce
    /// --out`, the disk's sequential writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Timeline>,
    /// For cases measured in repeated passes (`sequential_fetch_cold`, every case of
    /// `ringbench peers` with several rounds): the spread of the passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<Spread>,
}

/// The spread of a case's repeated passes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Passes measured.
    pub passes: u64,
    /// The slowest pass's payload MB/s.
    pub min_mb_s: f64,
    /// The fastest pass's payload MB/s.
    pub max_mb_s: f64,
    /// The passes' records per second, where reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_per_s: Option<Range>,
    /// The passes' median latency in microseconds, where reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_us: Option<Range>,
    /// The passes' elapsed seconds, where reported (one-operation cases such as a reopen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_s: Option<Range>,
}

impl Spread {
    /// The spread of `mb_s` (one figure per pass); `None` for fewer than two passes.
    pub fn of(mb_s: &[f64]) -> Option<Spread> {
        Range::of(mb_s).map(|r| Spread {
            passes: mb_s.len() as u64,
            min_mb_s: r.min,
            max_mb_s: r.max,
            records_per_s: None,
            p50_us: None,
            elapsed_s: None,
        })
    }

    /// The spread of whole repetitions of a case: MB/s, records/s, p50 (where every pass has
    /// one) and elapsed time; `None` for fewer than two.
    pub fn of_results(passes: &[&ScenarioResult]) -> Option<Spread> {
        let mb_s: Vec<f64> = passes.iter().map(|s| s.payload_mb_s).collect();
        let p50: Option<Vec<f64>> = passes.iter().map(|s| s.latency.map(|l| l.p50_us)).collect();
        Spread::of(&mb_s).map(|spread| Spread {
            records_per_s: Range::of(&passes.iter().map(|s| s.messages_per_s).collect::<Vec<_>>()),
            p50_us: p50.as_deref().and_then(Range::of),
            elapsed_s: Range::of(&passes.iter().map(|s| s.elapsed_s).collect::<Vec<_>>()),
            ..spread
        })
    }
}

impl Latency {
    /// The percentiles of a histogram of nanoseconds; `None` when it is empty.
    pub fn from_histogram_ns(h: &hdrhistogram::Histogram<u64>) -> Option<Latency> {
        if h.is_empty() {
            return None;
        }
        let us = |ns: u64| ns as f64 / 1e3;
        Some(Latency {
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
            mean_us: h.mean() / 1e3,
            p75_us: Some(us(h.value_at_quantile(0.75))),
            p95_us: Some(us(h.value_at_quantile(0.95))),
            p995_us: Some(us(h.value_at_quantile(0.995))),
            p9999_us: Some(us(h.value_at_quantile(0.9999))),
        })
    }

    /// The percentile distribution from p50 to p99.99, as (quantile, microseconds) in rising
    /// order: the points this result holds (older files lack p75, p95, p99.5 and p99.99).
    pub fn distribution(&self) -> Vec<(f64, f64)> {
        [
            (0.50, Some(self.p50_us)),
            (0.75, self.p75_us),
            (0.90, Some(self.p90_us)),
            (0.95, self.p95_us),
            (0.99, Some(self.p99_us)),
            (0.995, self.p995_us),
            (0.999, Some(self.p999_us)),
            (0.9999, self.p9999_us),
        ]
        .into_iter()
        .filter_map(|(q, us)| Some((q, us?)))
        .collect()
    }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An environment with nothing known but two cores, ext4 and the quick profile.
    pub(crate) fn environment() -> Environment {
        serde_json::from_str(
            r#"{"cpu_model":"","cores":2,"memory_bytes":0,"kernel":"","filesystem":"ext4",
            "device":null,"data_dir":"","dio_alignment":null,"io_uring":"","io_path":"",
            "git_revision":null,"rustc":null,"profile":"quick","started_utc":""}"#,
        )
        .expect("an environment")
    }

    /// A case with every figure set to something harmless, for tests to override.
    pub(crate) fn scenario() -> ScenarioResult {
        ScenarioResult {
            name: "write_throughput".to_string(),
            category: "produce".to_string(),
            engine: "ringlog".to_string(),
            io_path: "io_uring+O_DIRECT".to_string(),
            durability: Some("none".to_string()),
            params: std::collections::BTreeMap::new(),
            threads: 1,
            operations: 1,
            messages: 1,
            payload_bytes: 1,
            disk_bytes: None,
            elapsed_s: 1.0,
            payload_mb_s: 1.0,
            disk_mb_s: None,
            messages_per_s: 1.0,
            latency: None,
            cpu_us_per_op: None,
            allocations_per_op: None,
            scaling: None,
            compaction: None,
            disk_write_bytes: None,
            timeline: None,
            spread: None,
        }
    }

    #[test]
    fn the_distribution_runs_from_p50_to_p9999_and_skips_what_an_old_file_lacks() {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1_000_000_000, 3).unwrap();
        for ns in 1..=100_000u64 {
            h.record(ns * 10).unwrap();
        }
        let latency = Latency::from_histogram_ns(&h).unwrap();
        let d = latency.distribution();
        let quantiles: Vec<f64> = d.iter().map(|p| p.0).collect();
        assert_eq!(
            quantiles,
            vec![0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999]
        );
        assert!(d.windows(2).all(|w| w[0].1 <= w[1].1), "{d:?}");
        let old = Latency {
            p75_us: None,
            p95_us: None,
            p995_us: None,
            p9999_us: None,
            ..latency
        };
        assert_eq!(old.distribution().len(), 4);
        // Files written before the extra percentiles load.
        let json =
            r#"{"p50_us":1.0,"p90_us":2.0,"p99_us":3.0,"p999_us":4.0,"max_us":5.0,"mean_us":1.5}"#;
        let parsed: Latency = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.p9999_us, None);
    }
}
