//! Kafka-style log compaction: keep the latest record of every key.
//!
//! The decisions are pure functions, kept apart from the I/O that carries them out:
//! [`choice`] picks the segments to clean and groups them, [`offset_map`] is the cleaner's
//! fixed-budget map from key to latest offset, [`horizon`] decides when a tombstone may go,
//! [`filter`] rewrites one batch (stamping its delete horizon), [`throttle`] caps the bytes a
//! cleaning reads and writes per second. The worker that
//! reads segments, writes cleaned ones through the log's I/O path and swaps them in is
//! `Log::compact` (in `crate::log::compact`), and [`swap`] is the crash-safe file protocol.

pub mod choice;
pub mod filter;
pub mod horizon;
pub mod offset_map;
pub mod swap;
pub mod throttle;

use std::sync::Arc;
use std::time::Duration;

use throttle::IoThrottle;

/// Default memory of the cleaner's offset map (Kafka's `log.cleaner.dedupe.buffer.size` is
/// 128 MiB for all cleaner threads; one partition at a time here).
pub const DEFAULT_OFFSET_MAP_BYTES: usize = 16 * 1024 * 1024;

/// Name of the file in a partition directory holding the first dirty offset (Kafka's
/// `cleaner-offset-checkpoint`, one per partition here).
pub const CLEANER_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

/// How to compact.
#[derive(Debug)]
pub struct CompactOptions {
    /// Clean only when the dirty ratio passes this; `None` cleans whatever is dirty (on
    /// demand).
    pub min_cleanable_dirty_ratio: Option<f64>,
    /// Tombstones stay at least this long after the first cleaning that kept them: that
    /// cleaning stamps their batch with the delete horizon `now_ms + delete_retention_ms`
    /// (see [`horizon`]).
    pub delete_retention_ms: u64,
    /// The cleaner's clock, in ms since the Unix epoch: the "now" of delete horizons. `None`
    /// reads the wall clock once when the compaction starts; tests give a time so that what
    /// is removed does not depend on how fast they run.
    pub now_ms: Option<i64>,
    /// Memory of the offset map; a dirty section that does not fit is cleaned in rounds.
    pub offset_map_bytes: usize,
    /// Caps the bytes the compaction reads and writes per second (Kafka's
    /// `log.cleaner.io.max.bytes.per.second`); `None`, the default, does not limit it. Share
    /// one throttle among compactions to cap them together.
    pub io_throttle: Option<Arc<IoThrottle>>,
    /// Stops the swap after this many file operations (tests: a simulated crash).
    #[doc(hidden)]
    pub stop_after_file_operations: Option<usize>,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            min_cleanable_dirty_ratio: None,
            delete_retention_ms: crate::topic::DEFAULT_DELETE_RETENTION_MS,
            now_ms: None,
            offset_map_bytes: DEFAULT_OFFSET_MAP_BYTES,
            io_throttle: None,
            stop_after_file_operations: None,
        }
    }
}

/// What a compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Rounds run (more than one when the dirty section did not fit the offset map).
    pub rounds: usize,
    /// Bytes of the rewritten segments before.
    pub bytes_before: u64,
    /// Bytes of their replacements.
    pub bytes_after: u64,
    /// Records in the rewritten segments before.
    pub records_before: u64,
    /// Records kept.
    pub records_after: u64,
    /// Distinct keys in the offset maps (summed over rounds).
    pub keys: u64,
    /// Tombstones dropped because their batch's delete horizon had passed.
    pub tombstones_removed: u64,
    /// Batches that kept a tombstone and got their delete horizon in this compaction.
    pub delete_horizons_set: u64,
    /// Segments rewritten.
    pub segments_before: usize,
    /// Segments written in their place.
    pub segments_after: usize,
    /// Wall time.
    pub duration: Duration,
}

impl CompactionReport {
    /// Bytes reclaimed.
    pub fn bytes_reclaimed(&self) -> u64 {
        self.bytes_before.saturating_sub(self.bytes_after)
    }

    /// Records removed.
    pub fn records_removed(&self) -> u64 {
        self.records_before.saturating_sub(self.records_after)
    }

    fn add(&mut self, other: &CompactionReport) {
        self.rounds += other.rounds;
        self.bytes_before += other.bytes_before;
        self.bytes_after += other.bytes_after;
        self.records_before += other.records_before;
        self.records_after += other.records_after;
        self.keys += other.keys;
        self.tombstones_removed += other.tombstones_removed;
        self.delete_horizons_set += other.delete_horizons_set;
        self.segments_before += other.segments_before;
        self.segments_after += other.segments_after;
    }
}

impl std::fmt::Display for CompactionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} round(s): {} -> {} bytes ({} reclaimed), {} -> {} records ({} removed, {} tombstones; {} delete horizons set), {} keys, {} -> {} segments, {:.3} s",
            self.rounds,
            self.bytes_before,
            self.bytes_after,
            self.bytes_reclaimed(),
            self.records_before,
            self.records_after,
            self.records_removed(),
            self.tombstones_removed,
            self.delete_horizons_set,
            self.keys,
            self.segments_before,
            self.segments_after,
            self.duration.as_secs_f64()
        )
    }
}

pub(crate) fn merge(total: &mut CompactionReport, round: &CompactionReport) {
    total.add(round);
}
