//! An independent model of the recovery scan (`engine/src/segment/recovery.rs`), written from
//! the rules in `docs/design.md` over a plain byte slice, with no windowed reads: what the
//! engine keeps of a segment must be exactly what this keeps.
//!
//! Rules: walking from byte 0, a batch is kept if its 12-byte overhead is not all zeros, its
//! length is at least 49 and its magic is 2, all its bytes are present (the file bounds a
//! batch; the log's `max_batch_bytes` does not: it limits new appends only),
//! it validates (CRC, records, increasing offset deltas), its base offset is not negative nor
//! below the previous batch's next offset, and its last offset is within a 32-bit relative
//! offset of the segment's base. The first batch that breaks a rule ends the valid prefix.

use ringlog::record::{
    BatchHeader, BatchLimits, LOG_OVERHEAD_BYTES, peek_batch_bytes, validate_batch,
};

/// One batch the model keeps.
#[derive(Clone, Copy, Debug)]
pub struct ModelBatch {
    /// Byte position in the segment.
    pub position: usize,
    /// Size in bytes, log overhead included.
    pub total_bytes: usize,
    /// Its header.
    pub header: BatchHeader,
}

impl ModelBatch {
    /// The batch's last offset, as the engine computes it (base plus `lastOffsetDelta`).
    pub fn last_offset(&self) -> u64 {
        self.header.last_offset() as u64
    }
}

/// What the model keeps of a segment.
#[derive(Clone, Debug)]
pub struct ModelScan {
    /// The kept batches, in file order.
    pub batches: Vec<ModelBatch>,
    /// Bytes of the valid prefix.
    pub valid_bytes: usize,
    /// One past the last kept offset, at least the segment's base offset.
    pub next_offset: u64,
    /// Whether the walk stopped before the end of the bytes.
    pub stopped: bool,
}

/// Walks `log`, the bytes of the segment based at `segment_base`.
pub fn scan(log: &[u8], segment_base: u64) -> ModelScan {
    let limits = BatchLimits {
        max_batch_bytes: usize::MAX,
        require_contiguous_offsets: false,
    };
    let mut batches = Vec::new();
    let mut pos = 0;
    let mut next = segment_base;
    let stopped = loop {
        let Some(batch) = kept_batch(&log[pos.min(log.len())..], &limits, next, segment_base)
        else {
            break pos < log.len();
        };
        // Cannot overflow: the last offset is within 2^32 of a segment base below 2^63.
        next = batch.last_offset() + 1;
        batches.push(ModelBatch {
            position: pos,
            total_bytes: batch.total_bytes,
            header: batch.header,
        });
        pos += batch.total_bytes;
    };
    ModelScan {
        batches,
        valid_bytes: pos,
        next_offset: next,
        stopped,
    }
}

/// The batch at the start of `rest` if the rules keep it (`position` unset).
fn kept_batch(
    rest: &[u8],
    limits: &BatchLimits,
    next: u64,
    segment_base: u64,
) -> Option<ModelBatch> {
    if rest.is_empty() {
        return None;
    }
    if rest.len() >= LOG_OVERHEAD_BYTES && rest[..LOG_OVERHEAD_BYTES].iter().all(|&b| b == 0) {
        return None;
    }
    let total = peek_batch_bytes(rest, limits.max_batch_bytes).ok()?;
    let header = validate_batch(rest.get(..total)?, limits).ok()?;
    let base = u64::try_from(header.base_offset).ok()?;
    if base < next {
        return None;
    }
    // The relative offset of the last record must fit the indexes' 32 bits. (An empty batch
    // with lastOffsetDelta -1 at the segment's base offset ends before the segment starts, and
    // is not kept either.)
    let last = header.last_offset() as u64;
    if last.wrapping_sub(segment_base) > u64::from(u32::MAX) {
        return None;
    }
    Some(ModelBatch {
        position: 0,
        total_bytes: total,
        header,
    })
}
