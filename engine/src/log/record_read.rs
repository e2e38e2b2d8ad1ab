//! Record-level reads: one record by offset, as slices of the stored batch's bytes.
//!
//! A Raft log, a "read the message at offset" tool or a point lookup wants one record, not the
//! batch of a hundred around it that [`Log::fetch`] returns. [`Log::read_record`] finds the
//! batch as a fetch does (the offset index, then header hops borrowed from the cached view
//! without a `Bytes` slice per hop), then the record through the batch's position table
//! ([`crate::cache::record_positions`]): the first point read of a batch checks it whole, CRC
//! included, and lists where its records start; later ones binary-search that list and parse
//! only their record. The result holds the batch's bytes (a slice of the cache or of the
//! writer's memory: no copy), so its key, value and headers borrow from them.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use super::reader::Cursor;
use super::{Log, LogInner};
use crate::cache::record_positions::PositionTable;
use crate::error::ReadError;
use crate::record::{BATCH_HEADER_BYTES, BatchError, BatchHeader, HeaderIter, record_at};
use crate::segment::Segment;

/// One stored record, read in place by [`Log::read_record`]: its key, value and headers are
/// slices of the batch that holds it.
#[derive(Clone, Debug)]
pub struct StoredRecord {
    batch: Bytes,
    /// Where the record starts in `batch` and its number there (for [`record_at`]).
    position: usize,
    index: usize,
    offset: u64,
    timestamp_ms: i64,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
}

impl StoredRecord {
    /// The record's offset.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The record's timestamp in milliseconds (for a `LogAppendTime` batch, the batch's
    /// `maxTimestamp`, as Kafka reports it).
    pub fn timestamp_ms(&self) -> i64 {
        self.timestamp_ms
    }

    /// The key, `None` for a null key.
    pub fn key(&self) -> Option<&[u8]> {
        self.key.clone().map(|range| &self.batch[range])
    }

    /// The value, `None` for a null value (a tombstone).
    pub fn value(&self) -> Option<&[u8]> {
        self.value.clone().map(|range| &self.batch[range])
    }

    /// The key as shared bytes (a slice of the batch, no copy).
    pub fn key_bytes(&self) -> Option<Bytes> {
        self.key.clone().map(|range| self.batch.slice(range))
    }

    /// The value as shared bytes (a slice of the batch, no copy).
    pub fn value_bytes(&self) -> Option<Bytes> {
        self.value.clone().map(|range| self.batch.slice(range))
    }

    /// The record's headers, in order, borrowing from the batch.
    pub fn headers(&self) -> HeaderIter<'_> {
        record_at(&self.batch, self.position, self.index)
            .expect("the record parsed when it was read, and its bytes are immutable")
            .headers()
    }

    /// The whole stored batch that holds the record, exactly as on disk.
    pub fn batch(&self) -> &Bytes {
        &self.batch
    }
}

