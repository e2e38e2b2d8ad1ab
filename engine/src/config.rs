//! Configuration of a partition log, with every default in a named constant.
//!
//! The docs (`docs/design.md`, the README) refer to these constants by name, so the numbers
//! cannot drift apart from the code.

use std::time::Duration;

/// Default largest size of one segment's `.log` file before the log rolls to a new segment
/// (Kafka's `segment.bytes`): 1 GiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 1 << 30;
/// Default bytes of log written between two offset-index entries (Kafka's
/// `index.interval.bytes`).
pub const DEFAULT_INDEX_INTERVAL_BYTES: usize = 4096;
/// Default largest batch accepted, in bytes including the 12-byte log overhead (Kafka's
/// `message.max.bytes` default, 1 MiB + 12).
pub const DEFAULT_MAX_BATCH_BYTES: usize = 1_048_588;
/// Default size of one write chunk: appends gather in an aligned in-memory chunk of this size
/// before it is written with one direct write. 256 KiB is where this machine's direct writes
/// reach full bandwidth (see `docs/design.md`).
pub const DEFAULT_WRITE_CHUNK_BYTES: usize = 256 * 1024;
/// Default of [`crate::SharedConfig::write_chunk_growth`]: a busy partition's write chunk
/// doubles, each time one fills, up to this many times the pool's buffer size (1 MiB with the
/// defaults), so its direct writes grow to 1 MiB, which this machine's disk writes faster than
/// 256 KiB (see `docs/design.md`); an idle partition's chunk goes back to the buffer size.
pub const DEFAULT_WRITE_CHUNK_GROWTH: usize = 4;
/// Default number of direct writes of one partition allowed in flight at once.
pub const DEFAULT_MAX_WRITES_IN_FLIGHT: usize = 8;
/// Default step by which a segment file is preallocated with `fallocate`: bounded so that many
/// mostly idle partitions do not reserve gigabytes of disk they never fill.
pub const DEFAULT_PREALLOCATE_BYTES: u64 = 8 * 1024 * 1024;
/// Default size of one direct read when a fetch misses the cache (read-ahead for sequential
/// consumers).
pub const DEFAULT_READ_AHEAD_BYTES: usize = 256 * 1024;

/// Reads a sequential fetch keeps in flight ahead of its consumer by default: this machine's
/// direct reads flatten at queue depth 2-4 with 256 KiB-1 MiB requests.
pub const DEFAULT_READ_AHEAD_DEPTH: usize = 4;

/// The most read-ahead reads one consumer may keep in flight.
pub const MAX_READ_AHEAD_DEPTH: usize = 64;
/// The read cache's smallest default budget, its budget where the machine's memory cannot be
/// read (see [`default_cache_bytes`]), and the default written window: the part of the cache
/// that recently written chunks may hold (see [`crate::cache`]).
pub const DEFAULT_CACHE_BYTES: usize = 256 * 1024 * 1024;
/// The read cache's largest default budget (see [`default_cache_bytes`]).
pub const MAX_DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024 * 1024;
/// The default read cache takes 1/N of the memory the engine may use (see
/// [`default_cache_bytes`]).
pub const CACHE_MEMORY_DIVISOR: u64 = 8;
/// What the buffer pool holds beyond the read cache by default: write chunks and reads in
/// flight.
pub const BUFFER_POOL_HEADROOM_BYTES: usize = 64 * 1024 * 1024;
/// The buffer pool's budget with the smallest default cache: the read cache's budget (cached
/// chunks are pooled buffers, returned to the pool on eviction) plus
/// [`BUFFER_POOL_HEADROOM_BYTES`]. `SharedConfig::default` sizes the pool from
/// [`default_cache_bytes`] the same way.
pub const DEFAULT_BUFFER_POOL_BYTES: usize = DEFAULT_CACHE_BYTES + BUFFER_POOL_HEADROOM_BYTES;

