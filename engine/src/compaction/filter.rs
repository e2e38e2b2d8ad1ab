//! Rewriting one batch with only the records the cleaner keeps, as Kafka's cleaner does for
//! magic v2 batches (`MemoryRecords.filterTo`).
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
//! Kafka re-encodes the kept records instead, which may move `baseTimestamp` and
//! `maxTimestamp` to the kept records' own; copying keeps the rewrite a plain byte copy and
//! every kept record exactly as the producer's bytes had it.

use crate::record::format::{self, BATCH_HEADER_BYTES, CRC_OFFSET, LOG_OVERHEAD_BYTES};
use crate::record::varint::read_varint;
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

/// What [`filter_batch`] did with one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterOutcome {
    /// Records in the input batch.
    pub records_in: usize,
    /// Records the filter kept.
    pub records_kept: usize,
    /// Bytes of the input batch, header included.
    pub bytes_in: usize,
    /// Bytes appended to the output: 0 when the batch was dropped.
    pub bytes_out: usize,
}

/// Rewrites the batch at the start of `batch` into `out` (appended), keeping only the records
/// `filter` keeps, as described in the [module docs](self).
///
/// If every record is kept, the batch is copied unchanged. If none is kept, nothing is
/// written, unless the batch carries a producer id (`producerId >= 0`): then a batch with no
/// records is kept, so that the idempotent or transactional producer's state (its last
/// sequence and epoch) survives, as Kafka keeps the last batch of each producer. ringlog's own
/// writers use producer id -1, so their empty batches are dropped. Kafka drops an emptied
/// producer batch once a later batch of the same producer exists; this function does not
/// know the producer history, so it always keeps it.
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
    out: &mut Vec<u8>,
) -> Result<FilterOutcome, BatchError> {
    let iter = records(batch)?;
    let header = *iter.header();
    // `records` checked that the whole batch is present.
    let batch = &batch[..header.total_bytes()];
    let start = out.len();
    out.extend_from_slice(&batch[..BATCH_HEADER_BYTES]);
    let (records_in, records_kept) = match copy_kept(batch, iter, filter, out) {
        Ok(counts) => counts,
        Err(error) => {
            out.truncate(start);
            return Err(error);
        }
    };
    if records_kept == 0 && header.producer_id < 0 {
        out.truncate(start);
    } else if records_kept == records_in {
        out.truncate(start);
        out.extend_from_slice(batch);
    } else {
        finish_header(&header, records_kept, &mut out[start..]);
    }
    Ok(FilterOutcome {
        records_in,
        records_kept,
        bytes_in: batch.len(),
        bytes_out: out.len() - start,
    })
}

/// Appends the bytes of each record `filter` keeps to `out`. Returns the records read and
/// the records kept.
fn copy_kept(
    batch: &[u8],
    iter: RecordIter<'_>,
    filter: &mut impl RecordFilter,
    out: &mut Vec<u8>,
) -> Result<(usize, usize), BatchError> {
    let mut pos = BATCH_HEADER_BYTES;
    let (mut records_in, mut records_kept) = (0, 0);
    for record in iter {
        let record = record?;
        let end = record_end(batch, pos);
        if filter.keep(&record) {
            out.extend_from_slice(&batch[pos..end]);
            records_kept += 1;
        }
        records_in += 1;
        pos = end;
    }
    Ok((records_in, records_kept))
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

/// Rewrites the header at the start of `rewritten` (the kept records follow it) for
/// `records_kept` records, recomputing `batchLength` and the CRC.
fn finish_header(original: &BatchHeader, records_kept: usize, rewritten: &mut [u8]) {
    let header = BatchHeader {
        batch_length: (rewritten.len() - LOG_OVERHEAD_BYTES) as i32,
        records_count: records_kept as i32,
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
        let mut out = Vec::new();
        let mut next = 0;
        let outcome = filter_batch(
            batch,
            &mut |_: &RecordView<'_>| {
                next += 1;
                keep[next - 1]
            },
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
        let outcome = filter_batch(&input, &mut |_: &RecordView<'_>| true, &mut out).unwrap();
        assert_eq!(&out[..6], b"before", "output is appended");
        assert_eq!(&out[6..], &batch[..], "and byte-identical");
        let n = batch.len();
        assert_eq!(
            outcome,
            FilterOutcome {
                records_in: 5,
                records_kept: 5,
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
        let outcome = filter_batch(&batch, &mut |_: &RecordView<'_>| false, &mut out).unwrap();
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
        let result = filter_batch(&batch, &mut |_: &RecordView<'_>| true, &mut out);
        assert_eq!(
            result,
            Err(BatchError::RecordCountMismatch {
                declared: 6,
                found: 5
            })
        );
        assert_eq!(out, b"before");
        let truncated = filter_batch(&batch[..40], &mut |_: &RecordView<'_>| true, &mut out);
        assert!(matches!(truncated, Err(BatchError::Truncated { .. })));
        assert_eq!(out, b"before");
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
    }
}
