//! The read path: fetch whole batches by offset with a byte budget, read records, and find an
//! offset by timestamp.
//!
//! Where bytes come from, in order: the read cache (a slice, no copy), the active segment's
//! tail or frozen-but-unwritten chunks (copied or sliced under the writer lock; only for data
//! not yet on disk), and finally an aligned direct read of `read_ahead_bytes` that is put into
//! the cache, so a sequential consumer's next fetches hit the cache.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::{Log, LogInner};
use crate::cache::Origin;
use crate::error::ReadError;
use crate::io::read_at_least;
use crate::record::{
    BATCH_HEADER_BYTES, BatchError, BatchHeader, MIN_BATCH_LENGTH, check_batch_crc, records,
};
use crate::segment::Segment;

/// Whole batches returned by [`Log::fetch`], exactly as stored (Kafka's fetch response
/// records).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedBatches {
    /// The batches' bytes; empty when nothing below the high watermark is at or after the
    /// fetch offset (the fetch offset is the high watermark, or only a gap left by compaction
    /// lies between them).
    pub bytes: Bytes,
    /// The offset to fetch next: one past the last returned batch.
    pub next_fetch_offset: u64,
    /// The high watermark when the fetch ran ([`Log::high_watermark`]): the log end offset
    /// under `None` durability, the end of what reached the durability under `Write` and
    /// `Sync`. Returned batches end below it.
    pub high_watermark: u64,
}

/// One record, owned, as [`Log::read_records`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRecord {
    /// The record's offset.
    pub offset: u64,
    /// The record's timestamp in milliseconds.
    pub timestamp_ms: i64,
    /// The key, or `None` for a null key.
    pub key: Option<Bytes>,
    /// The value, or `None` for a null value (a tombstone).
    pub value: Option<Bytes>,
    /// The headers, in order.
    pub headers: Vec<(String, Option<Bytes>)>,
}

impl Log {
    /// Whole batches from the one holding `offset`, up to `max_bytes` but always at least one
    /// batch, even a larger one, as Kafka does. A fetch may return fewer bytes than
    /// `max_bytes` (at a segment end, or where cached ranges end); fetch again from
    /// `next_fetch_offset`. Only records below the high watermark are returned
    /// ([`Log::high_watermark`]): under `Write` and `Sync` durability a record is visible once
    /// it reached that durability, so a consumer never reads what a crash could take back.
    ///
    /// # Errors
    /// [`ReadError::OffsetOutOfRange`] outside `[start_offset, next_offset]`; read errors;
    /// [`ReadError::Corrupt`] when stored bytes are not a batch.
    pub fn fetch(&self, offset: u64, max_bytes: usize) -> Result<FetchedBatches, ReadError> {
        self.inner.fetch(offset, max_bytes)
    }

    /// The records from `offset` on, decoded, within about `max_bytes` of batches (at least one
    /// batch).
    ///
    /// # Errors
    /// As [`Log::fetch`], and [`ReadError::Corrupt`] for a batch that does not decode.
    pub fn read_records(
        &self,
        offset: u64,
        max_bytes: usize,
    ) -> Result<Vec<ReadRecord>, ReadError> {
        let fetched = self.inner.fetch(offset, max_bytes)?;
        let mut out = Vec::new();
        let mut rest = fetched.bytes.clone();
        while !rest.is_empty() {
            let header = BatchHeader::parse(&rest).map_err(|e| self.inner.corrupt_at(offset, e))?;
            let batch = rest.split_to(header.total_bytes().min(rest.len()));
            let iter = records(&batch).map_err(|e| self.inner.corrupt_at(offset, e))?;
            for record in iter {
                let record = record.map_err(|e| self.inner.corrupt_at(offset, e))?;
                if (record.offset as u64) < offset {
                    continue;
                }
                let mut headers = Vec::with_capacity(record.header_count());
                for h in record.headers() {
                    let h = h.map_err(|e| self.inner.corrupt_at(offset, e))?;
                    headers.push((h.key.to_string(), h.value.map(|v| batch.slice_ref(v))));
                }
                out.push(ReadRecord {
                    offset: record.offset as u64,
                    timestamp_ms: record.timestamp_ms,
                    key: record.key.map(|k| batch.slice_ref(k)),
                    value: record.value.map(|v| batch.slice_ref(v)),
                    headers,
                });
            }
        }
        Ok(out)
    }

