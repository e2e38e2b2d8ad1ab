//! Encoding records into one uncompressed `RecordBatch` v2, in place and without allocating.
//!
//! Callers size the destination with [`encoded_batch_bytes`], then call [`encode_batch`]. Both
//! check every length against the format's 32-bit fields, so an oversized input is an `Err`
//! and never a silently wrapped length.

use super::error::BatchError;
use super::format::{
    self, BATCH_HEADER_BYTES, BatchHeader, CRC_OFFSET, LOG_OVERHEAD_BYTES, MAGIC_V2,
    NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, TIMESTAMP_TYPE_BIT,
    TimestampType,
};
use super::varint::{varint_bytes, varlong_bytes, write_varint, write_varlong};

/// Largest value of a length field (all are i32).
const MAX_FIELD_BYTES: usize = i32::MAX as usize;

/// A record header to encode. Kafka allows repeated keys; they are kept in order.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    /// Header key; Kafka requires UTF-8.
    pub key: &'a str,
    /// Header value, `None` for null.
    pub value: Option<&'a [u8]>,
}

/// A record to encode. Its offset is given by its position in the batch.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// Record key, `None` for null.
    pub key: Option<&'a [u8]>,
    /// Record value, `None` for null (a tombstone under compaction).
    pub value: Option<&'a [u8]>,
    /// Timestamp in ms since the Unix epoch; may go backwards within a batch.
    pub timestamp_ms: i64,
    /// Headers, in order.
    pub headers: &'a [Header<'a>],
}

/// Batch-wide header fields chosen by the writer.
///
/// The [`Default`] is what a non-idempotent Kafka producer sends: no producer id, epoch or
/// sequence ([`NO_PRODUCER_ID`], [`NO_PRODUCER_EPOCH`], [`NO_SEQUENCE`]), no leader epoch
/// ([`NO_PARTITION_LEADER_EPOCH`], -1; a broker overwrites it with its own epoch when it
/// appends) and [`TimestampType::CreateTime`].
#[derive(Clone, Copy, Debug)]
pub struct BatchOptions {
    /// Idempotent producer id.
    pub producer_id: i64,
    /// Idempotent producer epoch.
    pub producer_epoch: i16,
    /// Sequence number of the first record.
    pub base_sequence: i32,
    /// Epoch of the partition leader writing the batch.
    pub partition_leader_epoch: i32,
    /// Meaning of the record timestamps. With [`TimestampType::LogAppendTime`] the caller is
    /// expected to pass the append time as every record's timestamp; the codec only sets the
    /// attribute bit.
    pub timestamp_type: TimestampType,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            timestamp_type: TimestampType::CreateTime,
        }
    }
}

fn field_len(len: usize) -> Result<i32, BatchError> {
    i32::try_from(len).map_err(|_| BatchError::TooLarge {
        bytes: len,
        max: MAX_FIELD_BYTES,
    })
}

fn nullable_bytes(field: Option<&[u8]>) -> Result<usize, BatchError> {
    Ok(match field {
        None => varint_bytes(-1),
        Some(bytes) => varint_bytes(field_len(bytes.len())?) + bytes.len(),
    })
}

/// Bytes of a record after its length prefix.
fn record_body_bytes(
    record: &Record<'_>,
    timestamp_delta: i64,
    offset_delta: i32,
) -> Result<usize, BatchError> {
    let mut bytes = 1 + varlong_bytes(timestamp_delta) + varint_bytes(offset_delta);
    bytes += nullable_bytes(record.key)?;
    bytes += nullable_bytes(record.value)?;
    bytes += varint_bytes(field_len(record.headers.len())?);
    for header in record.headers {
        bytes += varint_bytes(field_len(header.key.len())?) + header.key.len();
        bytes += nullable_bytes(header.value)?;
    }
    field_len(bytes)?;
    Ok(bytes)
}

