//! What to clean: pure decisions over segment sizes, offsets and timestamps, carried out by
//! the compaction worker.
//!
//! A compacted log splits, as in Kafka, at the cleaner checkpoint (`first_dirty_offset`):
//! segments before it are the clean section, already compacted, and sealed segments from it
//! on are the dirty section. A cleaning run reads the dirty section's keys into an
//! [`OffsetMap`](super::offset_map::OffsetMap), then rewrites clean and dirty segments
//! alike ([`CleaningChoice::rewrite`]) into new segments cut at the log's `segment_bytes`
//! ([`starts_new_segment`]), keeping each key's latest record. The active segment is never cleaned. When a tombstone
//! may go is decided per batch, by [`super::horizon`].

/// Kafka's default `min.cleanable.dirty.ratio`: a log is cleaned once at least half of its
/// sealed bytes are dirty.
pub const DEFAULT_MIN_CLEANABLE_DIRTY_RATIO: f64 = 0.5;

/// Offsets, size and age of one sealed segment, as the cleaner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Offset of the segment's first record (its file name).
    pub base_offset: u64,
    /// One past the segment's last offset: the next segment's base offset.
    pub next_offset: u64,
    /// Bytes of batches in the segment.
    pub bytes: u64,
    /// Largest record timestamp in the segment, in ms, or -1 when unknown.
    pub max_timestamp_ms: i64,
}

/// A decision to clean, made by [`choose_cleaning`].
#[derive(Debug, Clone, PartialEq)]
pub struct CleaningChoice {
    /// Sealed segments whose records are read into the offset map, oldest first: those
    /// holding offsets in `[first_dirty_offset, end of the last sealed segment)`. The first
    /// may start before `first_dirty_offset` (a previous run stopped inside it); its records
    /// below the checkpoint are skipped.
    pub dirty: Vec<SegmentInfo>,
    /// Every sealed segment to rewrite, oldest first: the clean section, then `dirty`.
    pub rewrite: Vec<SegmentInfo>,
    /// Dirty bytes over all sealed bytes, as Kafka's `LogToClean.cleanableRatio`.
    pub dirty_ratio: f64,
}

impl CleaningChoice {
    /// The clean section: the segments of [`CleaningChoice::rewrite`] before the dirty ones,
    /// cleaned by an earlier run.
    pub fn clean(&self) -> &[SegmentInfo] {
        &self.rewrite[..self.rewrite.len() - self.dirty.len()]
    }
}

/// Decides whether to clean a log whose sealed segments are `sealed` (oldest first and
/// contiguous; the active segment is never cleaned and is not in the list), given the
/// cleaner checkpoint `first_dirty_offset` (0, or the log start offset, when never cleaned).
///
/// A segment is dirty when it holds any offset at or past `first_dirty_offset`
/// (`next_offset > first_dirty_offset`). With `min_ratio` set, the log is cleaned when its
/// dirty ratio is above it (strictly, as Kafka compares); with `None`, on demand, whenever a
/// sealed segment is dirty. Returns `None` when there is nothing to clean.
///
/// # Panics
/// If `sealed` is not in offset order, or a segment ends before it starts.
pub fn choose_cleaning(
    sealed: &[SegmentInfo],
    first_dirty_offset: u64,
    min_ratio: Option<f64>,
) -> Option<CleaningChoice> {
    check_order(sealed);
    let first_dirty = sealed.partition_point(|s| s.next_offset <= first_dirty_offset);
    let dirty = &sealed[first_dirty..];
    if dirty.is_empty() {
        return None;
    }
    let total_bytes: u64 = sealed.iter().map(|s| s.bytes).sum();
    let dirty_bytes: u64 = dirty.iter().map(|s| s.bytes).sum();
    let dirty_ratio = if total_bytes == 0 {
        0.0
    } else {
        dirty_bytes as f64 / total_bytes as f64
    };
    if min_ratio.is_some_and(|min| dirty_ratio <= min) {
        return None;
    }
    Some(CleaningChoice {
        dirty: dirty.to_vec(),
        rewrite: sealed.to_vec(),
        dirty_ratio,
    })
}

fn check_order(segments: &[SegmentInfo]) {
    for segment in segments {
        assert!(
            segment.base_offset <= segment.next_offset,
            "segment {} ends at {}, before it starts",
            segment.base_offset,
            segment.next_offset
        );
    }
    for pair in segments.windows(2) {
        assert!(
            pair[0].next_offset <= pair[1].base_offset,
            "segments must be in offset order: {} ends at {} but the next starts at {}",
            pair[0].base_offset,
            pair[0].next_offset,
            pair[1].base_offset
        );
    }
}

/// Largest offset span of one group, so that every offset is a 32-bit delta from the group's
/// base offset (the offset index stores relative offsets as i32).
const MAX_GROUP_OFFSET_SPAN: u64 = i32::MAX as u64;

