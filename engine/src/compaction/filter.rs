//! Rewriting one batch with only the records the cleaner keeps, as Kafka's cleaner does for
//! magic v2 batches (`MemoryRecords.filterTo`), stamping the delete horizon on a batch that
//! keeps a tombstone (see [`super::horizon`]).
//!
//! Kept records are copied byte for byte, so their offset and timestamp deltas stay relative
//! to the original `baseOffset` and `baseTimestamp`, and the header keeps everything but
//! `batchLength`, `recordsCount` and the CRC:
//!
//! | header field                  | after filtering                                  |
//! |-------------------------------|--------------------------------------------------|
//! | `baseOffset`, `lastOffsetDelta` | unchanged: the batch's offset range, and so the segment's next offset, stay as they were |
//! | `baseTimestamp`, `maxTimestamp` | unchanged: the kept records' deltas are relative to the base, and a `LogAppendTime` batch reports the max for every record |
//! | `attributes`, `partitionLeaderEpoch`, `producerId`, `producerEpoch`, `baseSequence` | unchanged |
//! | `recordsCount`                | the kept count                                   |
//! | `batchLength`, `crc`          | recomputed                                       |
//!
//! Stamping a horizon changes two more fields, as Kafka's `MemoryRecordsBuilder` does with a
//! `deleteHorizonMs`: `attributes` gains bit 6 and `baseTimestamp` becomes the horizon; each
//! kept record's timestamp delta is then rewritten to `timestamp - horizon` (its length prefix
//! with it), so every record reads back with the timestamp it had. `maxTimestamp` stays.
//!
//! Kafka re-encodes the kept records instead, which may move `baseTimestamp` and
//! `maxTimestamp` to the kept records' own; copying keeps the rewrite a plain byte copy and
//! every kept record exactly as the producer's bytes had it.

use crate::record::format::{
    self, BATCH_HEADER_BYTES, CRC_OFFSET, DELETE_HORIZON_BIT, LOG_OVERHEAD_BYTES,
};
use crate::record::varint::{
    MAX_VARINT_BYTES, MAX_VARLONG_BYTES, read_varint, read_varlong, varlong_bytes, write_varint,
    write_varlong,
};
use crate::record::{BatchError, BatchHeader, RecordIter, RecordView, records};

/// What the cleaner decides for one record: keep it, or drop it from the rewritten batch.
pub trait RecordFilter {
    /// Whether to keep `record`. Called once per record, in offset order.
    fn keep(&mut self, record: &RecordView<'_>) -> bool;
}

impl<F: FnMut(&RecordView<'_>) -> bool> RecordFilter for F {
    fn keep(&mut self, record: &RecordView<'_>) -> bool {
        self(record)
    }
}

/// The delete horizon [`filter_batch`] stamps on a batch that keeps a tombstone and has no
/// horizon yet (Kafka's `needToSetDeleteHorizon`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HorizonStamp {
    /// The horizon, in ms ([`super::horizon::new_delete_horizon_ms`]).
    pub delete_horizon_ms: i64,
    /// Largest the stamped batch may be, header included. Rewritten timestamp deltas may take
    /// more bytes than the original ones; a batch that would grow past this is written without
    /// a horizon instead (its tombstones stay), so that no reader meets a batch above its
    /// limit.
    pub max_batch_bytes: usize,
}

/// What [`filter_batch`] did with one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterOutcome {
    /// Records in the input batch.
    pub records_in: usize,
    /// Records the filter kept.
    pub records_kept: usize,
    /// Kept records whose value is null (tombstones).
    pub tombstones_kept: usize,
    /// Whether this call stamped the batch with a delete horizon.
    pub horizon_stamped: bool,
    /// Bytes of the input batch, header included.
    pub bytes_in: usize,
    /// Bytes appended to the output: 0 when the batch was dropped.
    pub bytes_out: usize,
}

