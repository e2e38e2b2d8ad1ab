//! [`IoBuf`]: owned buffers whose memory may be handed to the kernel for a write.

use bytes::Bytes;

use crate::buf::AlignedBuf;

/// Owned buffer whose memory may be handed to the kernel for a write.
///
/// [`crate::Ring::submit_write`] takes the buffer by value and keeps it in the ring's in-flight
/// table until the kernel reports the write complete, so the implementer only has to make the
/// memory itself stable.
///
/// # Safety
///
/// Implementers guarantee, for as long as the value exists:
/// - `io_ptr()` is valid for reads of `io_len()` bytes (any pointer if `io_len()` is 0);
/// - the address and length do not change when the value is moved (the bytes live on the heap
///   or in static memory, not inline in the value);
/// - nobody mutates those bytes while the value exists: the value is immutable or owns them
///   exclusively.
pub unsafe trait IoBuf: Send + 'static {
    /// The first byte to write.
    fn io_ptr(&self) -> *const u8;
    /// The number of bytes to write.
    fn io_len(&self) -> usize;
}

// SAFETY: the allocation is owned exclusively, on the heap (stable across moves), valid for
// `capacity >= len` bytes, and only mutable through `&mut AlignedBuf`, which the ring never
// hands out while the write is in flight.
unsafe impl IoBuf for AlignedBuf {
    fn io_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn io_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: `Bytes` points at immutable heap or static memory that stays alive while any handle
// to it exists; moving the handle does not move the bytes.
unsafe impl IoBuf for Bytes {
    fn io_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn io_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: a `Vec`'s buffer is heap memory owned exclusively by it (stable across moves) and
// only mutable through `&mut Vec`, which the ring never hands out while the write is in flight.
unsafe impl IoBuf for Vec<u8> {
    fn io_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn io_len(&self) -> usize {
        self.len()
    }
}
