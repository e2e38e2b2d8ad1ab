//! The recovery scan: walks a segment's `.log` file batch by batch, validating each one (length
//! bounds, magic, CRC-32C, records), and finds where valid data ends.
//!
//! Rules (see `docs/design.md`, "Recovery"):
//! - The scan stops at the first zero-filled header (preallocated space never written), at a
//!   batch that runs past the end of the file (torn write), at any batch that fails validation,
//!   and at a batch whose offsets go backwards.
//! - A batch is checked against the format's own limits only: its length is in the format's
//!   range and fits in the file, then magic, CRC-32C, records, offsets. Limits from
//!   [`crate::Config`] (`max_batch_bytes`, `segment_bytes`, ...) bound new appends only: a batch
//!   written under an earlier, larger limit is as valid as any other.
//! - No allocation is sized from a length read from disk beyond what the file holds: a length
//!   that runs past the end of the file stops the scan (a torn write) before anything is read
//!   for it.
//! - The same [`IndexBuilder`] as appends rebuilds the indexes, so a recovered segment has the
//!   entries it would have had without the crash.

use crate::buffer_pool::{BufferPool, PooledBuf};
use crate::io::{Storage, read_at_least};
use crate::record::{
    BatchError, BatchHeader, BatchLimits, LOG_OVERHEAD_BYTES, peek_batch_bytes, validate_batch,
};
use std::io;
use std::sync::Arc;

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

/// A range of a segment file that recovery did not keep although it was not never-written
/// (zero-filled) space: a torn or invalid batch and everything after it. A writing open cut
/// it from the file; a read-only open only stopped reading there.
///
/// After an unclean shutdown a torn last write is expected and harmless (it was never
/// acknowledged under `Write` or `Sync`), but a cut is always reported, never silent: a damaged
/// batch in the middle of acknowledged data looks the same from here. [`crate::Log::recovery_cuts`]
/// lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryCut {
    /// The segment's `.log` file.
    pub path: std::path::PathBuf,
    /// Where valid data ended: the first byte not kept.
    pub from_byte: u64,
    /// The file's size before the cut.
    pub to_byte: u64,
    /// Why the scan stopped there.
    pub reason: String,
    /// The log's next offset after the cut: the next append takes it.
    pub next_offset: u64,
    /// Whether the bytes were removed from the file (a writing open) or left (read-only).
    pub written: bool,
}

impl std::fmt::Display for RecoveryCut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "recovery {} bytes [{}, {}) of {}: {}; appends continue at offset {}",
            if self.written { "cut" } else { "ignored" },
            self.from_byte,
            self.to_byte,
            self.path.display(),
            self.reason,
            self.next_offset
        )
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
    storage: &dyn Storage,
    pool: &Arc<BufferPool>,
    segment: &Segment,
    file_len: u64,
    from: u64,
    builder: &mut IndexBuilder,
) -> io::Result<ScanOutcome> {
    let mut window = Window::new(storage, segment, pool, file_len);
    let limits = BatchLimits {
        max_batch_bytes: usize::MAX,
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
        // The format's own range, and the bytes the file holds from here (see the module
        // docs): a length running past the end of the file is out of range.
        let total = match peek_batch_bytes(head, (file_len - pos) as usize) {
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
    storage: &dyn Storage,
    pool: &Arc<BufferPool>,
    segment: &Segment,
    valid_bytes: u64,
) -> io::Result<Option<BatchHeader>> {
    if valid_bytes < crate::record::BATCH_HEADER_BYTES as u64 {
        return Ok(None);
    }
    let mut window = Window::new(storage, segment, pool, valid_bytes);
    let bytes = window.bytes_at(0, crate::record::BATCH_HEADER_BYTES)?;
    Ok(BatchHeader::parse(bytes).ok())
}

/// A sliding window of aligned direct reads over a file.
struct Window<'a> {
    storage: &'a dyn Storage,
    segment: &'a Segment,
    pool: &'a Arc<BufferPool>,
    buf: PooledBuf,
    file_len: u64,
    start: u64,
}

impl<'a> Window<'a> {
    fn new(
        storage: &'a dyn Storage,
        segment: &'a Segment,
        pool: &'a Arc<BufferPool>,
        file_len: u64,
    ) -> Self {
        Window {
            storage,
            segment,
            pool,
            buf: pool.get(),
            file_len,
            start: u64::MAX,
        }
    }

    /// The file's bytes from `pos`, at least `want` of them unless the file ends first.
    /// `want` is at most what the file holds from `pos` (callers check a batch's length
    /// against the file first), so the window never grows past the file.
    fn bytes_at(&mut self, pos: u64, want: usize) -> io::Result<&[u8]> {
        let end = self.start.saturating_add(self.buf.len() as u64);
        let available_end = (pos + want as u64).min(self.file_len);
        if self.start == u64::MAX || pos < self.start || available_end > end {
            // Room for `want` bytes wherever `pos` falls within a page.
            let needed = (available_end - pos) as usize + 2 * self.buf.align();
            if needed > self.buf.capacity() {
                self.buf = self.pool.get_at_least(needed);
            }
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