/// Rewrites the batch at the start of `batch` into `out` (appended), keeping only the records
/// `filter` keeps, as described in the [module docs](self).
///
/// If every record is kept and nothing is stamped, the batch is copied unchanged. With
/// `stamp`, a batch that keeps a tombstone and has no delete horizon gets `stamp`'s (a batch
/// that already has one keeps it). If no record is kept, nothing is written, unless the batch
/// carries a producer id (`producerId >= 0`): then a batch with no records is kept, so that
/// the idempotent or transactional producer's state (its last sequence and epoch) survives, as
/// Kafka keeps the last batch of each producer. ringlog's own writers use producer id -1, so
/// their empty batches are dropped. Kafka drops an emptied producer batch once a later batch of
/// the same producer exists; this function does not know the producer history, so it always
/// keeps it.
///
/// `batch` should have passed [`crate::record::validate_batch`]: its CRC is not checked
/// again, and bytes after its last declared record are only copied when every record is kept.
///
/// # Errors
/// The [`BatchError`] of a header or record that cannot be read (see
/// [`crate::record::records`]); `out` is then unchanged.
pub fn filter_batch(
    batch: &[u8],
    filter: &mut impl RecordFilter,
    stamp: Option<&HorizonStamp>,
    out: &mut Vec<u8>,
) -> Result<FilterOutcome, BatchError> {
    let iter = records(batch)?;
    let header = *iter.header();
    // `records` checked that the whole batch is present.
    let batch = &batch[..header.total_bytes()];
    let start = out.len();
    out.extend_from_slice(&batch[..BATCH_HEADER_BYTES]);
    let kept = match copy_kept(batch, iter, filter, out) {
        Ok(kept) => kept,
        Err(error) => {
            out.truncate(start);
            return Err(error);
        }
    };
    let horizon_ms = stamp
        .filter(|_| kept.tombstones > 0 && !header.has_delete_horizon())
        .and_then(|stamp| rebase_timestamps(&header, stamp, start, out));
    if kept.records == 0 && header.producer_id < 0 {
        out.truncate(start);
    } else if kept.records == kept.read && horizon_ms.is_none() {
        out.truncate(start);
        out.extend_from_slice(batch);
    } else {
        finish_header(&header, kept.records, horizon_ms, &mut out[start..]);
    }
    Ok(FilterOutcome {
        records_in: kept.read,
        records_kept: kept.records,
        tombstones_kept: kept.tombstones,
        horizon_stamped: horizon_ms.is_some(),
        bytes_in: batch.len(),
        bytes_out: out.len() - start,
    })
}

/// Counts of [`copy_kept`].
struct Kept {
    read: usize,
    records: usize,
    tombstones: usize,
}

/// Appends the bytes of each record `filter` keeps to `out`.
fn copy_kept(
    batch: &[u8],
    iter: RecordIter<'_>,
    filter: &mut impl RecordFilter,
    out: &mut Vec<u8>,
) -> Result<Kept, BatchError> {
    let mut pos = BATCH_HEADER_BYTES;
    let mut kept = Kept {
        read: 0,
        records: 0,
        tombstones: 0,
    };
    for record in iter {
        let record = record?;
        let end = record_end(batch, pos);
        if filter.keep(&record) {
            out.extend_from_slice(&batch[pos..end]);
            kept.records += 1;
            kept.tombstones += usize::from(record.value.is_none());
        }
        kept.read += 1;
        pos = end;
    }
    Ok(kept)
}

/// End of the record that starts at `batch[pos..]`: its length varint plus the length.
///
/// # Panics
/// If the record's length prefix does not hold; the caller has just parsed the record with
/// [`crate::record::records`], which checks exactly this.
fn record_end(batch: &[u8], pos: usize) -> usize {
    let mut body_start = pos;
    let body_bytes = read_varint(batch, &mut body_start)
        .ok()
        .and_then(|len| usize::try_from(len).ok())
        .expect("a record that parsed has a valid length prefix");
    let end = body_start + body_bytes;
    assert!(
        end <= batch.len(),
        "a record that parsed lies inside its batch: ends at {end}, batch has {}",
        batch.len()
    );
    end
}

