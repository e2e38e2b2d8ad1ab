//! Reading batches from untrusted bytes: sizing ([`peek_batch_bytes`]), full checking
//! ([`validate_batch`], and [`validate_producer_batch`] for a batch about to be appended),
//! offset assignment ([`set_base_offset`]) and zero-copy record
//! iteration ([`records`]).
//!
//! Nothing here allocates, and no length read from the bytes is trusted before it has been
//! checked against the bytes actually present.

use std::iter::FusedIterator;

use super::error::BatchError;
use super::format::{
    self, BATCH_HEADER_BYTES, BATCH_LENGTH_OFFSET, BatchHeader, LOG_OVERHEAD_BYTES, MAGIC_OFFSET,
    MAGIC_V2, MIN_BATCH_LENGTH, TimestampType,
};
use super::reader::{Cursor, RawRecord, parse_record, peek_record};

/// Kafka's default `message.max.bytes`: the largest batch a broker accepts out of the box.
pub const DEFAULT_MAX_BATCH_BYTES: usize = 1_048_588;

/// What [`validate_batch`] accepts beyond the format's own rules.
///
/// The [`Default`] allows [`DEFAULT_MAX_BATCH_BYTES`] and any strictly increasing offset
/// deltas (as compaction leaves them).
#[derive(Clone, Copy, Debug)]
pub struct BatchLimits {
    /// Largest total batch size accepted, header included.
    pub max_batch_bytes: usize,
    /// Require offset deltas to be exactly `0..records_count`, as producers send them;
    /// otherwise they need only increase strictly.
    pub require_contiguous_offsets: bool,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            require_contiguous_offsets: false,
        }
    }
}

/// Reads the total size of the batch starting at `bytes` from its first 12 bytes, so that a
/// recovery scan knows how much to read before calling [`validate_batch`].
///
/// Checks that `batchLength` is at least [`MIN_BATCH_LENGTH`] and the total at most
/// `max_batch_bytes`, and, when byte 16 is present, that the magic byte is [`MAGIC_V2`]. The
/// result is bounded by `max_batch_bytes`, so it is safe to size a read or a buffer with.
///
/// # Errors
/// [`BatchError::Truncated`] if `bytes` is shorter than [`LOG_OVERHEAD_BYTES`];
/// [`BatchError::LengthOutOfRange`] if `batchLength` is out of bounds;
/// [`BatchError::BadMagic`] if byte 16 is present and not 2.
pub fn peek_batch_bytes(bytes: &[u8], max_batch_bytes: usize) -> Result<usize, BatchError> {
    if bytes.len() < LOG_OVERHEAD_BYTES {
        return Err(BatchError::Truncated {
            needed: LOG_OVERHEAD_BYTES,
            available: bytes.len(),
        });
    }
    let length = format::read_i32(bytes, BATCH_LENGTH_OFFSET);
    let max_length = max_batch_bytes
        .saturating_sub(LOG_OVERHEAD_BYTES)
        .min(i32::MAX as usize) as i64;
    if length < MIN_BATCH_LENGTH || i64::from(length) > max_length {
        return Err(BatchError::LengthOutOfRange {
            length: i64::from(length),
            min: i64::from(MIN_BATCH_LENGTH),
            max: max_length,
        });
    }
    if let Some(&magic) = bytes.get(MAGIC_OFFSET)
        && magic as i8 != MAGIC_V2
    {
        return Err(BatchError::BadMagic { magic: magic as i8 });
    }
    Ok(length as usize + LOG_OVERHEAD_BYTES)
}

/// Checks the frame of the batch at the start of `bytes`: length bounds, all its bytes
/// present, magic, no compression. Returns the header and the batch's bytes.
fn frame(bytes: &[u8], max_batch_bytes: usize) -> Result<(BatchHeader, &[u8]), BatchError> {
    let total = peek_batch_bytes(bytes, max_batch_bytes)?;
    if bytes.len() < total {
        return Err(BatchError::Truncated {
            needed: total,
            available: bytes.len(),
        });
    }
    let header = BatchHeader::parse(bytes)?;
    Ok((header, &bytes[..total]))
}