/// Whether a cleaned batch starts a new cleaned segment instead of going into the open one:
/// the open segment starts at offset `base` and holds `position` bytes; the batch is
/// `batch_bytes` long and ends before `batch_next_offset`. A segment holds at least one batch
/// and otherwise at most `max_segment_bytes` (the log's `segment_bytes`, as the write path
/// rolls), and every offset in it is a 32-bit delta from its base (the offset index stores
/// relative offsets as i32). Cleaned segments are cut by what they hold, not by the sizes of
/// the segments they replace (Kafka's `groupSegmentsBySize`), so a first compaction of full
/// segments that halves them also halves their count.
pub fn starts_new_segment(
    base: u64,
    position: u64,
    batch_bytes: u64,
    batch_next_offset: u64,
    max_segment_bytes: u64,
) -> bool {
    let span = batch_next_offset.saturating_sub(base);
    let over = position > 0 && position.saturating_add(batch_bytes) > max_segment_bytes;
    over || span > MAX_GROUP_OFFSET_SPAN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(base_offset: u64, next_offset: u64, bytes: u64) -> SegmentInfo {
        SegmentInfo {
            base_offset,
            next_offset,
            bytes,
            max_timestamp_ms: base_offset as i64 * 10,
        }
    }

    /// Four segments of 100 offsets each; byte sizes 100, 200, 300, 400.
    fn log() -> Vec<SegmentInfo> {
        (0..4)
            .map(|i| segment(i * 100, (i + 1) * 100, (i + 1) * 100))
            .collect()
    }

    #[test]
    fn never_cleaned_log_is_all_dirty() {
        let choice = choose_cleaning(&log(), 0, Some(0.5)).unwrap();
        assert_eq!(choice.dirty, log());
        assert_eq!(choice.rewrite, log());
        assert!(choice.clean().is_empty());
        assert!((choice.dirty_ratio - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn ratio_counts_dirty_bytes_over_sealed_bytes() {
        // Clean: 100 + 200 + 300, dirty: 400 of 1000.
        let choice = choose_cleaning(&log(), 300, None).unwrap();
        assert_eq!(choice.dirty, &log()[3..]);
        assert_eq!(choice.rewrite, log());
        assert_eq!(choice.clean(), &log()[..3]);
        assert!((choice.dirty_ratio - 0.4).abs() < 1e-12);
        // Dirty: 300 + 400 of 1000.
        let choice = choose_cleaning(&log(), 200, None).unwrap();
        assert!((choice.dirty_ratio - 0.7).abs() < 1e-12);
    }

    #[test]
    fn threshold_is_strict() {
        assert!(choose_cleaning(&log(), 300, Some(0.39)).is_some());
        assert_eq!(choose_cleaning(&log(), 300, Some(0.4)), None);
        assert_eq!(
            choose_cleaning(&log(), 300, Some(DEFAULT_MIN_CLEANABLE_DIRTY_RATIO)),
            None
        );
        assert!(choose_cleaning(&log(), 200, Some(DEFAULT_MIN_CLEANABLE_DIRTY_RATIO)).is_some());
    }

    #[test]
    fn on_demand_cleans_any_dirty_segment() {
        let mut sealed = log();
        sealed[3].bytes = 1;
        let choice = choose_cleaning(&sealed, 300, None).unwrap();
        assert_eq!(choice.dirty, &sealed[3..]);
        assert!(choice.dirty_ratio < 0.01);
    }

    #[test]
    fn nothing_sealed_or_nothing_dirty_is_no_choice() {
        assert_eq!(choose_cleaning(&[], 0, None), None);
        assert_eq!(choose_cleaning(&log(), 400, None), None, "all clean");
        assert_eq!(choose_cleaning(&log(), 1_000, None), None);
    }

    #[test]
    fn a_checkpoint_inside_a_segment_makes_it_dirty() {
        let choice = choose_cleaning(&log(), 250, None).unwrap();
        assert_eq!(choice.dirty, &log()[2..]);
        assert_eq!(choice.clean(), &log()[..2]);
    }

    #[test]
    fn a_checkpoint_before_the_log_start_is_all_dirty() {
        let sealed = &log()[2..];
        let choice = choose_cleaning(sealed, 0, None).unwrap();
        assert_eq!(choice.dirty, sealed);
    }

    #[test]
    fn empty_segments_give_a_zero_ratio() {
        let sealed = [segment(0, 0, 0), segment(0, 10, 0)];
        let choice = choose_cleaning(&sealed, 0, None).unwrap();
        assert!(choice.dirty_ratio.abs() < f64::EPSILON);
        assert_eq!(choose_cleaning(&sealed, 0, Some(0.0)), None);
    }

    #[test]
    #[should_panic(expected = "segments must be in offset order")]
    fn unordered_segments_panic() {
        let mut sealed = log();
        sealed.swap(1, 2);
        let _ = choose_cleaning(&sealed, 0, None);
    }

    #[test]
    fn a_segment_takes_batches_up_to_its_size_and_at_least_one() {
        // Open segment at base 0 holding 300 bytes, limit 400.
        assert!(
            !starts_new_segment(0, 300, 100, 50, 400),
            "exactly full fits"
        );
        assert!(
            starts_new_segment(0, 300, 101, 50, 400),
            "one byte over starts anew"
        );
        assert!(
            !starts_new_segment(0, 0, 1_000, 50, 400),
            "an empty segment takes even an oversized batch"
        );
        assert!(!starts_new_segment(0, 0, 0, 0, 0));
    }

    #[test]
    fn a_segment_keeps_offsets_within_a_32_bit_delta() {
        let max = i32::MAX as u64;
        assert!(
            !starts_new_segment(10, 1, 1, 10 + max, u64::MAX),
            "a span of exactly i32::MAX is allowed"
        );
        assert!(
            starts_new_segment(10, 1, 1, 11 + max, u64::MAX),
            "one more is not"
        );
        assert!(
            starts_new_segment(10, 0, 1, 11 + max, u64::MAX),
            "not even as the first batch of the segment"
        );
    }
}