    /// The earliest offset below the high watermark whose record timestamp is at least
    /// `timestamp_ms` (Kafka's ListOffsets by timestamp), or `None` if every record below it
    /// is older. As Kafka does for a consumer, records at or above the high watermark
    /// ([`Log::high_watermark`]) are not considered: an offset that fetches do not serve yet is
    /// never pointed at.
    ///
    /// # Errors
    /// Read errors, or [`ReadError::Corrupt`].
    pub fn offset_for_timestamp(&self, timestamp_ms: i64) -> Result<Option<u64>, ReadError> {
        // Loaded first: bytes below it are published, as for a fetch.
        let high_watermark = self.inner.high_watermark();
        let segments: Vec<Arc<Segment>> = self
            .inner
            .segments
            .read()
            .expect("segments lock poisoned")
            .range(..high_watermark)
            .map(|(_, segment)| Arc::clone(segment))
            .collect();
        for segment in segments {
            if segment.max_timestamp() < timestamp_ms {
                continue;
            }
            let found =
                self.inner
                    .offset_for_timestamp_in(&segment, timestamp_ms, high_watermark)?;
            if let Some(offset) = found {
                return Ok(Some(offset));
            }
        }
        Ok(None)
    }
}

impl LogInner {
    /// What a read at `offset` starts from: the high watermark, and the segment holding
    /// `offset` (or the next one, past a gap), `None` when nothing below the high watermark is
    /// at or after it.
    ///
    /// # Errors
    /// [`ReadError::OffsetOutOfRange`] outside `[start_offset, next_offset]`.
    pub(super) fn segment_to_read(
        &self,
        offset: u64,
    ) -> Result<(u64, Option<Arc<Segment>>), ReadError> {
        // The high watermark before the log end: a record below it is below the end too.
        let end = self.high_watermark();
        let log_end = self.next_offset.load(std::sync::atomic::Ordering::Acquire);
        let start = self.start_offset.load(std::sync::atomic::Ordering::Acquire);
        if offset < start || offset > log_end {
            return Err(ReadError::OffsetOutOfRange {
                requested: offset,
                start,
                end: log_end,
            });
        }
        if offset >= end {
            return Ok((end, None));
        }
        let found = self.segment_for(offset);
        // Retention may have deleted the segment holding `offset` since `start` was loaded, and
        // `segment_for` then returned a later one: that would skip records without a word.
        // Retention moves the start under the segments lock `segment_for` took, so this load
        // sees any deletion that lookup saw.
        let start = self.start_offset.load(std::sync::atomic::Ordering::Acquire);
        if offset < start {
            return Err(ReadError::OffsetOutOfRange {
                requested: offset,
                start,
                end,
            });
        }
        Ok((end, found))
    }

    fn fetch(&self, offset: u64, max_bytes: usize) -> Result<FetchedBatches, ReadError> {
        let (end, found) = self.segment_to_read(offset)?;
        let empty = FetchedBatches {
            bytes: Bytes::new(),
            next_fetch_offset: offset,
            high_watermark: end,
        };
        let Some(segment) = found else {
            return Ok(empty);
        };
        let limit = segment.data_bytes();
        let want = max_bytes.clamp(
            BATCH_HEADER_BYTES,
            self.config.read_ahead_bytes.max(max_bytes.min(64 << 20)),
        );
        let mut cursor = Cursor::new(self, &segment, limit, want);
        cursor.miss = Miss::Sequential;
        let Some(position) = cursor.locate(offset)? else {
            return Ok(empty);
        };
        let view = cursor.view_from(position)?;
        let Some((bytes, last_offset)) =
            self.whole_batches(&segment, position, &view, max_bytes, end)?
        else {
            return Ok(empty);
        };
        Ok(FetchedBatches {
            bytes,
            next_fetch_offset: last_offset + 1,
            high_watermark: end,
        })
    }

    /// The segment holding `offset`, or the next one if `offset` falls in a gap.
    pub(super) fn segment_for(&self, offset: u64) -> Option<Arc<Segment>> {
        let segments = self.segments.read().expect("segments lock poisoned");
        let floor = segments.range(..=offset).next_back().map(|(_, s)| s);
        match floor {
            Some(segment) if offset < segment.next_offset() => Some(Arc::clone(segment)),
            _ => segments
                .range(offset.saturating_add(1)..)
                .map(|(_, s)| s)
                .find(|s| s.next_offset() > s.base_offset)
                .cloned(),
        }
    }