fn check_uncompressed(header: &BatchHeader) -> Result<(), BatchError> {
    match header.compression_codec() {
        0 => Ok(()),
        codec => Err(BatchError::Compressed { codec }),
    }
}

fn check_count(header: &BatchHeader) -> Result<usize, BatchError> {
    usize::try_from(header.records_count).map_err(|_| BatchError::NegativeRecordCount {
        count: header.records_count,
    })
}

/// Checks the frame (length bounds, magic, all bytes present) and the CRC-32C of the batch at
/// the start of `bytes`, and nothing of its records: what a read from disk checks before the
/// bytes enter the read cache. More bytes may follow the batch.
///
/// # Errors
/// As [`peek_batch_bytes`], [`BatchError::Truncated`] if the batch is cut off, and
/// [`BatchError::CrcMismatch`].
pub fn check_batch_crc(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
    let (header, batch) = frame(bytes, usize::MAX)?;
    let computed = format::batch_crc(batch);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    Ok(header)
}

/// Fully validates the batch at the start of `bytes`; more bytes may follow it.
///
/// Checks, in order: length bounds and magic (as [`peek_batch_bytes`]), that the whole batch
/// is present, the CRC-32C, that it is uncompressed, that `recordsCount` is not negative, that
/// `baseOffset + lastOffsetDelta` does not overflow, and that exactly `recordsCount` records
/// fill the records region, each parsing within its own length with well-formed varints and
/// UTF-8 header keys. Offset deltas must increase strictly (with `require_contiguous_offsets`,
/// be exactly `0..recordsCount`) and the last must equal `lastOffsetDelta` (an empty batch's
/// `lastOffsetDelta` must be at least -1).
/// `maxTimestamp` is not checked against the records here; [`validate_producer_batch`] does.
///
/// # Errors
/// The first problem found, as a [`BatchError`]; truncated input is
/// [`BatchError::Truncated`], whatever else may be wrong with the bytes that are present.
pub fn validate_batch(bytes: &[u8], limits: &BatchLimits) -> Result<BatchHeader, BatchError> {
    validate(bytes, limits).map(|(header, _)| header)
}

/// Validates a batch as a producer sends it, before it is appended: everything
/// [`validate_batch`] checks with `require_contiguous_offsets`, and then the timestamps. The
/// timestamp type must be `CreateTime` (only a broker sets `LogAppendTime`), and when the batch
/// has records, `baseTimestamp` must not exceed `maxTimestamp`, no record's timestamp delta
/// may overflow from `baseTimestamp`, and `maxTimestamp` must be the largest record timestamp:
/// the time index and time-based retention trust it.
///
/// # Errors
/// Those of [`validate_batch`], then [`BatchError::LogAppendTimeFromProducer`],
/// [`BatchError::MaxTimestampBeforeBase`], [`BatchError::TimestampOverflow`] or
/// [`BatchError::MaxTimestampMismatch`].
pub fn validate_producer_batch(
    bytes: &[u8],
    max_batch_bytes: usize,
) -> Result<BatchHeader, BatchError> {
    let limits = BatchLimits {
        max_batch_bytes,
        require_contiguous_offsets: true,
    };
    let (header, timestamps) = validate(bytes, &limits)?;
    check_producer_timestamps(&header, timestamps)?;
    Ok(header)
}

fn validate(bytes: &[u8], limits: &BatchLimits) -> Result<(BatchHeader, Timestamps), BatchError> {
    let (header, batch) = frame(bytes, limits.max_batch_bytes)?;
    let computed = format::batch_crc(batch);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    check_uncompressed(&header)?;
    let count = check_count(&header)?;
    if header
        .base_offset
        .checked_add(i64::from(header.last_offset_delta))
        .is_none()
    {
        return Err(BatchError::LastOffsetOverflow {
            base_offset: header.base_offset,
            last_offset_delta: header.last_offset_delta,
        });
    }
    let timestamps = check_records(batch, &header, count, limits.require_contiguous_offsets)?;
    Ok((header, timestamps))
}