/// The read cache budget of [`crate::SharedConfig::default`]: 1/[`CACHE_MEMORY_DIVISOR`] of the
/// memory the engine may use, between [`DEFAULT_CACHE_BYTES`] and [`MAX_DEFAULT_CACHE_BYTES`].
///
/// With O_DIRECT the engine gives up the page cache, so its own cache takes its place and grows
/// with the machine, as Redpanda's batch cache does; it is not the only user of the memory, so
/// it takes a fraction. The memory the engine may use is the machine's (`MemTotal` of
/// `/proc/meminfo`), or its cgroup's limit when lower (`memory.max` of cgroup v2,
/// `memory.limit_in_bytes` of v1), so a container is sized by its own limit. Where neither can
/// be read, [`DEFAULT_CACHE_BYTES`].
pub fn default_cache_bytes() -> usize {
    memory_limit_bytes().map_or(DEFAULT_CACHE_BYTES, |memory| {
        (memory / CACHE_MEMORY_DIVISOR)
            .clamp(DEFAULT_CACHE_BYTES as u64, MAX_DEFAULT_CACHE_BYTES as u64) as usize
    })
}

/// The memory this process may use: the machine's, or its cgroup's limit when lower.
fn memory_limit_bytes() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| mem_total_bytes(&info));
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|path| std::fs::read_to_string(path).ok())
    .and_then(|limit| limit.trim().parse::<u64>().ok());
    match (total, cgroup) {
        (Some(total), Some(limit)) => Some(total.min(limit)),
        (total, limit) => total.or(limit),
    }
}

/// `MemTotal` of `/proc/meminfo` text, in bytes.
fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}
/// Default interval after which data appended with [`Durability::None`] is written to disk
/// even if its chunk is not full.
pub const DEFAULT_FLUSH_INTERVAL_MS: u64 = 1000;
/// Default interval between two retention passes of the background flusher (Kafka's
/// `log.retention.check.interval.ms`).
pub const DEFAULT_RETENTION_CHECK_INTERVAL_MS: u64 = 300_000;
/// Default largest amount by which a record's timestamp may lie before the wall clock at
/// append: Kafka's `message.timestamp.before.max.ms` default, `Long.MAX_VALUE`, so no limit.
pub const DEFAULT_TIMESTAMP_BEFORE_MAX_MS: u64 = i64::MAX as u64;
/// Default largest amount by which a record's timestamp may lie after the wall clock at
/// append: Kafka's `message.timestamp.after.max.ms` default since Kafka 4.0 (KIP-1030), one
/// hour.
pub const DEFAULT_TIMESTAMP_AFTER_MAX_MS: u64 = 60 * 60 * 1000;
/// Default of [`Config::spare_segments`]: retention keeps the files of up to two deleted
/// segments for the next rolls to write over (see `docs/design.md`, "Spare segment files").
pub const DEFAULT_SPARE_SEGMENTS: usize = 2;
/// Default number of submission queue entries of the shared io_uring.
pub const DEFAULT_RING_ENTRIES: u32 = 256;

/// When an append is acknowledged. Every benchmark figure names the mode it ran in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Acknowledged once the batch is in the engine's memory. It reaches disk when its chunk
    /// fills, on the flush interval, or at close; a crash of the process loses what was not
    /// written yet.
    None,
    /// Acknowledged once the direct write that carries it completed (no `fdatasync`): survives
    /// a crash of the process, not necessarily a power loss.
    Write,
    /// Acknowledged after `fdatasync` of the segment; concurrent appenders share one
    /// `fdatasync` (group commit). Survives a power loss.
    Sync,
}

impl Durability {
    /// The lower-case name used on command lines and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Durability::None => "none",
            Durability::Write => "write",
            Durability::Sync => "sync",
        }
    }
}

impl std::str::FromStr for Durability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Durability::None),
            "write" => Ok(Durability::Write),
            "sync" => Ok(Durability::Sync),
            other => Err(format!(
                "unknown durability {other:?}: expected none, write or sync"
            )),
        }
    }
}

