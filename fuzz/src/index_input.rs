//! The input of `index_load`: an offset index and a time index of one segment.
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 4 | size of the segment's `.log` in bytes (big-endian) |
//! | 4 | 4 | the segment's last relative offset (big-endian) |
//! | 8 | 2 | bytes of `.index` that follow (big-endian; the rest is `.timeindex`) |
//! | 10 | … | `.index` bytes, then `.timeindex` bytes |

const HEADER_BYTES: usize = 10;

/// A parsed `index_load` input.
#[derive(Clone, Copy, Debug)]
pub struct IndexInput<'a> {
    /// Size of the segment's `.log` file.
    pub log_bytes: u64,
    /// The segment's last offset, relative to its base.
    pub max_relative_offset: u32,
    /// `.index` bytes.
    pub index: &'a [u8],
    /// `.timeindex` bytes.
    pub time_index: &'a [u8],
}

impl<'a> IndexInput<'a> {
    /// Reads an input laid out as in the module's table; `None` if it is too short.
    pub fn parse(data: &'a [u8]) -> Option<IndexInput<'a>> {
        let header = data.get(..HEADER_BYTES)?;
        let field = |at: usize| {
            u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let rest = &data[HEADER_BYTES..];
        let split = usize::from(u16::from_be_bytes([header[8], header[9]])).min(rest.len());
        Some(IndexInput {
            log_bytes: u64::from(field(0)),
            max_relative_offset: field(4),
            index: &rest[..split],
            time_index: &rest[split..],
        })
    }

    /// The input bytes for these fields (the inverse of [`IndexInput::parse`]), for seeds.
    ///
    /// # Panics
    /// If `log_bytes` exceeds u32 or the offset index 65535 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(
            &u32::try_from(self.log_bytes)
                .expect("a u32 log size")
                .to_be_bytes(),
        );
        out.extend_from_slice(&self.max_relative_offset.to_be_bytes());
        let split = u16::try_from(self.index.len()).expect("an index seed under 64 KiB");
        out.extend_from_slice(&split.to_be_bytes());
        out.extend_from_slice(self.index);
        out.extend_from_slice(self.time_index);
        out
    }
}