/// Rewrites the timestamp delta of every record in `out[start + BATCH_HEADER_BYTES..]` (the
/// kept records, copied from the batch with `header`) against `stamp`'s horizon, in place.
/// Returns the horizon, or `None`, with `out` unchanged, when the rewritten batch would be
/// larger than `stamp.max_batch_bytes` or a record too long for its length prefix.
///
/// The new delta is `(baseTimestamp + delta) - horizon` in wrapping arithmetic, the arithmetic
/// readers use, so every record reads back with exactly the timestamp it had.
fn rebase_timestamps(
    header: &BatchHeader,
    stamp: &HorizonStamp,
    start: usize,
    out: &mut Vec<u8>,
) -> Option<i64> {
    let horizon_ms = stamp.delete_horizon_ms;
    let records_start = start + BATCH_HEADER_BYTES;
    let copied_end = out.len();
    let mut pos = records_start;
    while pos < copied_end {
        let end = record_end(out, pos);
        let (attributes_at, delta, rest_at) = timestamp_delta(out, pos);
        let new_delta = header
            .base_timestamp
            .wrapping_add(delta)
            .wrapping_sub(horizon_ms);
        let body_bytes = 1 + varlong_bytes(new_delta) + (end - rest_at);
        let Ok(body_len) = i32::try_from(body_bytes) else {
            out.truncate(copied_end);
            return None;
        };
        let attributes = out[attributes_at];
        push_varint(out, body_len);
        out.push(attributes);
        push_varlong(out, new_delta);
        out.extend_from_within(rest_at..end);
        pos = end;
    }
    let rebased_bytes = out.len() - copied_end;
    if BATCH_HEADER_BYTES + rebased_bytes > stamp.max_batch_bytes {
        out.truncate(copied_end);
        return None;
    }
    out.copy_within(copied_end.., records_start);
    out.truncate(records_start + rebased_bytes);
    Some(horizon_ms)
}

/// For the record at `bytes[pos..]`: where its attributes byte is, its timestamp delta, and
/// where the rest of its body (from the offset delta on) starts.
///
/// # Panics
/// If the record does not hold them; the caller copied it from a batch that parsed.
fn timestamp_delta(bytes: &[u8], pos: usize) -> (usize, i64, usize) {
    let mut at = pos;
    read_varint(bytes, &mut at).expect("a record that parsed has a valid length prefix");
    let attributes_at = at;
    at += 1;
    let delta = read_varlong(bytes, &mut at).expect("a record that parsed has a timestamp delta");
    (attributes_at, delta, at)
}

/// Appends `value` as a zig-zag varint (32 bits).
fn push_varint(out: &mut Vec<u8>, value: i32) {
    let mut bytes = [0_u8; MAX_VARINT_BYTES];
    let mut len = 0;
    write_varint(&mut bytes, &mut len, value).expect("a varint fits MAX_VARINT_BYTES");
    out.extend_from_slice(&bytes[..len]);
}

/// Appends `value` as a zig-zag varlong (64 bits).
fn push_varlong(out: &mut Vec<u8>, value: i64) {
    let mut bytes = [0_u8; MAX_VARLONG_BYTES];
    let mut len = 0;
    write_varlong(&mut bytes, &mut len, value).expect("a varlong fits MAX_VARLONG_BYTES");
    out.extend_from_slice(&bytes[..len]);
}

