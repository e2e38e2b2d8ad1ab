//! Zig-zag varints as Kafka writes them inside records (protobuf's `sint32`/`sint64`).
//!
//! A value is zig-zag mapped to unsigned (0, -1, 1, -2, ... become 0, 1, 2, 3, ...) and written
//! seven bits at a time, least significant group first, with the top bit of each byte set when
//! another byte follows. A varint (32-bit) takes at most [`MAX_VARINT_BYTES`] bytes, a varlong
//! (64-bit) at most [`MAX_VARLONG_BYTES`].
//!
//! Decoding rejects a varint that runs past its maximum length or whose last byte carries bits
//! beyond the type's width, with [`BatchError::VarintOverflow`]; a slice that ends mid-varint is
//! [`BatchError::Truncated`]. Non-minimal encodings (e.g. `0x80 0x00` for 0) are accepted, as
//! Kafka accepts them.

use super::error::BatchError;

/// Longest encoding of a 32-bit varint.
pub const MAX_VARINT_BYTES: usize = 5;
/// Longest encoding of a 64-bit varlong.
pub const MAX_VARLONG_BYTES: usize = 10;

const fn zigzag32(value: i32) -> u32 {
    ((value << 1) ^ (value >> 31)) as u32
}

const fn zigzag64(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

const fn unzigzag32(raw: u32) -> i32 {
    (raw >> 1) as i32 ^ -((raw & 1) as i32)
}

const fn unzigzag64(raw: u64) -> i64 {
    (raw >> 1) as i64 ^ -((raw & 1) as i64)
}

const fn unsigned_size(raw: u64) -> usize {
    // Each byte carries 7 bits; a zero value still takes one byte.
    let bits = 64 - (raw | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Bytes that [`write_varint`] uses for `value`.
pub const fn varint_bytes(value: i32) -> usize {
    unsigned_size(zigzag32(value) as u64)
}

/// Bytes that [`write_varlong`] uses for `value`.
pub const fn varlong_bytes(value: i64) -> usize {
    unsigned_size(zigzag64(value))
}

/// Writes `value` as a zig-zag varint at `dst[*pos..]` and advances `pos` past it.
///
/// # Errors
/// [`BatchError::Truncated`] if `dst` has no room for it; `dst` and `pos` are then unchanged.
pub fn write_varint(dst: &mut [u8], pos: &mut usize, value: i32) -> Result<(), BatchError> {
    write_unsigned(dst, pos, u64::from(zigzag32(value)))
}

/// Writes `value` as a zig-zag varlong at `dst[*pos..]` and advances `pos` past it.
///
/// # Errors
/// [`BatchError::Truncated`] if `dst` has no room for it; `dst` and `pos` are then unchanged.
pub fn write_varlong(dst: &mut [u8], pos: &mut usize, value: i64) -> Result<(), BatchError> {
    write_unsigned(dst, pos, zigzag64(value))
}

fn write_unsigned(dst: &mut [u8], pos: &mut usize, mut raw: u64) -> Result<(), BatchError> {
    let needed = pos.saturating_add(unsigned_size(raw));
    if needed > dst.len() {
        return Err(BatchError::Truncated {
            needed,
            available: dst.len(),
        });
    }
    while raw >= 0x80 {
        dst[*pos] = (raw as u8) | 0x80;
        raw >>= 7;
        *pos += 1;
    }
    dst[*pos] = raw as u8;
    *pos += 1;
    Ok(())
}

/// Reads a zig-zag varint from `src[*pos..]` and advances `pos` past it.
///
/// # Errors
/// [`BatchError::Truncated`] if `src` ends before the varint does;
/// [`BatchError::VarintOverflow`] (at the varint's first byte) if it is longer than
/// [`MAX_VARINT_BYTES`] or its value does not fit 32 bits. `pos` is unchanged on error.
pub fn read_varint(src: &[u8], pos: &mut usize) -> Result<i32, BatchError> {
    let raw = read_unsigned(src, pos, MAX_VARINT_BYTES, 32)?;
    Ok(unzigzag32(raw as u32))
}

/// Reads a zig-zag varlong from `src[*pos..]` and advances `pos` past it.
///
/// # Errors
/// [`BatchError::Truncated`] if `src` ends before the varlong does;
/// [`BatchError::VarintOverflow`] (at the varlong's first byte) if it is longer than
/// [`MAX_VARLONG_BYTES`] or its value does not fit 64 bits. `pos` is unchanged on error.
pub fn read_varlong(src: &[u8], pos: &mut usize) -> Result<i64, BatchError> {
    let raw = read_unsigned(src, pos, MAX_VARLONG_BYTES, 64)?;
    Ok(unzigzag64(raw))
}

fn read_unsigned(
    src: &[u8],
    pos: &mut usize,
    max_bytes: usize,
    width_bits: u32,
) -> Result<u64, BatchError> {
    let start = *pos;
    let mut raw = 0_u64;
    for i in 0..max_bytes {
        let at = start.saturating_add(i);
        let Some(&byte) = src.get(at) else {
            return Err(BatchError::Truncated {
                needed: at.saturating_add(1),
                available: src.len(),
            });
        };
        let shift = 7 * i as u32;
        let payload = u64::from(byte & 0x7f);
        // The last allowed byte may only carry the bits left in the type's width.
        if width_bits - shift < 7 && payload >> (width_bits - shift) != 0 {
            return Err(BatchError::VarintOverflow { position: start });
        }
        raw |= payload << shift;
        if byte & 0x80 == 0 {
            *pos = at + 1;
            return Ok(raw);
        }
    }
    Err(BatchError::VarintOverflow { position: start })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_varint(value: i32) {
        let mut buf = [0_u8; MAX_VARINT_BYTES];
        let mut pos = 0;
        write_varint(&mut buf, &mut pos, value).unwrap();
        assert_eq!(pos, varint_bytes(value), "size of {value}");
        let mut read_pos = 0;
        assert_eq!(read_varint(&buf[..pos], &mut read_pos), Ok(value));
        assert_eq!(read_pos, pos);
    }

    fn round_trip_varlong(value: i64) {
        let mut buf = [0_u8; MAX_VARLONG_BYTES];
        let mut pos = 0;
        write_varlong(&mut buf, &mut pos, value).unwrap();
        assert_eq!(pos, varlong_bytes(value), "size of {value}");
        let mut read_pos = 0;
        assert_eq!(read_varlong(&buf[..pos], &mut read_pos), Ok(value));
        assert_eq!(read_pos, pos);
    }

    #[test]
    fn varint_round_trips_boundary_values() {
        for value in [
            0,
            -1,
            1,
            -64,
            63,
            64,
            -65,
            8191,
            -8192,
            8192,
            i32::from(i16::MAX),
            i32::MAX,
            i32::MIN,
            i32::MAX - 1,
            i32::MIN + 1,
        ] {
            round_trip_varint(value);
        }
    }

    #[test]
    fn varlong_round_trips_boundary_values() {
        for value in [
            0,
            -1,
            1,
            63,
            -64,
            64,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
            i64::MAX,
            i64::MIN,
            i64::MAX - 1,
            i64::MIN + 1,
        ] {
            round_trip_varlong(value);
        }
    }

    #[test]
    fn sizes_match_kafka() {
        // Values from Kafka's ByteUtilsTest (sizeOfVarint / sizeOfVarlong).
        assert_eq!(varint_bytes(0), 1);
        assert_eq!(varint_bytes(-1), 1);
        assert_eq!(varint_bytes(63), 1);
        assert_eq!(varint_bytes(64), 2);
        assert_eq!(varint_bytes(i32::MAX), 5);
        assert_eq!(varint_bytes(i32::MIN), 5);
        assert_eq!(varlong_bytes(i64::MAX), 10);
        assert_eq!(varlong_bytes(i64::MIN), 10);
        assert_eq!(varlong_bytes(i64::from(i32::MAX)), 5);
    }

    #[test]
    fn known_encodings() {
        let mut buf = [0_u8; 5];
        let mut pos = 0;
        write_varint(&mut buf, &mut pos, -1).unwrap();
        write_varint(&mut buf, &mut pos, 150).unwrap();
        assert_eq!(&buf[..pos], &[0x01, 0xac, 0x02]);
    }

    #[test]
    fn every_value_in_a_sweep_round_trips() {
        for shift in 0..31 {
            for delta in [-1, 0, 1] {
                let v = (1_i32 << shift).wrapping_add(delta);
                round_trip_varint(v);
                round_trip_varint(-v);
            }
        }
        for shift in 0..63 {
            for delta in [-1, 0, 1] {
                let v = (1_i64 << shift).wrapping_add(delta);
                round_trip_varlong(v);
                round_trip_varlong(-v);
            }
        }
    }

    #[test]
    fn too_many_bytes_is_overflow() {
        let six = [0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(
            read_varint(&six, &mut 0),
            Err(BatchError::VarintOverflow { position: 0 })
        );
        let eleven = [0x80; 11];
        let mut pos = 0;
        assert_eq!(
            read_varlong(&eleven, &mut pos),
            Err(BatchError::VarintOverflow { position: 0 })
        );
        assert_eq!(pos, 0, "position is unchanged on error");
    }

    #[test]
    fn value_beyond_width_is_overflow() {
        // Fifth byte of a varint may carry 4 bits only; 0x10 sets bit 32.
        let varint = [0xff, 0xff, 0xff, 0xff, 0x10];
        let mut pos = 0;
        assert_eq!(
            read_varint(&varint, &mut pos),
            Err(BatchError::VarintOverflow { position: 0 })
        );
        // Largest legal fifth byte.
        assert_eq!(
            read_varint(&[0xff, 0xff, 0xff, 0xff, 0x0f], &mut 0),
            Ok(i32::MIN)
        );
        // Tenth byte of a varlong may carry 1 bit only.
        let mut varlong = [0xff_u8; 10];
        varlong[9] = 0x02;
        assert_eq!(
            read_varlong(&varlong, &mut 0),
            Err(BatchError::VarintOverflow { position: 0 })
        );
        varlong[9] = 0x01;
        assert_eq!(read_varlong(&varlong, &mut 0), Ok(i64::MIN));
    }

    #[test]
    fn overflow_reports_start_position() {
        let bytes = [0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
        let mut pos = 1;
        assert_eq!(
            read_varint(&bytes, &mut pos),
            Err(BatchError::VarintOverflow { position: 1 })
        );
    }

    #[test]
    fn ending_mid_varint_is_truncated() {
        let bytes = [0x80, 0x80];
        let mut pos = 0;
        assert_eq!(
            read_varint(&bytes, &mut pos),
            Err(BatchError::Truncated {
                needed: 3,
                available: 2
            })
        );
        assert_eq!(
            read_varlong(&[], &mut 0),
            Err(BatchError::Truncated {
                needed: 1,
                available: 0
            })
        );
        assert_eq!(
            read_varint(&[0x01], &mut 5),
            Err(BatchError::Truncated {
                needed: 6,
                available: 1
            })
        );
    }

    #[test]
    fn writing_past_the_end_is_truncated_and_writes_nothing() {
        let mut buf = [0_u8; 2];
        let mut pos = 1;
        assert_eq!(
            write_varint(&mut buf, &mut pos, 64),
            Err(BatchError::Truncated {
                needed: 3,
                available: 2
            })
        );
        assert_eq!((buf, pos), ([0, 0], 1));
    }
}