/// What happens to old data (Kafka's `cleanup.policy`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum CleanupPolicy {
    /// Retention deletes whole old segments by size and age.
    #[default]
    Delete,
    /// Compaction keeps the latest record of every key; every record needs a key.
    Compact,
}

impl CleanupPolicy {
    /// The lower-case name used on command lines and in metadata.
    pub fn name(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
        }
    }
}

impl std::str::FromStr for CleanupPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "delete" => Ok(CleanupPolicy::Delete),
            "compact" => Ok(CleanupPolicy::Compact),
            other => Err(format!(
                "unknown cleanup policy {other:?}: expected delete or compact"
            )),
        }
    }
}

/// Which I/O path the engine uses for segment files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoMode {
    /// io_uring when it can be set up, else positional `pread`/`pwrite`; O_DIRECT where the
    /// filesystem supports it, else buffered I/O. The path taken is reported by
    /// [`crate::Log::io_path`].
    Auto,
    /// io_uring or nothing: opening fails with the reason io_uring cannot be used and the fix.
    Uring,
    /// Positional `pread`/`pwrite` (O_DIRECT where supported), no io_uring.
    Portable,
    /// Memory-mapped segments (cargo feature `mmap`): appends copy into a shared mapping,
    /// `Sync` is an `msync` of the dirty range, fetches are slices of the mapping.
    #[cfg(feature = "mmap")]
    Mmap,
}

impl IoMode {
    /// The default: `Mmap` when built with the `mmap` feature, else `Auto`.
    #[cfg(not(feature = "mmap"))]
    pub const DEFAULT: IoMode = IoMode::Auto;
    /// The default: `Mmap` when built with the `mmap` feature, else `Auto`.
    #[cfg(feature = "mmap")]
    pub const DEFAULT: IoMode = IoMode::Mmap;

    /// Every explicit path this build has: the list test suites run over.
    #[cfg(not(feature = "mmap"))]
    pub const PATHS: &'static [IoMode] = &[IoMode::Uring, IoMode::Portable];
    /// Every explicit path this build has: the list test suites run over.
    #[cfg(feature = "mmap")]
    pub const PATHS: &'static [IoMode] = &[IoMode::Uring, IoMode::Portable, IoMode::Mmap];

    /// The lower-case name used on command lines.
    pub fn name(self) -> &'static str {
        match self {
            IoMode::Auto => "auto",
            IoMode::Uring => "uring",
            IoMode::Portable => "portable",
            #[cfg(feature = "mmap")]
            IoMode::Mmap => "mmap",
        }
    }
}

impl std::str::FromStr for IoMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(IoMode::Auto),
            "uring" => Ok(IoMode::Uring),
            "portable" => Ok(IoMode::Portable),
            #[cfg(feature = "mmap")]
            "mmap" => Ok(IoMode::Mmap),
            other => Err(format!(
                "unknown I/O mode {other:?}: expected auto, uring or portable{}",
                if cfg!(feature = "mmap") {
                    " or mmap"
                } else {
                    " (mmap needs the `mmap` feature)"
                }
            )),
        }
    }
}

