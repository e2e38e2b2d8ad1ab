//! Throughput over time: bytes completed are counted in fixed intervals from the start of a
//! timed region, so a stall (an interval with little or nothing completed) shows in the
//! result's [`Timeline`] and in the report's `throughput_timeline.svg`.
//!
//! Each thread keeps its own [`Recorder`] (no shared counter on the hot path); the recorders
//! of one case are merged at the end.

use std::time::Duration;

use crate::results::Timeline;

/// Interval of the timelines: fine enough to show a stall of a few hundred milliseconds,
/// coarse enough that an interval holds many operations.
pub const TIMELINE_INTERVAL_MS: u64 = 100;

/// Bytes completed per interval since a common start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorder {
    interval: Duration,
    bytes: Vec<u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new(Duration::from_millis(TIMELINE_INTERVAL_MS))
    }
}

impl Recorder {
    /// An empty recorder of `interval` long intervals.
    ///
    /// # Panics
    /// If `interval` is shorter than a millisecond.
    pub fn new(interval: Duration) -> Recorder {
        assert!(
            interval >= Duration::from_millis(1),
            "a timeline interval of {interval:?} is below a millisecond"
        );
        Recorder {
            interval,
            bytes: Vec::new(),
        }
    }

    /// Counts `bytes` completed `since_start` after the start of the timed region.
    pub fn record(&mut self, since_start: Duration, bytes: u64) {
        let index = (since_start.as_nanos() / self.interval.as_nanos()) as usize;
        if index >= self.bytes.len() {
            self.bytes.resize(index + 1, 0);
        }
        self.bytes[index] += bytes;
    }

    /// Adds the counts of `other` (another thread of the same case).
    ///
    /// # Panics
    /// If the two recorders have different intervals.
    pub fn merge(&mut self, other: &Recorder) {
        assert_eq!(
            self.interval, other.interval,
            "timelines of one case share their interval"
        );
        if other.bytes.len() > self.bytes.len() {
            self.bytes.resize(other.bytes.len(), 0);
        }
        for (sum, add) in self.bytes.iter_mut().zip(&other.bytes) {
            *sum += add;
        }
    }

    /// MB/s of each interval of a timed region that lasted `elapsed`. The last interval is
    /// usually partial: its rate is over its own length, and when it is shorter than half an
    /// interval it is folded into the one before (a few milliseconds would make a noisy
    /// point). Completions counted after `elapsed` extend the timeline.
    pub fn finish(&self, elapsed: Duration) -> Timeline {
        let step = self.interval.as_nanos();
        let recorded = self.bytes.len() as u128;
        let total = elapsed.as_nanos().max(step * recorded.saturating_sub(1));
        let count = total.div_ceil(step).max(recorded).max(1) as usize;
        let mut lengths: Vec<u128> = (0..count as u128)
            .map(|i| total.saturating_sub(step * i).min(step))
            .collect();
        let mut bytes: Vec<u64> = (0..count)
            .map(|i| self.bytes.get(i).copied().unwrap_or(0))
            .collect();
        if count > 1 && lengths[count - 1] < step / 2 {
            let (last_len, last_bytes) = (lengths[count - 1], bytes[count - 1]);
            lengths.truncate(count - 1);
            bytes.truncate(count - 1);
            lengths[count - 2] += last_len;
            bytes[count - 2] += last_bytes;
        }
        Timeline {
            interval_ms: self.interval.as_millis() as u64,
            mb_s: bytes
                .iter()
                .zip(&lengths)
                // bytes / 10^6 per (ns / 10^9) = bytes x 1000 / ns.
                .map(|(&b, &len)| b as f64 * 1e3 / len.max(1) as f64)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn bytes_land_in_their_interval_and_a_stall_reads_zero() {
        let mut r = Recorder::new(100 * MS);
        r.record(10 * MS, 1_000_000);
        r.record(90 * MS, 1_000_000);
        // Nothing completes between 100 and 300 ms: a stall.
        r.record(350 * MS, 500_000);
        let t = r.finish(400 * MS);
        assert_eq!(t.interval_ms, 100);
        assert_eq!(t.mb_s, vec![20.0, 0.0, 0.0, 5.0]);
    }

    #[test]
    fn a_short_last_interval_is_folded_into_the_one_before() {
        let mut r = Recorder::new(100 * MS);
        r.record(50 * MS, 1_000_000);
        r.record(150 * MS, 1_000_000);
        r.record(205 * MS, 100_000);
        let t = r.finish(210 * MS);
        assert_eq!(t.mb_s.len(), 2);
        assert!((t.mb_s[1] - 1.1 / 0.11).abs() < 1e-9, "{:?}", t.mb_s);
        // A long enough partial interval keeps its own point, at its own length.
        let t = r.finish(260 * MS);
        assert_eq!(t.mb_s.len(), 3);
        assert!((t.mb_s[2] - 0.1 / 0.06).abs() < 1e-9, "{:?}", t.mb_s);
    }

    #[test]
    fn merged_threads_add_up() {
        let (mut a, mut b) = (Recorder::default(), Recorder::default());
        a.record(10 * MS, 2_000_000);
        b.record(10 * MS, 1_000_000);
        b.record(120 * MS, 1_000_000);
        a.merge(&b);
        assert_eq!(a.finish(200 * MS).mb_s, vec![30.0, 10.0]);
    }

    #[test]
    fn an_empty_region_has_one_zero_point() {
        assert_eq!(Recorder::default().finish(Duration::ZERO).mb_s, vec![0.0]);
    }
}