/// Timestamp delta of a record from the batch's base timestamp. Wrapping keeps the round trip
/// exact for any i64 pair, as readers add the delta back with the same wrap (Java's `long`).
fn timestamp_delta(record: &Record<'_>, base_timestamp: i64) -> i64 {
    record.timestamp_ms.wrapping_sub(base_timestamp)
}

/// Exact size in bytes of the batch [`encode_batch`] writes for `records`.
///
/// # Errors
/// [`BatchError::Empty`] if `records` is empty; [`BatchError::TooManyRecords`] beyond
/// `i32::MAX` records; [`BatchError::TooLarge`] if a key, value, header, record or the whole
/// batch is longer than its i32 length field allows.
pub fn encoded_batch_bytes(records: &[Record<'_>]) -> Result<usize, BatchError> {
    size_records(records, |_| {})
}

/// Sizes the batch of `records`, passing each record's body size (after its length prefix)
/// to `body_bytes` in order; returns the batch's total size. Checks as [`encoded_batch_bytes`].
fn size_records(
    records: &[Record<'_>],
    mut body_bytes: impl FnMut(usize),
) -> Result<usize, BatchError> {
    let Some(first) = records.first() else {
        return Err(BatchError::Empty);
    };
    if records.len() > MAX_FIELD_BYTES {
        return Err(BatchError::TooManyRecords {
            count: records.len(),
            max: MAX_FIELD_BYTES,
        });
    }
    let mut total = BATCH_HEADER_BYTES;
    for (index, record) in records.iter().enumerate() {
        let delta = timestamp_delta(record, first.timestamp_ms);
        let body = record_body_bytes(record, delta, index as i32)?;
        body_bytes(body);
        total = total.saturating_add(varint_bytes(body as i32) + body);
    }
    if total - LOG_OVERHEAD_BYTES > MAX_FIELD_BYTES {
        return Err(BatchError::TooLarge {
            bytes: total,
            max: MAX_FIELD_BYTES + LOG_OVERHEAD_BYTES,
        });
    }
    Ok(total)
}

/// Encodes `records` as one uncompressed batch into `dst[..n]`, where `n` is
/// [`encoded_batch_bytes`]`(records)`, with offsets `base_offset..base_offset + len`.
///
/// Returns the header written, CRC included. Bytes of `dst` past `n` are left alone. Nothing
/// is allocated.
///
/// # Errors
/// Those of [`encoded_batch_bytes`], and [`BatchError::Truncated`] if `dst` is shorter than
/// `n` (then `dst` is unchanged).
///
/// # Panics
/// Only on a bug in this codec: if the records written do not fill exactly the size computed
/// for them.
pub fn encode_batch(
    dst: &mut [u8],
    base_offset: i64,
    records: &[Record<'_>],
    options: &BatchOptions,
) -> Result<BatchHeader, BatchError> {
    let total = encoded_batch_bytes(records)?;
    if dst.len() < total {
        return Err(BatchError::Truncated {
            needed: total,
            available: dst.len(),
        });
    }
    let dst = &mut dst[..total];
    let header = write_batch(
        dst,
        base_offset,
        records,
        options,
        |record, delta, index| {
            record_body_bytes(record, delta, index).expect("sized by encoded_batch_bytes")
        },
    );
    Ok(header)
}

/// Writes the batch of `records` into `dst`, which is exactly its size, taking each record's
/// body size from `body_bytes(record, timestamp_delta, offset_delta)`; returns the header
/// written, CRC included. Lengths were checked when the batch was sized.
fn write_batch(
    dst: &mut [u8],
    base_offset: i64,
    records: &[Record<'_>],
    options: &BatchOptions,
    mut body_bytes: impl FnMut(&Record<'_>, i64, i32) -> usize,
) -> BatchHeader {
    let total = dst.len();
    let base_timestamp = records[0].timestamp_ms;
    let mut max_timestamp = i64::MIN;
    let mut pos = BATCH_HEADER_BYTES;
    for (index, record) in records.iter().enumerate() {
        let delta = timestamp_delta(record, base_timestamp);
        let body = body_bytes(record, delta, index as i32);
        write_record(dst, &mut pos, record, delta, index as i32, body);
        max_timestamp = max_timestamp.max(record.timestamp_ms);
    }
    assert_eq!(pos, total, "records must fill the size computed for them");

    let mut header = BatchHeader {
        base_offset,
        batch_length: (total - LOG_OVERHEAD_BYTES) as i32,
        partition_leader_epoch: options.partition_leader_epoch,
        magic: MAGIC_V2,
        crc: 0,
        attributes: match options.timestamp_type {
            TimestampType::CreateTime => 0,
            TimestampType::LogAppendTime => TIMESTAMP_TYPE_BIT,
        },
        last_offset_delta: (records.len() - 1) as i32,
        base_timestamp,
        max_timestamp,
        producer_id: options.producer_id,
        producer_epoch: options.producer_epoch,
        base_sequence: options.base_sequence,
        records_count: records.len() as i32,
    };
    header.write(dst);
    header.crc = format::batch_crc(dst);
    dst[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&header.crc.to_be_bytes());
    header
}

/// Encodes batches into a buffer it keeps, sizing every record once (a sizing pass, then a
/// writing pass that reuses the sizes), so appends encode without allocating once the buffer
/// has grown to their batch size: [`BatchEncoder::plan`] sizes a batch, which the caller may
/// refuse before anything is written, and [`BatchEncoder::write`] encodes it.
///
/// The partition log encodes here, outside its writer lock, and only copies the finished
/// batch into the log under the lock, setting its `baseOffset` (outside the CRC).
#[derive(Debug, Default)]
pub struct BatchEncoder {
    /// Body size of each record of the planned batch.
    body_bytes: Vec<usize>,
    /// The encoded batch is `buf[..total_bytes]`; the buffer only grows.
    buf: Vec<u8>,
    /// Size of the planned batch.
    total_bytes: usize,
}

impl BatchEncoder {
    /// Sizes the batch of `records` and remembers the sizes for [`BatchEncoder::write`];
    /// returns its total size.
    ///
    /// # Errors
    /// As [`encoded_batch_bytes`].
    pub fn plan(&mut self, records: &[Record<'_>]) -> Result<usize, BatchError> {
        self.body_bytes.clear();
        self.total_bytes = 0;
        let body_bytes = &mut self.body_bytes;
        let total = size_records(records, |body| body_bytes.push(body))?;
        self.total_bytes = total;
        Ok(total)
    }

    /// Encodes the batch last planned, with `records` the same slice passed to
    /// [`BatchEncoder::plan`], and offsets from `base_offset`. Returns the batch and its
    /// header.
    ///
    /// # Panics
    /// If `records` is not the planned batch (a different record count), or nothing was
    /// planned.
    pub fn write(
        &mut self,
        records: &[Record<'_>],
        base_offset: i64,
        options: &BatchOptions,
    ) -> (&[u8], BatchHeader) {
        assert!(
            self.total_bytes > 0 && records.len() == self.body_bytes.len(),
            "BatchEncoder::write needs the records BatchEncoder::plan sized"
        );
        let total = self.total_bytes;
        if self.buf.len() < total {
            self.buf.resize(total, 0);
        }
        let dst = &mut self.buf[..total];
        let mut sizes = self.body_bytes.iter();
        let header = write_batch(dst, base_offset, records, options, |_, _, _| {
            *sizes.next().expect("one size per record")
        });
        (&self.buf[..total], header)
    }
}

fn put(dst: &mut [u8], pos: &mut usize, bytes: &[u8]) {
    dst[*pos..*pos + bytes.len()].copy_from_slice(bytes);
    *pos += bytes.len();
}

/// Writes a varint into room the sizing pass reserved.
fn put_varint(dst: &mut [u8], pos: &mut usize, value: i32) {
    write_varint(dst, pos, value).expect("room sized for the varint");
}

fn put_nullable(dst: &mut [u8], pos: &mut usize, field: Option<&[u8]>) {
    match field {
        None => put_varint(dst, pos, -1),
        Some(bytes) => {
            put_varint(dst, pos, bytes.len() as i32);
            put(dst, pos, bytes);
        }
    }
}

/// Writes one record whose body is `body` bytes at `dst[*pos..]`. Lengths were checked when
/// the batch was sized, so nothing here can fail.
fn write_record(
    dst: &mut [u8],
    pos: &mut usize,
    record: &Record<'_>,
    timestamp_delta: i64,
    offset_delta: i32,
    body: usize,
) {
    put_varint(dst, pos, body as i32);
    let body_start = *pos;
    put(dst, pos, &[0]); // attributes: unused in v2
    write_varlong(dst, pos, timestamp_delta).expect("sized");
    put_varint(dst, pos, offset_delta);
    put_nullable(dst, pos, record.key);
    put_nullable(dst, pos, record.value);
    put_varint(dst, pos, record.headers.len() as i32);
    for header in record.headers {
        put_varint(dst, pos, header.key.len() as i32);
        put(dst, pos, header.key.as_bytes());
        put_nullable(dst, pos, header.value);
    }
    assert_eq!(
        *pos - body_start,
        body,
        "record body must match its length prefix"
    );
}

#[cfg(test)]
mod tests {
    use super::super::decode::{BatchLimits, validate_batch};
    use super::*;

    fn record<'a>(key: Option<&'a [u8]>, value: Option<&'a [u8]>, ts: i64) -> Record<'a> {
        Record {
            key,
            value,
            timestamp_ms: ts,
            headers: &[],
        }
    }

    #[test]
    fn empty_input_is_rejected() {
        assert_eq!(encoded_batch_bytes(&[]), Err(BatchError::Empty));
        let mut dst = [0_u8; 128];
        assert_eq!(
            encode_batch(&mut dst, 0, &[], &BatchOptions::default()),
            Err(BatchError::Empty)
        );
    }

    #[test]
    fn smallest_record_has_known_size() {
        // length(1) attrs(1) tsDelta(1) offDelta(1) keyLen(1) valueLen(1) headers(1) = 7.
        let records = [record(None, None, 5)];
        assert_eq!(encoded_batch_bytes(&records), Ok(BATCH_HEADER_BYTES + 7));
    }

    #[test]
    fn encoded_size_is_exact() {
        let headers = [
            Header {
                key: "h1",
                value: Some(b"v"),
            },
            Header {
                key: "",
                value: None,
            },
        ];
        let value = vec![7_u8; 300];
        let records = [
            record(Some(b"key"), Some(&value), 1_700_000_000_000),
            Record {
                headers: &headers,
                ..record(None, Some(b""), 1_600_000_000_000)
            },
            record(Some(b""), None, i64::MAX),
        ];
        let n = encoded_batch_bytes(&records).unwrap();
        let mut dst = vec![0xaa_u8; n + 5];
        let header = encode_batch(&mut dst, 42, &records, &BatchOptions::default()).unwrap();
        assert_eq!(header.total_bytes(), n);
        assert_eq!(&dst[n..], &[0xaa; 5], "nothing written past the batch");
        let limits = BatchLimits {
            max_batch_bytes: n,
            require_contiguous_offsets: true,
        };
        assert_eq!(validate_batch(&dst, &limits), Ok(header));
    }

    #[test]
    fn header_fields_follow_records_and_options() {
        let records = [
            record(None, None, 100),
            record(None, None, 50),
            record(None, None, 300),
        ];
        let options = BatchOptions {
            producer_id: 9,
            producer_epoch: 3,
            base_sequence: 17,
            partition_leader_epoch: 4,
            timestamp_type: TimestampType::LogAppendTime,
        };
        let mut dst = [0_u8; 256];
        let header = encode_batch(&mut dst, 1000, &records, &options).unwrap();
        assert_eq!(BatchHeader::parse(&dst), Ok(header));
        assert_eq!(header.base_offset, 1000);
        assert_eq!(header.last_offset(), 1002);
        assert_eq!(header.base_timestamp, 100, "base is the first record's");
        assert_eq!(header.max_timestamp, 300);
        assert_eq!(header.records_count, 3);
        assert_eq!(header.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(
            (
                header.producer_id,
                header.producer_epoch,
                header.base_sequence
            ),
            (9, 3, 17)
        );
        assert_eq!(header.partition_leader_epoch, 4);
        assert_eq!(header.magic, MAGIC_V2);
        assert_eq!(header.crc, format::batch_crc(&dst[..header.total_bytes()]));
    }

    #[test]
    fn default_options_are_a_plain_producers() {
        let options = BatchOptions::default();
        assert_eq!(options.producer_id, -1);
        assert_eq!(options.producer_epoch, -1);
        assert_eq!(options.base_sequence, -1);
        assert_eq!(options.partition_leader_epoch, -1);
        assert_eq!(options.timestamp_type, TimestampType::CreateTime);
    }

    #[test]
    fn short_destination_is_truncated_and_untouched() {
        let records = [record(Some(b"k"), Some(b"v"), 0)];
        let n = encoded_batch_bytes(&records).unwrap();
        let mut dst = vec![0_u8; n - 1];
        assert_eq!(
            encode_batch(&mut dst, 0, &records, &BatchOptions::default()),
            Err(BatchError::Truncated {
                needed: n,
                available: n - 1
            })
        );
        assert!(dst.iter().all(|&b| b == 0));
    }

    #[test]
    fn known_bytes_of_one_record() {
        let headers = [Header {
            key: "h",
            value: None,
        }];
        let records = [Record {
            headers: &headers,
            ..record(Some(b"k"), Some(b"vv"), 7)
        }];
        let mut dst = [0_u8; 128];
        let header = encode_batch(&mut dst, 0, &records, &BatchOptions::default()).unwrap();
        let body: &[u8] = &[
            0x18, // length 12, zig-zag
            0x00, // attributes
            0x00, // timestamp delta
            0x00, // offset delta
            0x02, b'k', // key
            0x04, b'v', b'v', // value
            0x02, // one header
            0x02, b'h', // header key
            0x01, // null header value
        ];
        assert_eq!(&dst[BATCH_HEADER_BYTES..header.total_bytes()], body);
    }

    #[test]
    fn batch_encoder_writes_the_bytes_encode_batch_writes() {
        let headers = [Header {
            key: "h",
            value: Some(b"v"),
        }];
        let big = vec![7_u8; 300];
        let records = [
            record(Some(b"k"), Some(&big), 1_000),
            Record {
                key: None,
                value: Some(b"x"),
                timestamp_ms: 900,
                headers: &headers,
            },
            record(None, None, 5_000),
        ];
        let options = BatchOptions {
            producer_id: 3,
            ..BatchOptions::default()
        };
        let mut expected = vec![0; encoded_batch_bytes(&records).unwrap()];
        let expected_header = encode_batch(&mut expected, 11, &records, &options).unwrap();
        let mut encoder = BatchEncoder::default();
        // A larger batch first: the buffer keeps its size, the second batch must not carry
        // any of its bytes.
        let long = [record(Some(&big), Some(&big), 1); 4];
        encoder.plan(&long).unwrap();
        encoder.write(&long, 0, &options);
        assert_eq!(encoder.plan(&records).unwrap(), expected.len());
        let (bytes, header) = encoder.write(&records, 11, &options);
        assert_eq!(bytes, &expected[..]);
        assert_eq!(header, expected_header);
    }

    #[test]
    fn batch_encoder_plan_refuses_what_encoded_batch_bytes_refuses() {
        let mut encoder = BatchEncoder::default();
        assert_eq!(encoder.plan(&[]), Err(BatchError::Empty));
    }

    #[test]
    #[should_panic(expected = "needs the records BatchEncoder::plan sized")]
    fn batch_encoder_write_without_a_plan_panics() {
        let mut encoder = BatchEncoder::default();
        encoder.write(&[record(None, None, 1)], 0, &BatchOptions::default());
    }
}
