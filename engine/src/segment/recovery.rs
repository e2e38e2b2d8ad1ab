//! The recovery scan: walks a segment's `.log` file batch by batch, validating each one (length
//! bounds, magic, CRC-32C, records), and finds where valid data ends.
//!
//! Rules (see `docs/design.md`, "Recovery"):
//! - The scan stops at the first zero-filled header (preallocated space never written), at a
//!   batch that runs past the end of the file (torn write), at any batch that fails validation,
//!   and at a batch whose offsets go backwards.
//! - No allocation is sized from a length read from disk: the scan window is sized from the
//!   configured `max_batch_bytes`, and a length field above it is itself a reason to stop.
//! - The same [`IndexBuilder`] as appends rebuilds the indexes, so a recovered segment has the
//!   entries it would have had without the crash.

use crate::buffer_pool::PooledBuf;
use crate::io::{Storage, read_at_least};
use crate::record::{
    BatchError, BatchHeader, BatchLimits, LOG_OVERHEAD_BYTES, peek_batch_bytes, validate_batch,
};
use crate::shared::Shared;
use std::io;

use super::{IndexBuilder, Segment};

/// Why a scan stopped before the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// A zero-filled header: preallocated space that was never written.
    Zeros,
    /// The last batch runs past the end of the file.
    Torn,
    /// A batch failed validation.
    Invalid(BatchError),
    /// A batch's base offset is below the previous batch's next offset.
    OffsetsBackwards { found: i64, expected: u64 },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Zeros => f.write_str("zero-filled (never written) space"),
            StopReason::Torn => f.write_str("a batch torn by the end of the file"),
            StopReason::Invalid(e) => write!(f, "an invalid batch: {e}"),
            StopReason::OffsetsBackwards { found, expected } => {
                write!(
                    f,
                    "a batch at offset {found} where offset {expected} or later was expected"
                )
            }
        }
    }
}

/// What a scan found.
#[derive(Debug)]
pub(crate) struct ScanOutcome {
    /// Bytes of valid batches from the start of the file.
    pub valid_bytes: u64,
    /// One past the last valid offset (the start offset if nothing was valid).
    pub next_offset: u64,
    /// Where and why the scan stopped short of the end of the file.
    pub stop: Option<(u64, StopReason)>,
}

/// Scans `segment`'s file of `file_len` bytes from byte `from` (a batch boundary), feeding
/// each valid batch to `builder`.
pub(crate) fn scan(
    shared: &Shared,
    segment: &Segment,
    file_len: u64,
    from: u64,
    max_batch_bytes: usize,
    builder: &mut IndexBuilder,
) -> io::Result<ScanOutcome> {
    let (storage, pool) = (shared.storage().as_ref(), shared.pool());
    let align = pool.align();
    // Room for the largest legal batch wherever it starts within a page.
    let mut window = Window::new(
        storage,
        segment,
        pool.get_at_least(max_batch_bytes + 2 * align),
        file_len,
    );
    let limits = BatchLimits {
        max_batch_bytes,
        require_contiguous_offsets: false,
    };
    let mut pos = from;
    let mut next = segment.base_offset;
    let stop = loop {
        if pos >= file_len {
            break None;
        }
        let head = window.bytes_at(pos, LOG_OVERHEAD_BYTES + 5)?;
        if head.len() >= LOG_OVERHEAD_BYTES && head[..LOG_OVERHEAD_BYTES].iter().all(|&b| b == 0) {
            break Some((pos, StopReason::Zeros));
        }
        let total = match peek_batch_bytes(head, max_batch_bytes) {
            Ok(total) => total,
            Err(BatchError::Truncated { .. }) => break Some((pos, StopReason::Torn)),
            Err(e) => break Some((pos, StopReason::Invalid(e))),
        };
        let bytes = window.bytes_at(pos, total)?;
        if bytes.len() < total {
            break Some((pos, StopReason::Torn));
        }
        let header = match validate_batch(&bytes[..total], &limits) {
            Ok(header) => header,
            Err(e) => break Some((pos, StopReason::Invalid(e))),
        };
        if header.base_offset < 0 || (header.base_offset as u64) < next {
            break Some((
                pos,
                StopReason::OffsetsBackwards {
                    found: header.base_offset,
                    expected: next,
                },
            ));
        }
        // Wrapping: an empty batch with lastOffsetDelta -1 at the segment's base offset ends
        // before the segment starts, and is out of range like any other.
        if (header.last_offset() as u64).wrapping_sub(segment.base_offset) > u64::from(u32::MAX) {
            break Some((
                pos,
                StopReason::Invalid(BatchError::MalformedRecord {
                    index: 0,
                    reason: "offset too far from the segment's base offset for a 32-bit relative offset",
                }),
            ));
        }
        builder.on_batch(segment, &header, pos);
        next = header.last_offset() as u64 + 1;
        pos += total as u64;
    };
    Ok(ScanOutcome {
        valid_bytes: stop.as_ref().map_or(pos.min(file_len), |(p, _)| *p),
        next_offset: next,
        stop,
    })
}

