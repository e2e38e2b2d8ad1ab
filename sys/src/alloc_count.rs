//! A global allocator that counts allocations per thread, for tests and benchmarks that check
//! that steady-state appends and fetches allocate nothing per record.
//!
//! Install it in a test binary with
//! `#[global_allocator] static ALLOC: ringlog_sys::alloc_count::CountingAllocator = CountingAllocator;`
//! and read [`thread_allocations`] (or [`thread_allocated_bytes`]) before and after the measured
//! code. Only the calling thread's allocations are counted, so background threads do not
//! disturb the figure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    // `const` initialisation: reading it never allocates, so the allocator cannot recurse.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    // Bytes asked for by those allocations (a reallocation counts its new size).
    static ALLOCATED_BYTES: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting allocations (and reallocations) per thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

/// Allocations (including reallocations) made by the current thread so far.
pub fn thread_allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Bytes requested by the current thread's allocations so far (a reallocation counts its new
/// size), so a test can show that no allocation was sized from an untrusted length.
pub fn thread_allocated_bytes() -> u64 {
    ALLOCATED_BYTES.with(Cell::get)
}

fn count(bytes: usize) {
    // `try_with`: during thread teardown the counter may already be gone; skip counting then.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    let _ = ALLOCATED_BYTES.try_with(|n| n.set(n.get().saturating_add(bytes as u64)));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds exactly as it does for `System`; counting touches only a
// thread-local `Cell`, which neither allocates nor unwinds.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract (non-zero size layout).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` through this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the rest.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
