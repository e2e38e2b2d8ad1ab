//! Bounds-checked parsing of the records region, shared by [`super::validate_batch`] and
//! [`super::RecordIter`] so that both accept exactly the same bytes.
//!
//! Every read is checked against the end of the enclosing record (or, for the length prefix,
//! of the records region); running past it is a [`BatchError::MalformedRecord`], never a
//! panic. No length read from the bytes sizes an allocation: nothing is allocated at all.

use super::error::BatchError;
use super::varint::{read_varint, read_varlong};

/// A cursor over `bytes`, which sit at byte `base` of the batch, reading parts of record
/// `index`.
#[derive(Clone, Debug)]
pub(super) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
    index: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(bytes: &'a [u8], base: usize, index: usize) -> Self {
        Self {
            bytes,
            pos: 0,
            base,
            index,
        }
    }

    /// Bytes read so far.
    pub(super) fn consumed(&self) -> usize {
        self.pos
    }

    fn malformed(&self, reason: &'static str) -> BatchError {
        BatchError::MalformedRecord {
            index: self.index,
            reason,
        }
    }

    /// Turns a varint error relative to `bytes` into one for the batch.
    fn varint_error(&self, error: BatchError, cut_off: &'static str) -> BatchError {
        match error {
            BatchError::Truncated { .. } => self.malformed(cut_off),
            BatchError::VarintOverflow { position } => BatchError::VarintOverflow {
                position: self.base + position,
            },
            other => other,
        }
    }

    pub(super) fn varint(&mut self, cut_off: &'static str) -> Result<i32, BatchError> {
        read_varint(self.bytes, &mut self.pos).map_err(|e| self.varint_error(e, cut_off))
    }

    pub(super) fn varlong(&mut self, cut_off: &'static str) -> Result<i64, BatchError> {
        read_varlong(self.bytes, &mut self.pos).map_err(|e| self.varint_error(e, cut_off))
    }

    /// Takes the next `len` bytes, with `len` read from the bytes and not yet trusted.
    pub(super) fn take(
        &mut self,
        len: usize,
        cut_off: &'static str,
    ) -> Result<&'a [u8], BatchError> {
        let remaining = self.bytes.len() - self.pos;
        if len > remaining {
            return Err(self.malformed(cut_off));
        }
        let taken = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(taken)
    }

    /// Reads a varint length (-1 for null) and the bytes it announces.
    fn nullable(
        &mut self,
        negative: &'static str,
        cut_off: &'static str,
    ) -> Result<Option<&'a [u8]>, BatchError> {
        match self.varint(cut_off)? {
            -1 => Ok(None),
            len if len < -1 => Err(self.malformed(negative)),
            len => self.take(len as usize, cut_off).map(Some),
        }
    }

    /// Reads one record header.
    pub(super) fn header(&mut self) -> Result<(&'a str, Option<&'a [u8]>), BatchError> {
        let cut_off = "a header runs past the end of the record";
        let key_len = self.varint(cut_off)?;
        if key_len < 0 {
            return Err(self.malformed("a header key length is negative"));
        }
        let key = self.take(key_len as usize, cut_off)?;
        let key =
            std::str::from_utf8(key).map_err(|_| self.malformed("a header key is not UTF-8"))?;
        let value = self.nullable("a header value length is below -1", cut_off)?;
        Ok((key, value))
    }
}

/// One record as laid out in the batch, before offsets and timestamps are made absolute.
#[derive(Clone, Copy, Debug)]
pub(super) struct RawRecord<'a> {
    pub(super) timestamp_delta: i64,
    pub(super) offset_delta: i32,
    pub(super) key: Option<&'a [u8]>,
    pub(super) value: Option<&'a [u8]>,
    pub(super) header_count: usize,
    /// The headers' bytes, already checked to hold `header_count` well-formed headers.
    pub(super) headers: &'a [u8],
    /// Where `headers` starts in the batch.
    pub(super) headers_position: usize,
}

/// Parses record `index` at the start of `region`, which sits at byte `base` of the batch and
/// ends where the records region ends. Returns the record and the bytes it took, length
/// prefix included.
pub(super) fn parse_record(
    region: &[u8],
    base: usize,
    index: usize,
) -> Result<(RawRecord<'_>, usize), BatchError> {
    let (body, body_base, used) = record_body(region, base, index)?;
    Ok((parse_body(body, body_base, index)?, used))
}

/// The offset delta of record `index` at the start of `region` (which sits at byte `base` of
/// the batch) and the bytes the record takes, length prefix included, reading only its length,
/// attributes, timestamp delta and offset delta: skipping records with this parses none of
/// them (see [`super::RecordIter::skip_record`]).
pub(super) fn peek_record(
    region: &[u8],
    base: usize,
    index: usize,
) -> Result<(i32, usize), BatchError> {
    let (body, body_base, used) = record_body(region, base, index)?;
    let mut cursor = Cursor::new(body, body_base, index);
    cursor.take(1, "the record is too short to hold its attributes")?;
    cursor.varlong("the timestamp delta runs past the end of the record")?;
    let offset_delta = cursor.varint("the offset delta runs past the end of the record")?;
    Ok((offset_delta, used))
}

/// The body of record `index` at the start of `region` (after its length prefix), where that
/// body sits in the batch, and the bytes the record takes, length prefix included.
fn record_body(
    region: &[u8],
    base: usize,
    index: usize,
) -> Result<(&[u8], usize, usize), BatchError> {
    let mut outer = Cursor::new(region, base, index);
    let len = outer.varint("the record length runs past the end of the batch")?;
    if len < 0 {
        return Err(outer.malformed("the record length is negative"));
    }
    let body = outer.take(len as usize, "the record runs past the end of the batch")?;
    let body_base = base + outer.consumed() - body.len();
    Ok((body, body_base, outer.consumed()))
}

fn parse_body(body: &[u8], base: usize, index: usize) -> Result<RawRecord<'_>, BatchError> {
    let mut cursor = Cursor::new(body, base, index);
    // Record attributes are unused in v2 and ignored on read, as Kafka does.
    cursor.take(1, "the record is too short to hold its attributes")?;
    let timestamp_delta = cursor.varlong("the timestamp delta runs past the end of the record")?;
    let offset_delta = cursor.varint("the offset delta runs past the end of the record")?;
    let key = cursor.nullable(
        "the key length is below -1",
        "the key runs past the end of the record",
    )?;
    let value = cursor.nullable(
        "the value length is below -1",
        "the value runs past the end of the record",
    )?;
    let header_count = cursor.varint("the header count runs past the end of the record")?;
    if header_count < 0 {
        return Err(cursor.malformed("the header count is negative"));
    }
    let headers_start = cursor.consumed();
    // Each header takes at least 2 bytes, so this loop ends within the record's bytes.
    for _ in 0..header_count {
        cursor.header()?;
    }
    if cursor.consumed() != body.len() {
        return Err(cursor.malformed("the record has bytes after its last header"));
    }
    Ok(RawRecord {
        timestamp_delta,
        offset_delta,
        key,
        value,
        header_count: header_count as usize,
        headers: &body[headers_start..],
        headers_position: base + headers_start,
    })
}