/// The header of the segment's first batch, if it has one (rolling by age counts from its
/// timestamp).
pub(crate) fn first_header(
    shared: &Shared,
    segment: &Segment,
    valid_bytes: u64,
) -> io::Result<Option<BatchHeader>> {
    let (storage, pool) = (shared.storage().as_ref(), shared.pool());
    if valid_bytes < crate::record::BATCH_HEADER_BYTES as u64 {
        return Ok(None);
    }
    let mut window = Window::new(storage, segment, pool.get(), valid_bytes);
    let bytes = window.bytes_at(0, crate::record::BATCH_HEADER_BYTES)?;
    Ok(BatchHeader::parse(bytes).ok())
}

/// A sliding window of aligned direct reads over a file.
struct Window<'a> {
    storage: &'a dyn Storage,
    segment: &'a Segment,
    buf: PooledBuf,
    file_len: u64,
    start: u64,
}

impl<'a> Window<'a> {
    fn new(storage: &'a dyn Storage, segment: &'a Segment, buf: PooledBuf, file_len: u64) -> Self {
        Window {
            storage,
            segment,
            buf,
            file_len,
            start: u64::MAX,
        }
    }

    /// The file's bytes from `pos`, at least `want` of them unless the file ends first.
    fn bytes_at(&mut self, pos: u64, want: usize) -> io::Result<&[u8]> {
        let end = self.start.saturating_add(self.buf.len() as u64);
        let available_end = (pos + want as u64).min(self.file_len);
        if self.start == u64::MAX || pos < self.start || available_end > end {
            self.load(pos)?;
        }
        let offset = (pos - self.start) as usize;
        let valid = ((self.file_len - self.start) as usize).min(self.buf.len());
        Ok(&self.buf.as_slice()[offset.min(valid)..valid])
    }

    /// Reads the window from `pos` (rounded down to the alignment). The file's length is
    /// known, so every byte below it must come back: a short read is continued, and a read
    /// that still ends early fails the scan instead of passing for the end of the data (which
    /// would cut acknowledged batches).
    fn load(&mut self, pos: u64) -> io::Result<()> {
        let align = self.buf.align() as u64;
        let start = pos / align * align;
        let capacity = self.buf.capacity();
        let len = capacity.min((self.file_len - start).div_ceil(align) as usize * align as usize);
        let need = len.min((self.file_len - start) as usize);
        let buf = self.buf.take();
        let (result, buf) = read_at_least(self.storage, &self.segment.file, buf, start, len, need);
        self.buf.restore(buf);
        // Invalid until the read succeeded: a failed load must not leave the old start over
        // new bytes.
        self.start = u64::MAX;
        result?;
        self.start = start;
        Ok(())
    }
}