    /// Whole batches at the start of `view` (which starts at `position`) within `max_bytes`,
    /// at least one, and the last offset they hold; none at or past `high_watermark` (the one
    /// the fetch read: later appends are left for the next fetch, so `high_watermark` stays
    /// consistent). `None` when even the first batch is at or past it: `segment_for` sends an
    /// offset in a gap (the end of a sealed segment that compaction emptied) to the next
    /// segment, which may be the active one, above the high watermark.
    fn whole_batches(
        &self,
        segment: &Segment,
        position: u64,
        view: &Bytes,
        max_bytes: usize,
        high_watermark: u64,
    ) -> Result<Option<(Bytes, u64)>, ReadError> {
        let mut end = 0usize;
        let mut last_offset = None;
        while view.len() - end >= BATCH_HEADER_BYTES {
            let header = self.header_in(segment, position + end as u64, &view[end..])?;
            // By the last offset: the high watermark always falls on a batch boundary, and an
            // empty batch (lastOffsetDelta -1, as compaction may leave one) ends before its own
            // base offset, so its base can equal the high watermark while it lies below it.
            if header.last_offset() as u64 >= high_watermark {
                break;
            }
            let total = header.total_bytes();
            if end + total > view.len() || (end > 0 && end + total > max_bytes) {
                assert!(end > 0, "view_from returns at least one whole batch");
                break;
            }
            end += total;
            last_offset = Some(header.last_offset() as u64);
        }
        assert!(
            view.len() >= BATCH_HEADER_BYTES,
            "view_from returns at least one whole batch"
        );
        Ok(last_offset.map(|last| (view.slice(..end), last)))
    }

    /// Parses and sanity-checks the batch header at `bytes[0]` (found at `position`).
    pub(super) fn header_in(
        &self,
        segment: &Segment,
        position: u64,
        bytes: &[u8],
    ) -> Result<BatchHeader, ReadError> {
        let corrupt = |source| self.corrupt_batch(segment, position, source);
        let header = BatchHeader::parse(bytes).map_err(corrupt)?;
        // The format's bounds, never `max_batch_bytes`: that limit is for new appends, and a
        // batch written under a larger one is valid. Callers read at most to the segment's
        // valid data and report a batch that runs past it as truncated.
        if header.batch_length < MIN_BATCH_LENGTH {
            return Err(corrupt(BatchError::LengthOutOfRange {
                length: i64::from(header.batch_length),
                min: i64::from(MIN_BATCH_LENGTH),
                max: i64::from(i32::MAX),
            }));
        }
        // The recovery scan's offset rule: only bytes reached through a damaged index break it,
        // and a last offset of at least 0 keeps `last + 1` from overflowing. Offsets at or past
        // the segment's end are not its own either: a read-only opener (another process) still
        // reading a segment that the writer's retention deleted and a roll reused as a spare
        // (`spares.rs`) finds the new segment's batches there, and must not serve them.
        let last = header.last_offset();
        if header.base_offset < 0
            || last < 0
            || (last as u64).wrapping_sub(segment.base_offset) > u64::from(u32::MAX)
            || last as u64 >= segment.next_offset()
        {
            return Err(corrupt(BatchError::OffsetsOutsideSegment {
                base_offset: header.base_offset,
                last_offset: last,
                segment_base_offset: segment.base_offset,
            }));
        }
        Ok(header)
    }

