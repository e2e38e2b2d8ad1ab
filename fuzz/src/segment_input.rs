//! The input of `recovery_scan`: a segment's `.log` bytes and how to lay them out.
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 1 | flags: bits 0-1 `max_batch_bytes` ([`MAX_BATCH_BYTES`]), bit 2 sealed (an empty newer segment follows), bit 3 indexed (write the index bytes and the clean-shutdown marker, so the indexes are trusted), bit 4 reseal (recompute the CRC of each whole batch) |
//! | 1 | 1 | segment base offset, an index into [`SEGMENT_BASES`] (low 3 bits) |
//! | 2 | 2 | with bit 3: bytes of `.index` that follow (big-endian) |
//! | 4 | 2 | with bit 3: bytes of `.timeindex` that follow (big-endian) |
//! | 6 | … | `.index` bytes, `.timeindex` bytes (with bit 3), then the `.log` bytes |

/// `max_batch_bytes` choices: small ones make batches straddle the scan's window often.
pub const MAX_BATCH_BYTES: [usize; 4] = [1024, 4096, 65_536, 1_048_588];
/// Segment base offsets: 0, small, around the 31- and 32-bit edges, and near the top of the
/// i64 and u64 ranges (where no batch can belong: base offsets are non-negative i64).
pub const SEGMENT_BASES: [u64; 8] = [
    0,
    1,
    1000,
    1 << 31,
    (1 << 32) - 1,
    1 << 62,
    i64::MAX as u64 - 3,
    u64::MAX - 1,
];

const SEALED: u8 = 1 << 2;
const INDEXED: u8 = 1 << 3;
const RESEAL: u8 = 1 << 4;
const HEADER_BYTES: usize = 6;

/// A parsed `recovery_scan` input.
#[derive(Clone, Debug)]
pub struct SegmentInput<'a> {
    /// `max_batch_bytes` of the log's configuration.
    pub max_batch_bytes: usize,
    /// The segment's base offset (its file name).
    pub segment_base: u64,
    /// Whether an empty newer segment follows, making this one sealed.
    pub sealed: bool,
    /// `.index` and `.timeindex` bytes, written with the clean-shutdown marker.
    pub indexes: Option<(&'a [u8], &'a [u8])>,
    /// Whether to reseal the batches' CRCs before writing.
    pub reseal: bool,
    /// The `.log` bytes.
    pub log: &'a [u8],
}

impl<'a> SegmentInput<'a> {
    /// Reads an input laid out as in the module's table; `None` if it is too short.
    pub fn parse(data: &'a [u8]) -> Option<SegmentInput<'a>> {
        let header = data.get(..HEADER_BYTES)?;
        let flags = header[0];
        let mut rest = &data[HEADER_BYTES..];
        let indexes = if flags & INDEXED == 0 {
            None
        } else {
            let index_bytes = usize::from(u16::from_be_bytes([header[2], header[3]]));
            let time_bytes = usize::from(u16::from_be_bytes([header[4], header[5]]));
            let index = rest.get(..index_bytes)?;
            let time = rest.get(index_bytes..index_bytes + time_bytes)?;
            rest = &rest[index_bytes + time_bytes..];
            Some((index, time))
        };
        Some(SegmentInput {
            max_batch_bytes: MAX_BATCH_BYTES[usize::from(flags & 0b11)],
            segment_base: SEGMENT_BASES[usize::from(header[1] & 0b111)],
            sealed: flags & SEALED != 0,
            indexes,
            reseal: flags & RESEAL != 0,
            log: rest,
        })
    }

    /// The input bytes for these fields (the inverse of [`SegmentInput::parse`]), for seeds.
    ///
    /// # Panics
    /// If `max_batch_bytes` or `segment_base` is not one of the choices, or an index is longer
    /// than 65535 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let max = MAX_BATCH_BYTES
            .iter()
            .position(|&m| m == self.max_batch_bytes)
            .expect("a max_batch_bytes choice");
        let base = SEGMENT_BASES
            .iter()
            .position(|&b| b == self.segment_base)
            .expect("a segment base choice");
        let mut flags = max as u8;
        if self.sealed {
            flags |= SEALED;
        }
        if self.reseal {
            flags |= RESEAL;
        }
        let (index, time) = self.indexes.unwrap_or((&[], &[]));
        if self.indexes.is_some() {
            flags |= INDEXED;
        }
        let mut out = vec![flags, base as u8];
        for part in [index, time] {
            let len = u16::try_from(part.len()).expect("an index seed under 64 KiB");
            out.extend_from_slice(&len.to_be_bytes());
        }
        out.extend_from_slice(index);
        out.extend_from_slice(time);
        out.extend_from_slice(self.log);
        out
    }
}
