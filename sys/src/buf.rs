//! [`AlignedBuf`]: an owned byte buffer whose address and capacity are multiples of a chosen
//! alignment, as `O_DIRECT` requires.
//!
//! Invariants kept by this module alone:
//! - `ptr` comes from `alloc_zeroed(layout)` and is freed exactly once, in `Drop`;
//! - `layout.size()` (the capacity) is a non-zero multiple of `layout.align()`;
//! - every byte in `[0, capacity)` is initialized (zeroed at allocation, only ever overwritten
//!   with initialized bytes), so `set_len` can be safe;
//! - `len <= capacity`.

use std::alloc::{self, Layout};
use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;

/// An owned, aligned, always fully initialized byte buffer.
///
/// The heap address never changes while the value lives, even when the value is moved, which
/// is what lets [`crate::Ring`] hand it to the kernel.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    layout: Layout,
}

// SAFETY: `AlignedBuf` owns its allocation exclusively (like `Vec<u8>`); no other handle to the
// memory exists, so moving it to another thread is sound.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared references only give out `&[u8]`; mutation needs `&mut self` (like `Vec<u8>`).
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// Allocates a zeroed buffer of at least `capacity` bytes, rounded up to a multiple of
    /// `align`, at an address that is a multiple of `align`. Its length starts at 0.
    ///
    /// # Panics
    ///
    /// If `align` is not a power of two, if `capacity` is 0, or if the rounded capacity does
    /// not fit a [`Layout`]. Aborts (via [`alloc::handle_alloc_error`]) if allocation fails.
    pub fn new(capacity: usize, align: usize) -> AlignedBuf {
        assert!(
            align.is_power_of_two(),
            "alignment {align} is not a power of two"
        );
        assert!(capacity > 0, "an AlignedBuf needs a capacity above 0");
        let rounded = capacity
            .checked_next_multiple_of(align)
            .expect("capacity rounded up to the alignment overflows usize");
        let layout = Layout::from_size_align(rounded, align)
            .expect("capacity and alignment do not form a valid Layout");
        // SAFETY: `layout` has a non-zero size (capacity > 0 was asserted above).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout)
        };
        AlignedBuf {
            ptr,
            len: 0,
            layout,
        }
    }

    /// The number of usable bytes: the requested capacity rounded up to the alignment.
    pub fn capacity(&self) -> usize {
        self.layout.size()
    }

    /// The alignment of the address and the capacity, in bytes.
    pub fn align(&self) -> usize {
        self.layout.align()
    }

    /// The number of bytes in use, `[0, len)`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether `len() == 0`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets the length. Safe because every byte of the capacity is always initialized; the
    /// bytes in `[old len, len)` keep whatever they last held (zero if never written).
    ///
    /// # Panics
    ///
    /// If `len > capacity()`.
    pub fn set_len(&mut self, len: usize) {
        assert!(
            len <= self.capacity(),
            "set_len({len}) exceeds the capacity {}",
            self.capacity()
        );
        self.len = len;
    }

    /// The bytes in use, `[0, len)`.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `capacity >= len` initialized bytes (module invariants),
        // and `&self` forbids mutation for the slice's lifetime.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes in use, `[0, len)`, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; `&mut self` makes this the only reference to the bytes.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// The whole capacity, `[0, capacity)`, mutably, regardless of `len`.
    pub fn full_mut(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` is valid for `capacity` initialized bytes (module invariants), and
        // `&mut self` makes this the only reference to them.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.capacity()) }
    }

    /// Appends `data` after the current length.
    ///
    /// # Panics
    ///
    /// If `len() + data.len()` would exceed `capacity()`.
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        let start = self.len;
        let end = start
            .checked_add(data.len())
            .filter(|&end| end <= self.capacity())
            .unwrap_or_else(|| {
                panic!(
                    "appending {} bytes to {start} exceeds the capacity {}",
                    data.len(),
                    self.capacity()
                )
            });
        self.full_mut()[start..end].copy_from_slice(data);
        self.len = end;
    }

    /// Sets the length to 0; the contents are kept.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The start of the allocation, for handing to the kernel.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The start of the allocation, for handing to the kernel.
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: `ptr` was allocated with `self.layout` by `alloc_zeroed` and is freed only
        // here, once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .field("align", &self.align())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::AlignedBuf;

    const fn assert_send_sync<T: Send + Sync>() {}
    const _: () = assert_send_sync::<AlignedBuf>();

    #[test]
    fn pointer_is_aligned() {
        for align in [1, 512, 4096, 65536] {
            let buf = AlignedBuf::new(100, align);
            assert_eq!(buf.as_ptr() as usize % align, 0, "align {align}");
            assert_eq!(buf.align(), align);
        }
    }

    #[test]
    fn capacity_rounds_up_to_alignment() {
        assert_eq!(AlignedBuf::new(1, 4096).capacity(), 4096);
        assert_eq!(AlignedBuf::new(4096, 4096).capacity(), 4096);
        assert_eq!(AlignedBuf::new(4097, 4096).capacity(), 8192);
        assert_eq!(AlignedBuf::new(3, 1).capacity(), 3);
    }

    #[test]
    fn starts_empty_and_zeroed() {
        let mut buf = AlignedBuf::new(8192, 4096);
        assert!(buf.is_empty());
        assert!(buf.full_mut().iter().all(|&b| b == 0));
        buf.set_len(8192);
        assert!(buf.as_slice().iter().all(|&b| b == 0));
    }

    #[test]
    fn extend_set_len_and_clear() {
        let mut buf = AlignedBuf::new(16, 16);
        buf.extend_from_slice(b"hello");
        buf.extend_from_slice(b" world");
        assert_eq!(&*buf, b"hello world");
        buf.as_mut_slice()[0] = b'H';
        buf.clear();
        assert!(buf.is_empty());
        buf.set_len(5);
        assert_eq!(buf.as_ref(), b"Hello");
    }

    #[test]
    #[should_panic(expected = "exceeds the capacity")]
    fn set_len_beyond_capacity_panics() {
        AlignedBuf::new(4096, 4096).set_len(4097);
    }

    #[test]
    #[should_panic(expected = "exceeds the capacity")]
    fn extend_beyond_capacity_panics() {
        let mut buf = AlignedBuf::new(4, 4);
        buf.extend_from_slice(&[1, 2, 3, 4, 5]);
    }

    #[test]
    #[should_panic(expected = "not a power of two")]
    fn non_power_of_two_alignment_panics() {
        let _ = AlignedBuf::new(4096, 3000);
    }

    #[test]
    #[should_panic(expected = "capacity above 0")]
    fn zero_capacity_panics() {
        let _ = AlignedBuf::new(0, 4096);
    }

    #[test]
    fn debug_omits_contents() {
        let mut buf = AlignedBuf::new(8, 8);
        buf.extend_from_slice(b"secret");
        let text = format!("{buf:?}");
        assert!(text.contains("len: 6") && !text.contains("115"), "{text}");
    }

    #[test]
    fn works_as_bytes_owner() {
        let mut buf = AlignedBuf::new(8, 8);
        buf.extend_from_slice(b"abc");
        let bytes = bytes::Bytes::from_owner(buf);
        assert_eq!(&bytes[..], b"abc");
    }
}