/// Settings of one partition log. `Config::default()` gives the documented defaults.
#[derive(Clone, Debug)]
pub struct Config {
    /// Roll to a new segment once the active one holds this many bytes
    /// ([`DEFAULT_SEGMENT_BYTES`]). At most 2 GiB, since index positions are 32-bit.
    pub segment_bytes: u64,
    /// Roll to a new segment once the active one is older than this (Kafka's `segment.ms`);
    /// `None` disables rolling by age. A segment's age counts from the wall-clock time of its
    /// first append, not from a producer's timestamp (see `docs/design.md`, "Rolling by
    /// age"). At least 1.
    pub segment_ms: Option<u64>,
    /// Bytes of log between two offset-index entries ([`DEFAULT_INDEX_INTERVAL_BYTES`]).
    pub index_interval_bytes: usize,
    /// Largest batch accepted, including its 12-byte log overhead
    /// ([`DEFAULT_MAX_BATCH_BYTES`]).
    pub max_batch_bytes: usize,
    /// When appends are acknowledged.
    pub durability: Durability,
    /// Delete the oldest segments while the log would still hold at least this many bytes
    /// without them; `None` keeps everything.
    pub retention_bytes: Option<u64>,
    /// Delete segments whose largest timestamp is older than this; `None` keeps everything.
    pub retention_ms: Option<u64>,
    /// An append is refused ([`crate::AppendError::InvalidTimestamp`]) if a record's timestamp
    /// lies more than this before the wall clock (Kafka's `message.timestamp.before.max.ms`,
    /// [`DEFAULT_TIMESTAMP_BEFORE_MAX_MS`]: no limit). `i64::MAX` or more means no limit.
    /// Records with timestamp -1 (Kafka's `NO_TIMESTAMP`) are exempt, as in Kafka.
    pub timestamp_before_max_ms: u64,
    /// An append is refused ([`crate::AppendError::InvalidTimestamp`]) if a record's timestamp
    /// lies more than this after the wall clock (Kafka's `message.timestamp.after.max.ms`,
    /// [`DEFAULT_TIMESTAMP_AFTER_MAX_MS`]: one hour). `i64::MAX` or more means no limit.
    pub timestamp_after_max_ms: u64,
    /// Direct writes of this log allowed in flight at once ([`DEFAULT_MAX_WRITES_IN_FLIGHT`]).
    pub max_writes_in_flight: usize,
    /// Preallocation step of segment files ([`DEFAULT_PREALLOCATE_BYTES`]).
    pub preallocate_bytes: u64,
    /// Size of one direct read on a cache miss ([`DEFAULT_READ_AHEAD_BYTES`]).
    pub read_ahead_bytes: usize,
    /// Direct reads a sequential consumer's fetches keep in flight ahead of it, each of
    /// `read_ahead_bytes` or the fetch's size up to 1 MiB ([`DEFAULT_READ_AHEAD_DEPTH`], at
    /// most [`MAX_READ_AHEAD_DEPTH`]; 0 turns read-ahead off). Only on the io_uring path, whose
    /// reads complete without a thread waiting on each; see `docs/design.md`, "Read-ahead".
    pub read_ahead_depth: usize,
    /// Data appended with [`Durability::None`] is written at the latest this long after it was
    /// appended ([`DEFAULT_FLUSH_INTERVAL_MS`]); `None` writes only when a chunk fills, on
    /// [`crate::Log::flush`] and at close. In every durability mode, a log with no append for
    /// this long (or [`DEFAULT_FLUSH_INTERVAL_MS`] when `None`) whose data is all written hands
    /// its write chunk back.
    pub flush_interval_ms: Option<u64>,
    /// The background flusher runs retention this often
    /// ([`DEFAULT_RETENTION_CHECK_INTERVAL_MS`]); `None` leaves retention to explicit calls of
    /// [`crate::Log::enforce_retention`].
    pub retention_check_interval_ms: Option<u64>,
    /// What happens to old data: retention (`Delete`) or compaction (`Compact`, which refuses
    /// records without a key, as Kafka does).
    pub cleanup_policy: CleanupPolicy,
    /// The I/O path, when [`crate::Log::open`] sets up its own [`crate::Shared`].
    pub io_mode: IoMode,
    /// Files of segments that retention deleted which the log keeps, renamed to
    /// `{base_offset:020}.log.deleted`, for the next rolls to write over instead of new files
    /// ([`DEFAULT_SPARE_SEGMENTS`]; 0 deletes them at once): direct writes over written blocks
    /// are faster than writes into preallocated ones. Their disk space is freed when a roll
    /// reuses them, at close, or at the next open. Never on the mmap path.
    pub spare_segments: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            segment_ms: None,
            index_interval_bytes: DEFAULT_INDEX_INTERVAL_BYTES,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            durability: Durability::None,
            retention_bytes: None,
            retention_ms: None,
            timestamp_before_max_ms: DEFAULT_TIMESTAMP_BEFORE_MAX_MS,
            timestamp_after_max_ms: DEFAULT_TIMESTAMP_AFTER_MAX_MS,
            max_writes_in_flight: DEFAULT_MAX_WRITES_IN_FLIGHT,
            preallocate_bytes: DEFAULT_PREALLOCATE_BYTES,
            read_ahead_bytes: DEFAULT_READ_AHEAD_BYTES,
            read_ahead_depth: DEFAULT_READ_AHEAD_DEPTH,
            flush_interval_ms: Some(DEFAULT_FLUSH_INTERVAL_MS),
            retention_check_interval_ms: Some(DEFAULT_RETENTION_CHECK_INTERVAL_MS),
            cleanup_policy: CleanupPolicy::Delete,
            io_mode: IoMode::DEFAULT,
            spare_segments: DEFAULT_SPARE_SEGMENTS,
        }
    }
}

