//! When compaction may remove a tombstone: Kafka's per-batch delete horizon (KIP-534).
//!
//! A tombstone (a record whose value is null) tells consumers that its key is gone, so it must
//! stay long enough for a consumer reading from the start to see it. Kafka keeps that time in
//! the batch itself, and so does ringlog:
//!
//! - The first cleaning that keeps a tombstone in a batch without a horizon stamps the batch:
//!   attribute bit 6 ([`DELETE_HORIZON_BIT`](crate::record::format::DELETE_HORIZON_BIT)) is
//!   set and `baseTimestamp` becomes the horizon, the cleaner's `now + delete_retention_ms`
//!   ([`new_delete_horizon_ms`]). The record timestamp deltas are rewritten against it, so
//!   every record's timestamp reads back unchanged; `maxTimestamp`, which the time index and
//!   time-based retention use, is not touched.
//! - A later cleaning removes the batch's tombstones (those that are still the latest record
//!   of their key) once its clock has reached the horizon ([`retains_tombstones`]).
//! - Producer timestamps play no part: a tombstone stays `delete_retention_ms` of the cleaner's
//!   clock after the cleaning that first kept it, whatever timestamp its producer gave it.
//!
//! The clock is `CompactOptions::now_ms`, the wall clock unless a caller (a test) gives one.

use crate::record::BatchHeader;

/// The horizon a batch gets when a cleaning at `now_ms` keeps one of its tombstones and the
/// batch has none yet: `now_ms + delete_retention_ms`, saturating (a retention beyond
/// `i64::MAX` ms keeps tombstones for good).
pub fn new_delete_horizon_ms(now_ms: i64, delete_retention_ms: u64) -> i64 {
    now_ms.saturating_add(i64::try_from(delete_retention_ms).unwrap_or(i64::MAX))
}

/// Whether a cleaning at `now_ms` keeps the tombstones of the batch with `header` (Kafka's
/// `shouldRetainDeletes`): while the batch has no horizon, or its horizon is still ahead.
pub fn retains_tombstones(header: &BatchHeader, now_ms: i64) -> bool {
    header
        .delete_horizon_ms()
        .is_none_or(|horizon_ms| now_ms < horizon_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::format::{DELETE_HORIZON_BIT, MAGIC_V2, TIMESTAMP_TYPE_BIT};

    fn header(attributes: i16, base_timestamp: i64) -> BatchHeader {
        BatchHeader {
            base_offset: 0,
            batch_length: 0,
            partition_leader_epoch: -1,
            magic: MAGIC_V2,
            crc: 0,
            attributes,
            last_offset_delta: 0,
            base_timestamp,
            max_timestamp: base_timestamp,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            records_count: 1,
        }
    }

    #[test]
    fn a_batch_without_a_horizon_keeps_its_tombstones_whatever_its_timestamps() {
        for base_timestamp in [i64::MIN, -1, 0, 1_000, i64::MAX] {
            for now_ms in [i64::MIN, 0, 1_000_000, i64::MAX] {
                assert!(retains_tombstones(&header(0, base_timestamp), now_ms));
                assert!(retains_tombstones(
                    &header(TIMESTAMP_TYPE_BIT, base_timestamp),
                    now_ms
                ));
            }
        }
    }

    #[test]
    fn tombstones_go_once_the_clock_reaches_the_horizon() {
        let stamped = header(DELETE_HORIZON_BIT, 5_000);
        assert!(retains_tombstones(&stamped, 4_999));
        assert!(!retains_tombstones(&stamped, 5_000), "Kafka: now < horizon");
        assert!(!retains_tombstones(&stamped, i64::MAX));
    }

    #[test]
    fn the_new_horizon_is_now_plus_the_retention() {
        assert_eq!(new_delete_horizon_ms(1_000, 500), 1_500);
        assert_eq!(new_delete_horizon_ms(1_000, 0), 1_000);
        assert_eq!(new_delete_horizon_ms(1_000, u64::MAX), i64::MAX);
        assert_eq!(new_delete_horizon_ms(i64::MAX - 1, 10), i64::MAX);
    }
}
