//! The window of record timestamps an append accepts: Kafka's `message.timestamp.before.max.ms`
//! and `message.timestamp.after.max.ms` (KIP-937), checked per record as Kafka's
//! `LogValidator.validateTimestamp` does for `CreateTime`. A record with timestamp -1 (Kafka's
//! `NO_TIMESTAMP`) is exempt, as in Kafka.
//!
//! Producer timestamps feed the time index, time-based retention and `offset_for_timestamp`;
//! the window keeps a producer with a broken clock from making them meaningless. Rolling by
//! age does not trust them even inside the window (see `writer::needs_roll`).

use crate::config::Config;
use crate::error::AppendError;
use crate::record::BatchHeader;
use crate::segment::time_index::NO_TIMESTAMP;

/// The accepted timestamps `[earliest_ms, latest_ms]` at one wall-clock instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[expect(
    clippy::struct_field_names,
    reason = "every field is a time in ms, and units go last in names"
)]
pub(crate) struct TimestampWindow {
    now_ms: i64,
    earliest_ms: i64,
    latest_ms: i64,
}

impl TimestampWindow {
    /// The window `config` allows around `now_ms`. A limit of `i64::MAX` ms or more (Kafka's
    /// `Long.MAX_VALUE`, the default lower limit) means no limit on that side; others are
    /// clamped to the i64 range.
    pub fn new(config: &Config, now_ms: i64) -> Self {
        let clamp = |ms: i128| ms.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        let now = i128::from(now_ms);
        let unlimited = |limit: u64| limit >= i64::MAX as u64;
        let before = config.timestamp_before_max_ms;
        let after = config.timestamp_after_max_ms;
        TimestampWindow {
            now_ms,
            earliest_ms: if unlimited(before) {
                i64::MIN
            } else {
                clamp(now - i128::from(before))
            },
            latest_ms: if unlimited(after) {
                i64::MAX
            } else {
                clamp(now + i128::from(after))
            },
        }
    }

    /// Whether a record with `timestamp_ms` may be appended.
    pub fn accepts(&self, timestamp_ms: i64) -> bool {
        timestamp_ms == NO_TIMESTAMP || (self.earliest_ms..=self.latest_ms).contains(&timestamp_ms)
    }

    /// Refuses the first of `timestamps` (record timestamps in batch order) outside the window.
    ///
    /// # Errors
    /// [`AppendError::InvalidTimestamp`] naming that record.
    pub fn check(&self, timestamps: impl IntoIterator<Item = i64>) -> Result<(), AppendError> {
        match timestamps
            .into_iter()
            .enumerate()
            .find(|&(_, ts)| !self.accepts(ts))
        {
            None => Ok(()),
            Some((index, timestamp_ms)) => Err(self.refusal(index, timestamp_ms)),
        }
    }

    /// Checks a validated producer batch (`header` is its header). With no lower limit (the
    /// default) a batch whose `maxTimestamp` (which validation proved to be its largest record
    /// timestamp) is inside the window passes on the header alone; otherwise every record's
    /// timestamp is read.
    ///
    /// # Errors
    /// [`AppendError::InvalidTimestamp`] naming the first record outside the window;
    /// [`AppendError::InvalidBatch`] cannot happen for a validated batch but is passed on.
    pub fn check_batch(&self, header: &BatchHeader, batch: &[u8]) -> Result<(), AppendError> {
        if self.earliest_ms == i64::MIN && header.max_timestamp <= self.latest_ms {
            return Ok(());
        }
        for (index, record) in crate::record::records(batch)?.enumerate() {
            let timestamp_ms = record?.timestamp_ms;
            if !self.accepts(timestamp_ms) {
                return Err(self.refusal(index, timestamp_ms));
            }
        }
        Ok(())
    }

    fn refusal(&self, index: usize, timestamp_ms: i64) -> AppendError {
        AppendError::InvalidTimestamp {
            index,
            timestamp_ms,
            now_ms: self.now_ms,
            earliest_ms: self.earliest_ms,
            latest_ms: self.latest_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(before: u64, after: u64, now: i64) -> TimestampWindow {
        let config = Config {
            timestamp_before_max_ms: before,
            timestamp_after_max_ms: after,
            ..Config::default()
        };
        TimestampWindow::new(&config, now)
    }

    #[test]
    fn bounds_are_inclusive_as_in_kafka() {
        let w = window(100, 10, 1_000);
        assert!(w.accepts(900) && w.accepts(1_010));
        assert!(!w.accepts(899) && !w.accepts(1_011));
    }

    #[test]
    fn no_timestamp_is_exempt() {
        assert!(window(0, 0, 1_000).accepts(NO_TIMESTAMP));
        assert!(!window(0, 0, 1_000).accepts(-2));
    }

    #[test]
    fn the_defaults_clamp_instead_of_overflowing() {
        let w = TimestampWindow::new(&Config::default(), 1_000);
        assert!(w.accepts(i64::MIN), "no lower limit by default");
        assert!(w.accepts(1_000 + 3_600_000));
        assert!(
            !w.accepts(1_000 + 3_600_001),
            "one hour ahead at most by default"
        );
        let w = window(u64::MAX, i64::MAX as u64, 1_000);
        assert!(w.accepts(i64::MIN) && w.accepts(i64::MAX));
        let w = window(i64::MAX as u64 - 1, i64::MAX as u64 - 1, i64::MIN + 5);
        assert!(
            !w.accepts(i64::MAX) && w.accepts(i64::MIN),
            "clamped, not wrapped"
        );
    }

    #[test]
    fn check_names_the_first_offending_record() {
        let err = window(100, 10, 1_000)
            .check([950, 1_000, 5, 2_000])
            .unwrap_err();
        assert!(
            matches!(
                err,
                AppendError::InvalidTimestamp {
                    index: 2,
                    timestamp_ms: 5,
                    now_ms: 1_000,
                    earliest_ms: 900,
                    latest_ms: 1_010,
                }
            ),
            "{err:?}"
        );
    }
}