/// Rewrites the header at the start of `rewritten` (the kept records follow it) for
/// `records_kept` records, recomputing `batchLength` and the CRC, and stamping `horizon_ms`
/// when given.
fn finish_header(
    original: &BatchHeader,
    records_kept: usize,
    horizon_ms: Option<i64>,
    rewritten: &mut [u8],
) {
    let (attributes, base_timestamp) = match horizon_ms {
        Some(horizon_ms) => (original.attributes | DELETE_HORIZON_BIT, horizon_ms),
        None => (original.attributes, original.base_timestamp),
    };
    let header = BatchHeader {
        batch_length: (rewritten.len() - LOG_OVERHEAD_BYTES) as i32,
        records_count: records_kept as i32,
        attributes,
        base_timestamp,
        crc: 0,
        ..*original
    };
    header.write(rewritten);
    let crc = format::batch_crc(rewritten);
    rewritten[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::record::format::RECORDS_COUNT_OFFSET;
    use crate::record::{
        BatchLimits, BatchOptions, Header, Record, TimestampType, encode_batch,
        encoded_batch_bytes, validate_batch,
    };

    /// A record as the tests describe it, owning its bytes.
    #[derive(Clone, Debug, PartialEq)]
    struct Owned {
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        timestamp_ms: i64,
        headers: Vec<(String, Option<Vec<u8>>)>,
    }

    /// What a kept record must read back as: offset, timestamp and contents.
    type Expected = (i64, i64, Owned);

    fn owned(key: &[u8], value: Option<&[u8]>, timestamp_ms: i64) -> Owned {
        Owned {
            key: Some(key.to_vec()),
            value: value.map(<[u8]>::to_vec),
            timestamp_ms,
            headers: vec![("h".to_owned(), Some(key.to_vec()))],
        }
    }

    fn to_header((key, value): &(String, Option<Vec<u8>>)) -> Header<'_> {
        Header {
            key: key.as_str(),
            value: value.as_deref(),
        }
    }

    fn encode(base_offset: i64, records: &[Owned], options: &BatchOptions) -> Vec<u8> {
        let headers: Vec<Vec<Header<'_>>> = records
            .iter()
            .map(|r| r.headers.iter().map(to_header).collect())
            .collect();
        let records: Vec<Record<'_>> = records
            .iter()
            .zip(&headers)
            .map(|(r, headers)| Record {
                key: r.key.as_deref(),
                value: r.value.as_deref(),
                timestamp_ms: r.timestamp_ms,
                headers,
            })
            .collect();
        let mut batch = vec![0; encoded_batch_bytes(&records).unwrap()];
        encode_batch(&mut batch, base_offset, &records, options).unwrap();
        batch
    }

    /// Reads back every record of `batch` with its offset and timestamp.
    fn read_back(batch: &[u8]) -> Vec<Expected> {
        records(batch)
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                let headers = r
                    .headers()
                    .map(|h| {
                        let h = h.unwrap();
                        (h.key.to_owned(), h.value.map(<[u8]>::to_vec))
                    })
                    .collect();
                let contents = Owned {
                    key: r.key.map(<[u8]>::to_vec),
                    value: r.value.map(<[u8]>::to_vec),
                    timestamp_ms: r.timestamp_ms,
                    headers,
                };
                (r.offset, r.timestamp_ms, contents)
            })
            .collect()
    }

    /// Checks a rewritten batch as a reader would. `validate_batch` also insists that the last
    /// record's offset delta equals `lastOffsetDelta`, which a batch whose last record was
    /// removed (keeping its offset range, as Kafka does) breaks; Kafka's readers do not
    /// check that, so that one mismatch, with the record's delta below the header's, is
    /// accepted here and the rest of the batch is checked by hand.
    fn check_rewritten(batch: &[u8]) -> BatchHeader {
        let header = BatchHeader::parse(batch).unwrap();
        assert_eq!(header.total_bytes(), batch.len());
        match validate_batch(batch, &BatchLimits::default()) {
            Ok(validated) => assert_eq!(validated, header),
            Err(BatchError::OffsetDeltaMismatch {
                index,
                expected,
                found,
            }) => {
                assert_eq!(index + 1, header.records_count as usize, "last record");
                assert_eq!(expected, i64::from(header.last_offset_delta));
                assert!(found < expected, "the header's range covers every record");
                assert_eq!(header.crc, format::batch_crc(batch));
                assert_eq!(read_back(batch).len(), header.records_count as usize);
            }
            Err(other) => panic!("rewritten batch is invalid: {other}"),
        }
        header
    }

    fn sample() -> Vec<Owned> {
        vec![
            owned(b"a", Some(b"1"), 1_000),
            owned(b"b", Some(b"2"), 990),
            owned(b"a", None, 1_020),
            owned(b"c", Some(b"3"), 1_010),
            owned(b"b", Some(b"4"), 1_030),
        ]
    }

    fn expected(base_offset: i64, records: &[Owned], keep: &[bool]) -> Vec<Expected> {
        records
            .iter()
            .zip(keep)
            .enumerate()
            .filter(|(_, (_, kept))| **kept)
            .map(|(i, (r, _))| (base_offset + i as i64, r.timestamp_ms, r.clone()))
            .collect()
    }

    fn run(batch: &[u8], keep: &[bool]) -> (FilterOutcome, Vec<u8>) {
        run_stamped(batch, keep, None)
    }

    fn run_stamped(
        batch: &[u8],
        keep: &[bool],
        stamp: Option<&HorizonStamp>,
    ) -> (FilterOutcome, Vec<u8>) {
        let mut out = Vec::new();
        let mut next = 0;
        let outcome = filter_batch(
            batch,
            &mut |_: &RecordView<'_>| {
                next += 1;
                keep[next - 1]
            },
            stamp,
            &mut out,
        )
        .unwrap();
        assert_eq!(next, keep.len(), "the filter sees every record once");
        (outcome, out)
    }

    #[test]
    fn keeping_every_record_copies_the_batch_unchanged() {
        let batch = encode(100, &sample(), &BatchOptions::default());
        let mut input = batch.clone();
        input.extend_from_slice(b"next batch");
        let mut out = b"before".to_vec();
        let outcome = filter_batch(&input, &mut |_: &RecordView<'_>| true, None, &mut out).unwrap();
        assert_eq!(&out[..6], b"before", "output is appended");
        assert_eq!(&out[6..], &batch[..], "and byte-identical");
        let n = batch.len();
        assert_eq!(
            outcome,
            FilterOutcome {
                records_in: 5,
                records_kept: 5,
                tombstones_kept: 1,
                horizon_stamped: false,
                bytes_in: n,
                bytes_out: n
            }
        );
    }

    #[test]
    fn keeping_some_records_keeps_them_exactly() {
        let records = sample();
        let batch = encode(100, &records, &BatchOptions::default());
        let keep = [false, true, false, true, true];
        let (outcome, out) = run(&batch, &keep);
        let header = check_rewritten(&out);
        assert_eq!(read_back(&out), expected(100, &records, &keep));
        assert_eq!(header.records_count, 3);
        assert_eq!(outcome.records_in, 5);
        assert_eq!(outcome.records_kept, 3);
        assert_eq!(outcome.bytes_out, out.len());
        assert!(outcome.bytes_out < outcome.bytes_in);
        let strict = BatchLimits {
            require_contiguous_offsets: true,
            ..BatchLimits::default()
        };
        assert!(
            validate_batch(&out, &strict).is_err(),
            "offset gaps remain where records were dropped"
        );
    }

    #[test]
    fn keeping_no_record_writes_nothing() {
        let batch = encode(100, &sample(), &BatchOptions::default());
        let mut out = b"before".to_vec();
        let outcome =
            filter_batch(&batch, &mut |_: &RecordView<'_>| false, None, &mut out).unwrap();
        assert_eq!(out, b"before");
        assert_eq!(outcome.records_kept, 0);
        assert_eq!(outcome.bytes_out, 0);
        assert_eq!(outcome.bytes_in, batch.len());
    }

    #[test]
    fn dropping_the_last_record_keeps_the_offset_range() {
        let records = sample();
        let batch = encode(100, &records, &BatchOptions::default());
        let keep = [true, true, false, false, false];
        let (_, out) = run(&batch, &keep);
        let header = check_rewritten(&out);
        assert_eq!(header.last_offset_delta, 4);
        assert_eq!(
            header.last_offset(),
            104,
            "the segment's next offset stays 105"
        );
        assert_eq!(read_back(&out), expected(100, &records, &keep));
    }

    #[test]
    fn header_fields_other_than_length_count_and_crc_are_kept() {
        let options = BatchOptions {
            producer_id: 42,
            producer_epoch: 3,
            base_sequence: 77,
            partition_leader_epoch: 9,
            timestamp_type: TimestampType::LogAppendTime,
        };
        let records = sample();
        let batch = encode(7, &records, &options);
        let before = BatchHeader::parse(&batch).unwrap();
        let (_, out) = run(&batch, &[false, false, true, true, false]);
        let after = check_rewritten(&out);
        assert_eq!(
            after,
            BatchHeader {
                batch_length: after.batch_length,
                crc: after.crc,
                records_count: 2,
                ..before
            }
        );
        assert_eq!(after.base_timestamp, 1_000, "the dropped first record's");
        for (_, timestamp_ms, _) in read_back(&out) {
            assert_eq!(timestamp_ms, 1_030, "LogAppendTime reports maxTimestamp");
        }
    }

    #[test]
    fn an_emptied_producer_batch_is_kept_without_records() {
        let options = BatchOptions {
            producer_id: 5,
            producer_epoch: 1,
            base_sequence: 10,
            ..BatchOptions::default()
        };
        let batch = encode(100, &sample(), &options);
        let before = BatchHeader::parse(&batch).unwrap();
        let (outcome, out) = run(&batch, &[false; 5]);
        assert_eq!(out.len(), BATCH_HEADER_BYTES);
        assert_eq!(outcome.records_kept, 0);
        assert_eq!(outcome.bytes_out, BATCH_HEADER_BYTES);
        let after = validate_batch(&out, &BatchLimits::default()).unwrap();
        assert_eq!(after.records_count, 0);
        assert_eq!(after.last_offset(), before.last_offset());
        assert_eq!(
            (after.producer_id, after.producer_epoch, after.base_sequence),
            (5, 1, 10)
        );
        assert!(read_back(&out).is_empty());

        // Filtering the empty batch again copies it as it is.
        let (again, out_again) = run(&out, &[]);
        assert_eq!(out_again, out);
        assert_eq!(again.records_in, 0);
    }

    #[test]
    fn unreadable_records_leave_the_output_unchanged() {
        let mut batch = encode(0, &sample(), &BatchOptions::default());
        // Declare one record more than the batch holds (`records` does not check the CRC).
        batch[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4].copy_from_slice(&6_i32.to_be_bytes());
        let mut out = b"before".to_vec();
        let result = filter_batch(&batch, &mut |_: &RecordView<'_>| true, None, &mut out);
        assert_eq!(
            result,
            Err(BatchError::RecordCountMismatch {
                declared: 6,
                found: 5
            })
        );
        assert_eq!(out, b"before");
        let truncated = filter_batch(&batch[..40], &mut |_: &RecordView<'_>| true, None, &mut out);
        assert!(matches!(truncated, Err(BatchError::Truncated { .. })));
        assert_eq!(out, b"before");
    }

    /// A stamp that never runs into its size limit.
    fn stamp_at(delete_horizon_ms: i64) -> HorizonStamp {
        HorizonStamp {
            delete_horizon_ms,
            max_batch_bytes: usize::MAX,
        }
    }

    #[test]
    fn keeping_a_tombstone_stamps_the_horizon_and_keeps_every_timestamp() {
        let records = sample();
        let batch = encode(100, &records, &BatchOptions::default());
        let before = BatchHeader::parse(&batch).unwrap();
        // Every record kept, the tombstone of "a" among them: stamped all the same.
        let horizon = 86_400_000 + 1_700_000_000_000;
        let keep = [true; 5];
        let (outcome, out) = run_stamped(&batch, &keep, Some(&stamp_at(horizon)));
        assert!(outcome.horizon_stamped);
        assert_eq!(outcome.tombstones_kept, 1);
        assert_eq!(outcome.bytes_out, out.len());
        assert!(
            out.len() > batch.len(),
            "deltas from a far horizon take more bytes"
        );
        let after = validate_batch(&out, &BatchLimits::default()).expect("a valid batch, CRC too");
        assert!(after.has_delete_horizon());
        assert_eq!(after.delete_horizon_ms(), Some(horizon));
        assert_eq!(after.base_timestamp, horizon);
        assert_eq!(
            after.max_timestamp, before.max_timestamp,
            "maxTimestamp stays"
        );
        assert_eq!(
            after.attributes,
            before.attributes | DELETE_HORIZON_BIT,
            "only bit 6 is added"
        );
        assert_eq!(
            BatchHeader {
                batch_length: before.batch_length,
                crc: before.crc,
                attributes: before.attributes,
                base_timestamp: before.base_timestamp,
                ..after
            },
            before,
            "every other field stays"
        );
        assert_eq!(read_back(&out), expected(100, &records, &keep));

        // Some records dropped, the tombstone kept: stamped, the rest as before.
        let keep = [false, true, true, false, true];
        let (outcome, out) = run_stamped(&batch, &keep, Some(&stamp_at(horizon)));
        assert!(outcome.horizon_stamped);
        let after = check_rewritten(&out);
        assert_eq!(after.delete_horizon_ms(), Some(horizon));
        assert_eq!(after.records_count, 3);
        assert_eq!(read_back(&out), expected(100, &records, &keep));
    }

    #[test]
    fn a_batch_keeping_no_tombstone_is_not_stamped() {
        let records = sample();
        let batch = encode(100, &records, &BatchOptions::default());
        let stamp = stamp_at(5_000_000);
        let all_but_tombstone = [true, true, false, true, true];
        assert_eq!(
            run_stamped(&batch, &all_but_tombstone, Some(&stamp)),
            run(&batch, &all_but_tombstone)
        );
        let plain: Vec<Owned> = records.into_iter().filter(|r| r.value.is_some()).collect();
        let batch = encode(0, &plain, &BatchOptions::default());
        let (outcome, out) = run_stamped(&batch, &[true; 4], Some(&stamp));
        assert!(!outcome.horizon_stamped);
        assert_eq!(out, batch, "copied unchanged");
    }

    #[test]
    fn a_stamped_batch_keeps_its_first_horizon() {
        let records = sample();
        let batch = encode(100, &records, &BatchOptions::default());
        let (_, stamped) = run_stamped(&batch, &[true; 5], Some(&stamp_at(10_000)));
        // A later cleaning with a later horizon copies it as it is.
        let (outcome, again) = run_stamped(&stamped, &[true; 5], Some(&stamp_at(99_999)));
        assert!(!outcome.horizon_stamped);
        assert_eq!(again, stamped);
        // Dropping a record keeps the first horizon and every timestamp.
        let keep = [true, false, true, true, true];
        let (_, dropped) = run_stamped(&stamped, &keep, Some(&stamp_at(99_999)));
        let after = check_rewritten(&dropped);
        assert_eq!(after.delete_horizon_ms(), Some(10_000));
        assert_eq!(read_back(&dropped), expected(100, &records, &keep));
    }

    #[test]
    fn a_batch_that_would_outgrow_the_limit_is_written_without_a_horizon() {
        let records = sample();
        let batch = encode(100, &records, &BatchOptions::default());
        let keep = [true, false, true, true, true];
        let (_, stamped) = run_stamped(&batch, &keep, Some(&stamp_at(1 << 50)));
        let just_fits = HorizonStamp {
            delete_horizon_ms: 1 << 50,
            max_batch_bytes: stamped.len(),
        };
        assert_eq!(run_stamped(&batch, &keep, Some(&just_fits)).1, stamped);
        let too_small = HorizonStamp {
            max_batch_bytes: stamped.len() - 1,
            ..just_fits
        };
        let (outcome, out) = run_stamped(&batch, &keep, Some(&too_small));
        assert!(!outcome.horizon_stamped);
        assert_eq!(
            (outcome, out),
            run(&batch, &keep),
            "as if no stamp was asked"
        );
    }

    fn arb_record() -> impl Strategy<Value = Owned> {
        let bytes = || proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20));
        let header = ("[a-z]{0,4}", bytes());
        (
            bytes(),
            bytes(),
            -5_000_i64..5_000,
            proptest::collection::vec(header, 0..3),
        )
            .prop_map(|(key, value, timestamp_ms, headers)| Owned {
                key,
                value,
                timestamp_ms,
                headers,
            })
    }

    proptest! {
        /// Any batch and any keep mask: the output holds exactly the kept records with their
        /// offsets and timestamps, in a batch with the original offset range.
        #[test]
        fn rewritten_batch_holds_exactly_the_kept_records(
            base_offset in 0_i64..1 << 40,
            producer_id in prop_oneof![Just(-1_i64), 0_i64..1000],
            log_append_time in any::<bool>(),
            records_and_mask in proptest::collection::vec((arb_record(), any::<bool>()), 1..30),
        ) {
            let (records, keep): (Vec<Owned>, Vec<bool>) = records_and_mask.into_iter().unzip();
            let options = BatchOptions {
                producer_id,
                timestamp_type: if log_append_time {
                    TimestampType::LogAppendTime
                } else {
                    TimestampType::CreateTime
                },
                ..BatchOptions::default()
            };
            let batch = encode(base_offset, &records, &options);
            let before = BatchHeader::parse(&batch).unwrap();
            let (outcome, out) = run(&batch, &keep);
            let kept = keep.iter().filter(|&&k| k).count();
            prop_assert_eq!(outcome.records_in, records.len());
            prop_assert_eq!(outcome.records_kept, kept);
            prop_assert_eq!(outcome.bytes_in, batch.len());
            prop_assert_eq!(outcome.bytes_out, out.len());
            if kept == records.len() {
                prop_assert_eq!(&out, &batch);
            } else if kept == 0 && producer_id < 0 {
                prop_assert!(out.is_empty());
            } else {
                let after = check_rewritten(&out);
                prop_assert_eq!(after.base_offset, before.base_offset);
                prop_assert_eq!(after.last_offset_delta, before.last_offset_delta);
                prop_assert_eq!(after.base_timestamp, before.base_timestamp);
                prop_assert_eq!(after.max_timestamp, before.max_timestamp);
                prop_assert_eq!(after.attributes, before.attributes);
                prop_assert_eq!(after.producer_id, before.producer_id);
                let mut want = expected(base_offset, &records, &keep);
                if log_append_time {
                    for (_, timestamp_ms, contents) in &mut want {
                        *timestamp_ms = before.max_timestamp;
                        contents.timestamp_ms = before.max_timestamp;
                    }
                }
                prop_assert_eq!(read_back(&out), want);
            }
        }

        /// Any batch, keep mask and horizon: a batch that keeps a tombstone is stamped (bit 6,
        /// `baseTimestamp` = the horizon, a valid CRC), every kept record reads back with its
        /// offset, timestamp and contents, and `maxTimestamp` stays; any other batch comes out
        /// exactly as without a stamp.
        #[test]
        fn stamping_changes_no_record_and_no_max_timestamp(
            base_offset in 0_i64..1 << 40,
            log_append_time in any::<bool>(),
            horizon in prop_oneof![
                Just(i64::MIN),
                Just(i64::MAX),
                -1_i64 << 50..1 << 50,
            ],
            records_and_mask in proptest::collection::vec((arb_record(), any::<bool>()), 1..30),
        ) {
            let (records, keep): (Vec<Owned>, Vec<bool>) = records_and_mask.into_iter().unzip();
            let options = BatchOptions {
                timestamp_type: if log_append_time {
                    TimestampType::LogAppendTime
                } else {
                    TimestampType::CreateTime
                },
                ..BatchOptions::default()
            };
            let batch = encode(base_offset, &records, &options);
            let before = BatchHeader::parse(&batch).unwrap();
            let (outcome, out) = run_stamped(&batch, &keep, Some(&stamp_at(horizon)));
            let tombstones = records
                .iter()
                .zip(&keep)
                .filter(|(r, k)| **k && r.value.is_none())
                .count();
            prop_assert_eq!(outcome.tombstones_kept, tombstones);
            prop_assert_eq!(outcome.horizon_stamped, tombstones > 0);
            if tombstones == 0 {
                prop_assert_eq!((outcome, out), run(&batch, &keep));
            } else {
                let after = check_rewritten(&out);
                prop_assert_eq!(after.delete_horizon_ms(), Some(horizon));
                prop_assert_eq!(after.max_timestamp, before.max_timestamp);
                prop_assert_eq!(after.attributes, before.attributes | DELETE_HORIZON_BIT);
                let mut want = expected(base_offset, &records, &keep);
                if log_append_time {
                    for (_, timestamp_ms, contents) in &mut want {
                        *timestamp_ms = before.max_timestamp;
                        contents.timestamp_ms = before.max_timestamp;
                    }
                }
                prop_assert_eq!(read_back(&out), want);
            }
        }
    }
}