    /// [`ReadError::Corrupt`] for the batch of `segment` at `position`.
    #[expect(
        clippy::unused_self,
        reason = "a method of the log, like every other step of a fetch"
    )]
    pub(super) fn corrupt_batch(
        &self,
        segment: &Segment,
        position: u64,
        source: BatchError,
    ) -> ReadError {
        ReadError::Corrupt {
            path: segment.log_path(),
            position,
            source,
        }
    }

    fn corrupt_at(&self, offset: u64, source: BatchError) -> ReadError {
        let path = self
            .segment_for(offset)
            .map_or_else(|| self.dir.clone(), |s| s.log_path());
        ReadError::Corrupt {
            path,
            position: 0,
            source,
        }
    }

    /// The first offset of `segment` below `high_watermark` whose timestamp is at least
    /// `timestamp_ms`.
    fn offset_for_timestamp_in(
        &self,
        segment: &Arc<Segment>,
        timestamp_ms: i64,
        high_watermark: u64,
    ) -> Result<Option<u64>, ReadError> {
        let from_offset = segment
            .time_index
            .read()
            .expect("index lock poisoned")
            .lookup(timestamp_ms)
            .map_or(segment.base_offset, |e| {
                // Saturating, as in `IndexBuilder::resume`: the base comes from a file name.
                segment
                    .base_offset
                    .saturating_add(u64::from(e.relative_offset))
            });
        let limit = segment.data_bytes();
        let mut cursor = Cursor::new(self, segment, limit, self.config.read_ahead_bytes);
        let Some(mut position) = cursor.locate(from_offset)? else {
            return Ok(None);
        };
        while position < limit {
            let head = cursor.bytes(position, BATCH_HEADER_BYTES)?;
            let header = self.header_in(segment, position, &head)?;
            if header.base_offset as u64 >= high_watermark {
                // Offsets only grow from here: nothing later is below the high watermark.
                return Ok(None);
            }
            if header.max_timestamp >= timestamp_ms {
                let batch = cursor.bytes(position, header.total_bytes())?;
                let iter = records(&batch).map_err(|e| ReadError::Corrupt {
                    path: segment.log_path(),
                    position,
                    source: e,
                })?;
                for record in iter {
                    let record = record.map_err(|e| ReadError::Corrupt {
                        path: segment.log_path(),
                        position,
                        source: e,
                    })?;
                    if record.timestamp_ms >= timestamp_ms {
                        return Ok(Some(record.offset as u64));
                    }
                }
            }
            position += header.total_bytes() as u64;
        }
        Ok(None)
    }

    /// Calls `visit` with every batch of `segment` (its position and bytes, CRC-checked) until
    /// it returns `Break`.
    pub(crate) fn for_each_batch<E: From<ReadError>>(
        &self,
        segment: &Segment,
        mut visit: impl FnMut(u64, &Bytes) -> Result<std::ops::ControlFlow<()>, E>,
    ) -> Result<(), E> {
        let limit = segment.data_bytes();
        let mut cursor = Cursor::new(self, segment, limit, self.config.read_ahead_bytes);
        cursor.miss = Miss::Sequential;
        // As in `header_in`: the segment bounds a stored batch, not today's `max_batch_bytes`.
        let limits = crate::record::BatchLimits {
            max_batch_bytes: usize::MAX,
            require_contiguous_offsets: false,
        };
        let mut position = 0;
        while position < limit {
            let head = cursor.bytes(position, BATCH_HEADER_BYTES)?;
            let total = self.header_in(segment, position, &head)?.total_bytes();
            let batch = cursor.bytes(position, total)?;
            crate::record::validate_batch(&batch, &limits).map_err(|source| {
                ReadError::Corrupt {
                    path: segment.log_path(),
                    position,
                    source,
                }
            })?;
            if visit(position, &batch)?.is_break() {
                break;
            }
            position += total as u64;
        }
        Ok(())
    }

    /// Cheaply available bytes of `segment` from `pos` (at least one, at most to `limit`);
    /// `miss` says what a miss of the cache may do.
    fn view(
        &self,
        segment: &Segment,
        pos: u64,
        want: usize,
        limit: u64,
        min_read: usize,
        miss: Miss,
    ) -> Result<Bytes, ReadError> {
        let map = segment.map.read().expect("map lock poisoned").clone();
        if let Some(map) = map {
            // mmap path: a slice of the mapping, below its published end.
            let end = limit.min(map.published() as u64);
            let len = (want as u64).min(end.saturating_sub(pos)) as usize;
            if let Some(bytes) = map.bytes(pos as usize, len) {
                return Ok(bytes);
            }
        }
        if !segment.is_sealed()
            && pos >= segment.disk_bytes()
            && let Some(bytes) = self.writer_memory(segment, pos, want, limit)
        {
            return Ok(bytes);
        }
        if let Some(hit) = self.shared.cache().get(self.id, segment.id, pos) {
            let end = hit.end().min(limit);
            return Ok(hit
                .data
                .slice((pos - hit.start) as usize..(end - hit.start) as usize));
        }
        // Under `Write` and `Sync` the tail is on disk as soon as an append is acknowledged, but
        // it is not in the cache until it freezes: a consumer tailing the log would otherwise
        // do a direct read of `read_ahead_bytes` per fetch.
        if !segment.is_sealed()
            && let Some(bytes) = self.writer_memory(segment, pos, want, limit)
        {
            return Ok(bytes);
        }
        if miss == Miss::Sequential
            && self.config.read_ahead_depth > 0
            && self.shared.storage().reads_async()
            && let Some(bytes) = self.read_ahead(segment, pos, want, limit)?
        {
            return Ok(bytes);
        }
        let at_batch = miss != Miss::Unchecked;
        self.read_from_disk(segment, pos, want, limit, min_read, at_batch)
    }

    /// The bytes of the active segment at `pos` that the writer holds in memory (the tail,
    /// copied, or a frozen chunk whose write has not completed, sliced), if `segment` is still
    /// the active one and they are there.
    fn writer_memory(&self, segment: &Segment, pos: u64, want: usize, limit: u64) -> Option<Bytes> {
        let w = self.lock_writer();
        if w.active.base_offset != segment.base_offset {
            return None;
        }
        if let Some(bytes) = w.tail_bytes(pos, want.min((limit - pos) as usize)) {
            return Some(bytes);
        }
        w.unwritten.iter().find_map(|(start, bytes)| {
            let end = start + bytes.len() as u64;
            (*start <= pos && pos < end)
                .then(|| bytes.slice((pos - start) as usize..(end.min(limit) - start) as usize))
        })
    }

    /// One aligned direct read of `want` bytes, at least `min_read`, from `pos`. When a batch starts
    /// at `pos` (`at_batch`), the whole batches read are checked (frame and CRC) and cached,
    /// from `pos` to the end of the last whole one: a cached range never holds bytes that were
    /// not checked, and a batch never straddles two ranges read from disk (a point read of it
    /// is then a slice, not a copy stitched together). A batch larger than the read is read
    /// again whole. Bytes read from elsewhere in a batch are returned uncached.
    ///
    /// # Errors
    /// [`ReadError::Io`] for a failed or short read; [`ReadError::Corrupt`] when the batch at
    /// `pos` fails its check (a later one that fails is left out of the cache, and its own
    /// read reports it).
    fn read_from_disk(
        &self,
        segment: &Segment,
        pos: u64,
        want: usize,
        limit: u64,
        min_read: usize,
        at_batch: bool,
    ) -> Result<Bytes, ReadError> {
        let on_disk = limit.min(segment.disk_bytes());
        let align = self.shared.align() as u64;
        let start = pos / align * align;
        let wanted_end = (pos + want as u64).min(on_disk).div_ceil(align) * align;
        let len = (wanted_end - start).max(min_read as u64) as usize;
        let pool = self.shared.pool();
        let mut buf = pool.get_at_least(len);
        let aligned = buf.take();
        let len = len.min(aligned.capacity());
        // Every byte of the read below `on_disk` was written, so fewer is an error, never the
        // end of the data.
        let need = (on_disk.saturating_sub(start) as usize).min(len);
        let storage = self.shared.storage().as_ref();
        let (result, aligned) = read_at_least(storage, &segment.file, aligned, start, len, need);
        buf.restore(aligned);
        let read = result.map_err(|source| ReadError::Io {
            op: "read",
            path: segment.log_path(),
            source,
        })?;
        let valid = (read as u64).min(on_disk.saturating_sub(start)) as usize;
        if start + valid as u64 <= pos {
            return Err(ReadError::Io {
                op: "read",
                path: segment.log_path(),
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "byte {pos} is not on disk (read {read} bytes from {start}, {on_disk} on disk)"
                    ),
                ),
            });
        }
        let buffer_bytes = buf.capacity();
        let from = (pos - start) as usize;
        let filled = Bytes::from_owner(buf).slice(from..valid);
        if !at_batch {
            return Ok(filled);
        }
        let checked = match self.checked_batches(segment, pos, &filled)? {
            Checked::Batches(len) => len,
            // The first batch is larger than the read: read it whole.
            Checked::Larger(total) if pos + total as u64 <= on_disk && total > filled.len() => {
                return self.read_from_disk(segment, pos, total, limit, min_read, true);
            }
            // Cut off by the end of the data: the caller reports it.
            Checked::Larger(_) => return Ok(filled),
        };
        let bytes = self.shared.cache().insert_from_buffer(
            self.id,
            segment.id,
            pos,
            &filled.slice(..checked),
            buffer_bytes,
            Origin::Read,
        );
        Ok(bytes)
    }

    /// Checks the whole batches at the start of `bytes` (read from disk at `position` of
    /// `segment`): their frame and CRC. Returns how many bytes they take, up to the first that
    /// fails, or, when not even the first is whole, its size.
    ///
    /// # Errors
    /// [`ReadError::Corrupt`] when the first batch fails its check.
    pub(super) fn checked_batches(
        &self,
        segment: &Segment,
        position: u64,
        bytes: &[u8],
    ) -> Result<Checked, ReadError> {
        let mut end = 0;
        while bytes.len() - end >= BATCH_HEADER_BYTES {
            let at = position + end as u64;
            let total = match self.header_in(segment, at, &bytes[end..]) {
                Ok(header) => header.total_bytes(),
                Err(e) if end == 0 => return Err(e),
                Err(_) => break,
            };
            if total > bytes.len() - end {
                if end == 0 {
                    return Ok(Checked::Larger(total));
                }
                break;
            }
            match check_batch_crc(&bytes[end..]) {
                Ok(_) => end += total,
                Err(source) if end == 0 => return Err(self.corrupt_batch(segment, at, source)),
                Err(_) => break,
            }
        }
        if end == 0 {
            // Less than a header: the end of the data, or a batch cut off.
            return Ok(Checked::Larger(BATCH_HEADER_BYTES));
        }
        Ok(Checked::Batches(end))
    }
}