/// Record timestamps seen by [`check_records`], for the producer rules.
#[derive(Clone, Copy, Debug, Default)]
struct Timestamps {
    /// The largest record timestamp, `baseTimestamp + delta` wrapping as readers compute it;
    /// `None` for an empty batch.
    max: Option<i64>,
    /// The first record whose delta overflows from `baseTimestamp`: its index and delta.
    overflow: Option<(usize, i64)>,
}

impl Timestamps {
    fn add(&mut self, index: usize, base_timestamp: i64, delta: i64) {
        if base_timestamp.checked_add(delta).is_none() && self.overflow.is_none() {
            self.overflow = Some((index, delta));
        }
        let timestamp = base_timestamp.wrapping_add(delta);
        self.max = Some(self.max.map_or(timestamp, |max| max.max(timestamp)));
    }
}

fn check_producer_timestamps(header: &BatchHeader, seen: Timestamps) -> Result<(), BatchError> {
    if header.timestamp_type() == TimestampType::LogAppendTime {
        return Err(BatchError::LogAppendTimeFromProducer);
    }
    let Some(found) = seen.max else {
        return Ok(());
    };
    if header.max_timestamp < header.base_timestamp {
        return Err(BatchError::MaxTimestampBeforeBase {
            base_timestamp: header.base_timestamp,
            max_timestamp: header.max_timestamp,
        });
    }
    if let Some((index, delta)) = seen.overflow {
        return Err(BatchError::TimestampOverflow {
            index,
            base_timestamp: header.base_timestamp,
            delta,
        });
    }
    if found != header.max_timestamp {
        return Err(BatchError::MaxTimestampMismatch {
            declared: header.max_timestamp,
            found,
        });
    }
    Ok(())
}

fn check_records(
    batch: &[u8],
    header: &BatchHeader,
    count: usize,
    contiguous: bool,
) -> Result<Timestamps, BatchError> {
    let mut pos = BATCH_HEADER_BYTES;
    let mut last_delta = None;
    let mut timestamps = Timestamps::default();
    for index in 0..count {
        if pos == batch.len() {
            return Err(BatchError::RecordCountMismatch {
                declared: header.records_count,
                found: index,
            });
        }
        let (record, used) = parse_record(&batch[pos..], pos, index)?;
        check_offset_delta(index, record.offset_delta, last_delta, contiguous)?;
        last_delta = Some(record.offset_delta);
        timestamps.add(index, header.base_timestamp, record.timestamp_delta);
        pos += used;
    }
    if pos != batch.len() {
        return Err(count_surplus(batch, pos, header.records_count, count));
    }
    // A compacted batch keeps its lastOffsetDelta when its last records were removed (as
    // Kafka's cleaner does), so without contiguous offsets the last record may end earlier.
    let consistent = |found: i32| {
        if contiguous {
            found == header.last_offset_delta
        } else {
            found <= header.last_offset_delta
        }
    };
    match last_delta {
        Some(found) if !consistent(found) => Err(BatchError::OffsetDeltaMismatch {
            index: count - 1,
            expected: i64::from(header.last_offset_delta),
            found: i64::from(found),
        }),
        // An empty batch covers offsets up to `baseOffset + lastOffsetDelta`; below -1 that
        // would end before it starts, and a reader's next offset would go backwards.
        None if header.last_offset_delta < -1 => Err(BatchError::LastOffsetDeltaOutOfRange {
            last_offset_delta: header.last_offset_delta,
        }),
        _ => Ok(timestamps),
    }
}

/// Counts the records left after the declared ones, to report how many the batch holds.
fn count_surplus(batch: &[u8], mut pos: usize, declared: i32, mut found: usize) -> BatchError {
    while pos < batch.len() {
        match parse_record(&batch[pos..], pos, found) {
            Ok((_, used)) => pos += used,
            Err(error) => return error,
        }
        found += 1;
    }
    BatchError::RecordCountMismatch { declared, found }
}