/// Where `part` (a subslice of `whole`) lies in it.
fn range_in(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

impl Log {
    /// The record at `offset`, read in place (see [`StoredRecord`]), or `None` if no record
    /// below the high watermark has that offset: it is at or past the high watermark, or
    /// compaction removed it. The same visibility as [`Log::fetch`]: under `Write` and `Sync`
    /// durability a record is readable once it reached that durability.
    ///
    /// # Errors
    /// As [`Log::fetch`]: [`ReadError::OffsetOutOfRange`] outside `[start_offset,
    /// next_offset]`, read errors, and [`ReadError::Corrupt`] for stored bytes that are not a
    /// batch or a record that does not parse.
    pub fn read_record(&self, offset: u64) -> Result<Option<StoredRecord>, ReadError> {
        self.inner.read_record(offset)
    }
}

impl LogInner {
    fn read_record(&self, offset: u64) -> Result<Option<StoredRecord>, ReadError> {
        let (high_watermark, found) = self.segment_to_read(offset)?;
        let Some(segment) = found else {
            return Ok(None);
        };
        let limit = segment.data_bytes();
        let Some((mut cursor, position)) = self.locate_point(&segment, limit, offset)? else {
            return Ok(None);
        };
        let (batch, header) = cursor.batch(position)?;
        let corrupt = |source| self.corrupt_batch(&segment, position, source);
        // The high watermark falls on a batch boundary (see `whole_batches`).
        if header.last_offset() as u64 >= high_watermark || (header.base_offset as u64) > offset {
            return Ok(None);
        }
        let (record_position, index) =
            match self.record_position(&segment, position, &batch, &header, offset) {
                Ok(Some(found)) => found,
                Ok(None) => return Ok(None),
                Err(source) => return Err(corrupt(source)),
            };
        let record = record_at(&batch, record_position, index).map_err(corrupt)?;
        if record.offset as u64 != offset {
            return Ok(None);
        }
        let key = record.key.map(|key| range_in(&batch, key));
        let value = record.value.map(|value| range_in(&batch, value));
        let timestamp_ms = record.timestamp_ms;
        Ok(Some(StoredRecord {
            batch,
            position: record_position,
            index,
            offset,
            timestamp_ms,
            key,
            value,
        }))
    }

    /// The batch of `segment` (below `limit`) holding `offset`: a cursor over it and its
    /// position, reading from disk only what the offset index says holds it.
    ///
    /// The index's entries hold a batch's last offset and start position, so the first entry
    /// at or after `offset` is the batch holding it whenever every batch is indexed (batches
    /// of at least `index_interval_bytes`), and the next entry's position is where it ends: one
    /// read of exactly that batch. Otherwise `offset` lies in a batch between the entry before
    /// and that one, and one read of that span finds it. Past the last entry (the end of the
    /// segment), the usual read-ahead.
    fn locate_point<'a>(
        &'a self,
        segment: &'a Segment,
        limit: u64,
        offset: u64,
    ) -> Result<Option<(Cursor<'a>, u64)>, ReadError> {
        let relative = segment.relative(offset);
        let (ceiling, floor) = {
            let index = segment.index.read().expect("index lock poisoned");
            (index.ceiling(relative), index.lookup(relative))
        };
        if let Some((entry, next)) = ceiling {
            let position = u64::from(entry.position);
            let end = next.map_or(limit, u64::from).min(limit);
            if position < end {
                let mut cursor =
                    Cursor::for_point_read(self, segment, limit, (end - position) as usize);
                let header = self.header_in(
                    segment,
                    position,
                    cursor.peek(position, BATCH_HEADER_BYTES)?,
                )?;
                if header.base_offset as u64 <= offset && offset <= header.last_offset() as u64 {
                    return Ok(Some((cursor, position)));
                }
                let from = floor.map_or(0, |e| u64::from(e.position));
                let mut cursor = Cursor::for_point_read(
                    self,
                    segment,
                    limit,
                    position.saturating_sub(from) as usize,
                );
                return Ok(cursor.locate(offset)?.map(|found| (cursor, found)));
            }
        }
        let mut cursor = Cursor::new(self, segment, limit, self.config.read_ahead_bytes);
        Ok(cursor.locate(offset)?.map(|found| (cursor, found)))
    }

    /// Where the record at `offset` starts in `batch` (the batch of `segment` at `position`,
    /// described by `header`) and its number there, from the batch's position table, built
    /// and kept on the first point read of the batch; `None` if the batch does not hold it.
    fn record_position(
        &self,
        segment: &Segment,
        position: u64,
        batch: &[u8],
        header: &BatchHeader,
        offset: u64,
    ) -> Result<Option<(usize, usize)>, BatchError> {
        let positions = self.shared.record_positions();
        let table = match positions.get(self.id, segment.id, position) {
            Some(table) if table.matches(header) => table,
            _ => {
                let table = Arc::new(PositionTable::build(batch)?);
                positions.insert(self.id, segment.id, position, Arc::clone(&table));
                table
            }
        };
        Ok(table.find(offset as i64))
    }
}