/// What [`LogInner::checked_batches`] found.
pub(super) enum Checked {
    /// Whole batches that passed, taking this many bytes.
    Batches(usize),
    /// Not even the first batch is whole: it takes this many bytes.
    Larger(usize),
}

/// What a read from disk on a miss of the cache may do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Miss {
    /// `pos` is not known to start a batch: the bytes read are returned unchecked, uncached.
    Unchecked,
    /// A batch starts at `pos`: the whole batches read are checked and cached (see
    /// [`LogInner::read_from_disk`]).
    Checked,
    /// As `Checked`, for a fetch: served through read-ahead ([`LogInner::read_ahead`]).
    Sequential,
}

/// Walks a segment's bytes, reusing the last view while it covers what is asked.
pub(super) struct Cursor<'a> {
    log: &'a LogInner,
    segment: &'a Segment,
    limit: u64,
    want: usize,
    view_start: u64,
    view: Bytes,
    /// Whether `view` may serve more than a batch header: false for one read around a batch
    /// that failed its check (see [`Cursor::cover`]).
    checked: bool,
    /// The least a read from disk reads: `read_ahead_bytes`, or 0 for a point read, which
    /// reads only what it asks for (see [`Cursor::for_point_read`]).
    min_read: usize,
    /// What a miss at a batch boundary may do: [`Miss::Sequential`] for a fetch's cursor, whose
    /// misses go through read-ahead (`read_ahead.rs`); point reads and timestamp lookups jump
    /// around and read only what they need ([`Miss::Checked`]).
    miss: Miss,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(log: &'a LogInner, segment: &'a Segment, limit: u64, want: usize) -> Self {
        Cursor {
            log,
            segment,
            limit,
            want,
            view_start: 0,
            view: Bytes::new(),
            checked: true,
            min_read: log.config.read_ahead_bytes,
            miss: Miss::Checked,
        }
    }

    /// A cursor whose reads from disk are the `want` bytes asked for, not `read_ahead_bytes`:
    /// a point read of one batch reads the pages that hold it.
    pub(super) fn for_point_read(
        log: &'a LogInner,
        segment: &'a Segment,
        limit: u64,
        want: usize,
    ) -> Self {
        Cursor {
            min_read: 0,
            ..Cursor::new(log, segment, limit, want)
        }
    }

    /// `len` contiguous bytes at `pos` (fewer only where the segment's data ends).
    fn bytes(&mut self, pos: u64, len: usize) -> Result<Bytes, ReadError> {
        let (from, len) = self.cover(pos, len)?;
        Ok(self.view.slice(from..from + len))
    }

    /// As [`Cursor::bytes`], borrowed from the view: no `Bytes` slice (two atomic operations)
    /// per call, for the header hops of a lookup.
    pub(super) fn peek(&mut self, pos: u64, len: usize) -> Result<&[u8], ReadError> {
        let (from, len) = self.cover(pos, len)?;
        Ok(&self.view[from..from + len])
    }

    /// Makes the view cover `len` bytes at `pos` (fewer only where the segment's data ends);
    /// returns where they start in it and how many there are.
    ///
    /// A batch header alone (a lookup's hop) is read even from a batch that failed its check
    /// on the way from disk, through a view that is not cached and serves nothing longer: a
    /// damaged batch fails the reads that need it, not the lookups that pass it.
    fn cover(&mut self, pos: u64, len: usize) -> Result<(usize, usize), ReadError> {
        let len = len.min((self.limit.saturating_sub(pos)) as usize);
        let view_end = self.view_start + self.view.len() as u64;
        let header_only = len <= BATCH_HEADER_BYTES;
        if pos < self.view_start || pos + len as u64 > view_end || !(self.checked || header_only) {
            let want = self.want.max(len);
            (self.view, self.checked) = match self.log.view(
                self.segment,
                pos,
                want,
                self.limit,
                self.min_read,
                self.miss,
            ) {
                Ok(view) => (view, true),
                Err(ReadError::Corrupt { .. }) if header_only => (
                    self.log.view(
                        self.segment,
                        pos,
                        want,
                        self.limit,
                        self.min_read,
                        Miss::Unchecked,
                    )?,
                    false,
                ),
                Err(e) => return Err(e),
            };
            self.view_start = pos;
            if self.view.len() < len {
                self.view = self.stitch(pos, len)?;
            }
        }
        Ok(((pos - self.view_start) as usize, len))
    }

    /// The whole batch at `pos`, exactly its bytes, and its header.
    ///
    /// # Errors
    /// As [`Cursor::view_from`].
    pub(super) fn batch(&mut self, pos: u64) -> Result<(Bytes, BatchHeader), ReadError> {
        let (view, header) = self.view_with_header(pos)?;
        Ok((view.slice(..header.total_bytes()), header))
    }

    /// A view from `pos` holding at least the whole batch there.
    fn view_from(&mut self, pos: u64) -> Result<Bytes, ReadError> {
        self.view_with_header(pos).map(|(view, _)| view)
    }

    /// [`Cursor::view_from`], and the header of the batch at `pos`.
    fn view_with_header(&mut self, pos: u64) -> Result<(Bytes, BatchHeader), ReadError> {
        let (log, segment) = (self.log, self.segment);
        let header = log.header_in(segment, pos, self.peek(pos, BATCH_HEADER_BYTES)?)?;
        let total = header.total_bytes();
        let available = self.bytes(pos, total)?.len();
        if available < total {
            // Recovered data holds whole batches; one that runs past it was reached through a
            // damaged index.
            return Err(ReadError::Corrupt {
                path: self.segment.log_path(),
                position: pos,
                source: BatchError::Truncated {
                    needed: total,
                    available,
                },
            });
        }
        let from = (pos - self.view_start) as usize;
        Ok((self.view.slice(from..), header))
    }

    /// Copies `len` bytes at `pos` together from several views (a batch that straddles two
    /// cached ranges).
    fn stitch(&self, pos: u64, len: usize) -> Result<Bytes, ReadError> {
        let mut out = BytesMut::with_capacity(len);
        while out.len() < len {
            let at = pos + out.len() as u64;
            let part = self.log.view(
                self.segment,
                at,
                len - out.len(),
                self.limit,
                self.min_read,
                Miss::Unchecked,
            )?;
            if part.is_empty() {
                break;
            }
            let take = part.len().min(len - out.len());
            out.extend_from_slice(&part[..take]);
        }
        Ok(out.freeze())
    }

    /// Position of the batch holding `offset` (or the first batch after it), or `None` past the
    /// segment's end.
    pub(super) fn locate(&mut self, offset: u64) -> Result<Option<u64>, ReadError> {
        let relative = self.segment.relative(offset);
        let mut pos = self
            .segment
            .index
            .read()
            .expect("index lock poisoned")
            .lookup(relative)
            .map_or(0, |e| u64::from(e.position));
        while pos < self.limit {
            let (log, segment) = (self.log, self.segment);
            let header = log.header_in(segment, pos, self.peek(pos, BATCH_HEADER_BYTES)?)?;
            if header.last_offset() as u64 >= offset {
                return Ok(Some(pos));
            }
            pos += header.total_bytes() as u64;
        }
        Ok(None)
    }
}