fn check_offset_delta(
    index: usize,
    found: i32,
    previous: Option<i32>,
    contiguous: bool,
) -> Result<(), BatchError> {
    let found = i64::from(found);
    let (expected, ok) = if contiguous {
        (index as i64, found == index as i64)
    } else {
        let least = previous.map_or(0, |p| i64::from(p) + 1);
        (least, found >= least)
    };
    if ok {
        Ok(())
    } else {
        Err(BatchError::OffsetDeltaMismatch {
            index,
            expected,
            found,
        })
    }
}

/// Overwrites the `baseOffset` of the batch at the start of `batch`. The field lies outside
/// the CRC, so a valid batch stays valid.
///
/// # Panics
/// If `batch` is shorter than 8 bytes.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    assert!(
        batch.len() >= 8,
        "baseOffset needs 8 bytes, the batch slice has {}",
        batch.len()
    );
    batch[..8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Iterates the records of the batch at the start of `batch`, borrowing keys, values and
/// headers from it.
///
/// Checks the frame only (length bounds, magic, all bytes present, no compression, count not
/// negative), not the CRC: call [`validate_batch`] first on bytes that are not yet trusted.
/// Each record is still parsed with the same bounds checks, so bad bytes give an `Err` item,
/// never a panic.
///
/// # Errors
/// [`BatchError::Truncated`] if the header or the batch it announces is cut off, and
/// [`BatchError::LengthOutOfRange`], [`BatchError::BadMagic`], [`BatchError::Compressed`] or
/// [`BatchError::NegativeRecordCount`] for a header whose records cannot be read.
pub fn records(batch: &[u8]) -> Result<RecordIter<'_>, BatchError> {
    let (header, batch) = frame(batch, usize::MAX)?;
    check_uncompressed(&header)?;
    let count = check_count(&header)?;
    Ok(RecordIter {
        region: &batch[BATCH_HEADER_BYTES..],
        pos: 0,
        index: 0,
        count,
        failed: false,
        header,
    })
}

/// The record that starts at byte `position` of `batch` as its record number `index` (a
/// [`RecordIter::position`] taken before it), parsed and checked as [`RecordIter`] does.
///
/// # Errors
/// As [`records`], and the record's own parse errors; [`BatchError::RecordCountMismatch`] if
/// the batch declares fewer than `index + 1` records or `position` is past its records.
pub fn record_at(
    batch: &[u8],
    position: usize,
    index: usize,
) -> Result<RecordView<'_>, BatchError> {
    let mut iter = records(batch)?;
    if position < BATCH_HEADER_BYTES || position - BATCH_HEADER_BYTES > iter.region.len() {
        return Err(BatchError::RecordCountMismatch {
            declared: iter.header.records_count,
            found: 0,
        });
    }
    iter.pos = position - BATCH_HEADER_BYTES;
    iter.index = index;
    iter.next().unwrap_or(Err(BatchError::RecordCountMismatch {
        declared: iter.header.records_count,
        found: index,
    }))
}

/// Iterator over the records of one batch, made by [`records`].
///
/// Yields `recordsCount` records, or stops after the first `Err`. It does not look at bytes
/// after the last declared record.
#[derive(Clone, Debug)]
pub struct RecordIter<'a> {
    region: &'a [u8],
    pos: usize,
    index: usize,
    count: usize,
    failed: bool,
    header: BatchHeader,
}

impl<'a> RecordIter<'a> {
    /// The header of the batch being iterated.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// Skips the next record, reading only its length prefix and offset delta; returns its
    /// offset and where it starts in the batch, or `None` after the last record.
    ///
    /// # Errors
    /// A record whose length or offset delta cannot be read; the iterator then yields
    /// nothing more.
    pub fn skip_record(&mut self) -> Result<Option<(i64, usize)>, BatchError> {
        let start = BATCH_HEADER_BYTES + self.pos;
        let Some((offset, used)) = self.peek_next()? else {
            return Ok(None);
        };
        self.pos += used;
        self.index += 1;
        Ok(Some((offset, start)))
    }