impl Config {
    /// Checks the settings against each other and against the format's limits.
    ///
    /// # Errors
    /// A message naming the setting that is out of range and why.
    pub fn validate(&self) -> Result<(), String> {
        // Index positions are u32; a segment must stay addressable by them.
        let max_segment = u64::from(u32::MAX) / 2;
        if self.segment_bytes < 4096 || self.segment_bytes > max_segment {
            return Err(format!(
                "segment_bytes {} is out of range [4096, {max_segment}]",
                self.segment_bytes
            ));
        }
        if self.max_batch_bytes < crate::record::BATCH_HEADER_BYTES
            || self.max_batch_bytes as u64 > self.segment_bytes
        {
            return Err(format!(
                "max_batch_bytes {} must be at least {} and at most segment_bytes ({})",
                self.max_batch_bytes,
                crate::record::BATCH_HEADER_BYTES,
                self.segment_bytes
            ));
        }
        if self.read_ahead_bytes < 4096 || !self.read_ahead_bytes.is_power_of_two() {
            return Err(format!(
                "read_ahead_bytes {} must be a power of two of at least 4096",
                self.read_ahead_bytes
            ));
        }
        if self.read_ahead_depth > MAX_READ_AHEAD_DEPTH {
            return Err(format!(
                "read_ahead_depth {} is more than {MAX_READ_AHEAD_DEPTH}",
                self.read_ahead_depth
            ));
        }
        if self.segment_ms == Some(0) {
            // Kafka's `segment.ms` is at least 1 too: 0 would roll a segment per batch.
            return Err("segment_ms must be at least 1 (or None to roll by size only)".to_string());
        }
        if self.max_writes_in_flight == 0 {
            return Err("max_writes_in_flight must be at least 1".to_string());
        }
        if self.preallocate_bytes == 0 {
            return Err("preallocate_bytes must be at least 1".to_string());
        }
        Ok(())
    }

    pub(crate) fn flush_interval(&self) -> Option<Duration> {
        self.flush_interval_ms.map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_total_is_read_in_kib() {
        let info = "MemFree:  100 kB\nMemTotal:       24683096 kB\nBuffers: 1 kB\n";
        assert_eq!(mem_total_bytes(info), Some(24_683_096 * 1024));
        assert_eq!(mem_total_bytes("MemFree: 1 kB\n"), None);
        assert_eq!(mem_total_bytes("MemTotal: lots kB\n"), None);
    }

    #[test]
    fn the_default_cache_is_within_its_floor_and_ceiling_and_the_pool_holds_it() {
        let bytes = default_cache_bytes();
        assert!((DEFAULT_CACHE_BYTES..=MAX_DEFAULT_CACHE_BYTES).contains(&bytes));
        let shared = crate::SharedConfig::default();
        assert_eq!(shared.cache_bytes, bytes);
        assert_eq!(shared.buffer_pool_bytes, bytes + BUFFER_POOL_HEADROOM_BYTES);
        assert_eq!(shared.written_cache_bytes, DEFAULT_CACHE_BYTES);
    }
}