    /// The next record's offset and the bytes it takes, or `None` after the last record.
    fn peek_next(&mut self) -> Result<Option<(i64, usize)>, BatchError> {
        if self.failed || self.index >= self.count || self.pos >= self.region.len() {
            return Ok(None);
        }
        let base = BATCH_HEADER_BYTES + self.pos;
        match peek_record(&self.region[self.pos..], base, self.index) {
            Ok((delta, used)) => Ok(Some((
                self.header.base_offset.wrapping_add(i64::from(delta)),
                used,
            ))),
            Err(error) => {
                self.failed = true;
                Err(error)
            }
        }
    }

    /// Where the next record starts in the batch, and its index: with [`record_at`], what
    /// finds the record again.
    pub fn next_position(&self) -> (usize, usize) {
        (BATCH_HEADER_BYTES + self.pos, self.index)
    }

    fn view(&self, raw: &RawRecord<'a>) -> RecordView<'a> {
        let timestamp_ms = match self.header.timestamp_type() {
            TimestampType::CreateTime => {
                self.header.base_timestamp.wrapping_add(raw.timestamp_delta)
            }
            TimestampType::LogAppendTime => self.header.max_timestamp,
        };
        RecordView {
            offset: self
                .header
                .base_offset
                .wrapping_add(i64::from(raw.offset_delta)),
            timestamp_ms,
            key: raw.key,
            value: raw.value,
            index: self.index,
            header_count: raw.header_count,
            headers: raw.headers,
            headers_position: raw.headers_position,
        }
    }
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<RecordView<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.index >= self.count {
            return None;
        }
        if self.pos == self.region.len() {
            self.failed = true;
            return Some(Err(BatchError::RecordCountMismatch {
                declared: self.header.records_count,
                found: self.index,
            }));
        }
        let base = BATCH_HEADER_BYTES + self.pos;
        match parse_record(&self.region[self.pos..], base, self.index) {
            Ok((raw, used)) => {
                let view = self.view(&raw);
                self.pos += used;
                self.index += 1;
                Some(Ok(view))
            }
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.failed {
            (0, Some(0))
        } else {
            (0, Some(self.count - self.index))
        }
    }
}

impl FusedIterator for RecordIter<'_> {}

/// One record of a batch, borrowing from the batch's bytes.
#[derive(Clone, Copy, Debug)]
pub struct RecordView<'a> {
    /// Absolute offset: the batch's `baseOffset` plus the record's offset delta.
    pub offset: i64,
    /// Absolute timestamp in ms; for a `LogAppendTime` batch, the batch's `maxTimestamp`, as
    /// Kafka reports it.
    pub timestamp_ms: i64,
    /// Key, `None` for null.
    pub key: Option<&'a [u8]>,
    /// Value, `None` for null.
    pub value: Option<&'a [u8]>,
    index: usize,
    header_count: usize,
    headers: &'a [u8],
    headers_position: usize,
}

impl<'a> RecordView<'a> {
    /// Number of headers the record holds.
    pub fn header_count(&self) -> usize {
        self.header_count
    }

    /// The record's headers, in order, borrowing from the batch. They were checked when the
    /// record was parsed, so items are `Ok` in practice; the `Result` keeps the reading
    /// bounds-checked all the same.
    pub fn headers(&self) -> HeaderIter<'a> {
        HeaderIter {
            cursor: Cursor::new(self.headers, self.headers_position, self.index),
            remaining: self.header_count,
        }
    }
}

/// One record header, borrowing from the batch's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderView<'a> {
    /// Header key.
    pub key: &'a str,
    /// Header value, `None` for null.
    pub value: Option<&'a [u8]>,
}

/// Iterator over the headers of one record, made by [`RecordView::headers`].
#[derive(Clone, Debug)]
pub struct HeaderIter<'a> {
    cursor: Cursor<'a>,
    remaining: usize,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = Result<HeaderView<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        match self.cursor.header() {
            Ok((key, value)) => Some(Ok(HeaderView { key, value })),
            Err(error) => {
                self.remaining = 0;
                Some(Err(error))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

impl FusedIterator for HeaderIter<'_> {}

#[cfg(test)]
mod tests;
