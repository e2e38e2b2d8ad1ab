//! A pool of aligned I/O buffers shared by every log of a [`crate::Shared`].
//!
//! First touch of fresh memory is slow on the machines this engine targets, so write chunks and
//! read buffers are allocated once and reused. Buffers come in a few sizes (*classes*): the
//! pool's `buffer_bytes` and its doublings up to `max_buffer_bytes`, for the write chunks of
//! busy logs, which grow (see `log/writer/tail.rs`). The pool keeps at most `budget_bytes` of
//! buffers alive (handed out or idle); when a class has no idle buffer and the budget is spent,
//! an idle buffer of another class is freed to make room. Past the budget a request still
//! succeeds, so that no append ever deadlocks on memory, but the extra buffer is freed instead
//! of returned. While a class grows, a background thread touches its next buffers ahead of
//! demand (`warm.rs`).

mod warm;

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ringlog_sys::AlignedBuf;

/// Shared pool of aligned buffers in power-of-two size classes.
#[derive(Debug)]
pub struct BufferPool {
    buffer_bytes: usize,
    max_buffer_bytes: usize,
    align: usize,
    budget_bytes: usize,
    /// Idle buffers per class: `free[k]` holds buffers of `buffer_bytes << k`.
    free: Mutex<Vec<Vec<AlignedBuf>>>,
    /// Bytes of the buffers alive that count against the budget (handed out plus idle), and
    /// their number. Relaxed ordering suffices: statistics and a soft limit, never a
    /// synchronisation point.
    live_bytes: AtomicUsize,
    live: AtomicUsize,
    /// Fresh allocations per class, for the warmer's trigger.
    fresh: Vec<AtomicUsize>,
    warmer: warm::Warmer,
}

/// A buffer from a [`BufferPool`]; it goes back to the pool when dropped.
#[derive(Debug)]
pub struct PooledBuf {
    buf: Option<AlignedBuf>,
    pool: Option<Arc<BufferPool>>,
}

impl BufferPool {
    /// A pool of `buffer_bytes`-sized buffers aligned to `align`, keeping at most
    /// `budget_bytes` of them alive.
    pub fn new(buffer_bytes: usize, align: usize, budget_bytes: usize) -> Arc<Self> {
        Self::with_classes(buffer_bytes, buffer_bytes, align, budget_bytes)
    }

    /// A pool of buffers of `buffer_bytes` and its doublings up to `max_buffer_bytes` (both
    /// powers of two, `max_buffer_bytes >= buffer_bytes`), aligned to `align`, keeping at most
    /// `budget_bytes` of them alive (at least one buffer of the largest class).
    ///
    /// # Panics
    /// If the sizes are not powers of two or `max_buffer_bytes < buffer_bytes`.
    pub fn with_classes(
        buffer_bytes: usize,
        max_buffer_bytes: usize,
        align: usize,
        budget_bytes: usize,
    ) -> Arc<Self> {
        assert!(
            buffer_bytes.is_power_of_two()
                && max_buffer_bytes.is_power_of_two()
                && max_buffer_bytes >= buffer_bytes,
            "buffer classes {buffer_bytes}..={max_buffer_bytes} must be powers of two, in order"
        );
        let classes = (max_buffer_bytes / buffer_bytes).trailing_zeros() as usize + 1;
        Arc::new(BufferPool {
            buffer_bytes,
            max_buffer_bytes,
            align,
            budget_bytes: budget_bytes.max(max_buffer_bytes),
            free: Mutex::new((0..classes).map(|_| Vec::new()).collect()),
            live_bytes: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            fresh: (0..classes).map(|_| AtomicUsize::new(0)).collect(),
            warmer: warm::Warmer::default(),
        })
    }

    /// Size of the smallest buffers of the pool (what [`BufferPool::get`] hands out).
    pub fn buffer_bytes(&self) -> usize {
        self.buffer_bytes
    }

    /// Size of the largest class.
    pub fn max_buffer_bytes(&self) -> usize {
        self.max_buffer_bytes
    }

    /// The budget: the most bytes of buffers the pool keeps alive.
    pub fn budget_bytes(&self) -> usize {
        self.budget_bytes
    }

    /// Alignment of every buffer of the pool.
    pub fn align(&self) -> usize {
        self.align
    }

    /// Buffers alive (handed out or idle) that count against the budget.
    pub fn live_buffers(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Bytes of the buffers alive (handed out or idle) that count against the budget.
    pub fn live_bytes(&self) -> usize {
        self.live_bytes.load(Ordering::Relaxed)
    }

    /// A buffer of the pool's smallest size, empty (`len() == 0`); its bytes are not zeroed.
    pub fn get(self: &Arc<Self>) -> PooledBuf {
        self.get_class(0)
    }

    /// A buffer of at least `bytes`: the smallest class that holds them, or, beyond the largest
    /// class, a one-off allocation freed on drop (batches larger than a chunk are rare).
    pub fn get_at_least(self: &Arc<Self>, bytes: usize) -> PooledBuf {
        if bytes <= self.max_buffer_bytes {
            let class_bytes = bytes.max(self.buffer_bytes).next_power_of_two();
            self.get_class((class_bytes / self.buffer_bytes).trailing_zeros() as usize)
        } else {
            PooledBuf {
                buf: Some(AlignedBuf::new(bytes, self.align)),
                pool: None,
            }
        }
    }

    fn get_class(self: &Arc<Self>, class: usize) -> PooledBuf {
        let bytes = self.buffer_bytes << class;
        let mut evicted = Vec::new();
        {
            let mut free = self.free.lock().expect("buffer pool lock poisoned");
            if let Some(mut buf) = free[class].pop() {
                buf.clear();
                // A growing class running low on warmed buffers: warm the next ones.
                let low = free[class].len() * bytes < warm::WARM_AHEAD_BYTES / 2;
                drop(free);
                if low
                    && self.fresh[class].load(Ordering::Relaxed) >= warm::WARM_AFTER_FRESH
                    && self.live_bytes() + bytes <= self.budget_bytes
                {
                    self.warmer.request(self, class);
                }
                return PooledBuf {
                    buf: Some(buf),
                    pool: Some(Arc::clone(self)),
                };
            }
            // Room for this class at the expense of idle buffers of the others.
            while self.live_bytes() + bytes > self.budget_bytes {
                let Some(idle) = free.iter_mut().find_map(Vec::pop) else {
                    break;
                };
                self.live_bytes
                    .fetch_sub(idle.capacity(), Ordering::Relaxed);
                self.live.fetch_sub(1, Ordering::Relaxed);
                evicted.push(idle);
            }
        }
        // Freed outside the pool's lock.
        drop(evicted);
        let counted = self.count(bytes);
        if counted
            && self.fresh[class].fetch_add(1, Ordering::Relaxed) + 1 >= warm::WARM_AFTER_FRESH
        {
            self.warmer.request(self, class);
        }
        PooledBuf {
            buf: Some(AlignedBuf::new(bytes, self.align)),
            pool: counted.then(|| Arc::clone(self)),
        }
    }

    /// Counts a new buffer of `bytes` against the budget if it fits; whether it did.
    fn count(&self, bytes: usize) -> bool {
        let counted = self
            .live_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n + bytes <= self.budget_bytes).then_some(n + bytes)
            })
            .is_ok();
        if counted {
            self.live.fetch_add(1, Ordering::Relaxed);
        }
        counted
    }

    /// Whether the warmer should add an idle buffer of `class`: fewer than
    /// [`warm::WARM_AHEAD_BYTES`] of them are idle, and one more fits the budget.
    fn wants_warm(&self, class: usize) -> bool {
        let bytes = self.buffer_bytes << class;
        let idle = self.free.lock().expect("buffer pool lock poisoned")[class].len();
        idle * bytes < warm::WARM_AHEAD_BYTES.max(bytes)
            && self.live_bytes() + bytes <= self.budget_bytes
    }

    /// A new buffer of `class`, counted against the budget; `None` when it does not fit.
    fn counted_fresh(&self, class: usize) -> Option<AlignedBuf> {
        let bytes = self.buffer_bytes << class;
        self.count(bytes)
            .then(|| AlignedBuf::new(bytes, self.align))
    }

    fn put(&self, buf: AlignedBuf) {
        let capacity = buf.capacity();
        let class = (capacity / self.buffer_bytes).trailing_zeros() as usize;
        let mut free = self.free.lock().expect("buffer pool lock poisoned");
        if capacity.is_power_of_two() && capacity >= self.buffer_bytes && class < free.len() {
            free[class].push(buf);
        } else {
            drop(free);
            self.live_bytes.fetch_sub(capacity, Ordering::Relaxed);
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl PooledBuf {
    /// Takes the aligned buffer out (for an I/O that needs ownership); give it back with
    /// [`PooledBuf::restore`].
    pub fn take(&mut self) -> AlignedBuf {
        self.buf.take().expect("pooled buffer already taken")
    }

    /// Puts back a buffer taken with [`PooledBuf::take`].
    pub fn restore(&mut self, buf: AlignedBuf) {
        assert!(self.buf.is_none(), "pooled buffer restored twice");
        self.buf = Some(buf);
    }
}

impl Deref for PooledBuf {
    type Target = AlignedBuf;

    fn deref(&self) -> &AlignedBuf {
        self.buf
            .as_ref()
            .expect("pooled buffer taken and not restored")
    }
}

impl DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut AlignedBuf {
        self.buf
            .as_mut()
            .expect("pooled buffer taken and not restored")
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        self.buf.as_ref().map_or(&[], |b| b.as_slice())
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        if let (Some(buf), Some(pool)) = (self.buf.take(), self.pool.take()) {
            pool.put(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_after_drop() {
        let pool = BufferPool::new(4096, 4096, 4 * 4096);
        let mut a = pool.get();
        a.extend_from_slice(b"hello");
        let ptr = a.as_ptr();
        drop(a);
        let b = pool.get();
        assert_eq!(b.as_ptr(), ptr, "the freed buffer is handed out again");
        assert_eq!(b.len(), 0, "a reused buffer comes back empty");
        assert_eq!(pool.live_buffers(), 1);
    }

    #[test]
    fn past_the_budget_buffers_are_freed_not_kept() {
        let pool = BufferPool::new(4096, 4096, 2 * 4096);
        let held: Vec<_> = (0..5).map(|_| pool.get()).collect();
        assert_eq!(pool.live_buffers(), 2, "only the budget counts");
        drop(held);
        assert_eq!(idle(&pool), 2, "only budgeted buffers return to the pool");
    }

    #[test]
    fn oversized_requests_get_a_one_off_buffer() {
        let pool = BufferPool::new(4096, 4096, 4096);
        let big = pool.get_at_least(10_000);
        assert!(big.capacity() >= 10_000);
        assert_eq!(big.as_ptr() as usize % 4096, 0);
        drop(big);
        assert_eq!(idle(&pool), 0);
    }

    fn idle(pool: &BufferPool) -> usize {
        pool.free.lock().unwrap().iter().map(Vec::len).sum()
    }

    #[test]
    fn requests_get_the_smallest_class_that_holds_them_and_reuse_it() {
        let pool = BufferPool::with_classes(4096, 16384, 4096, 64 * 1024);
        assert_eq!(pool.get_at_least(1).capacity(), 4096);
        assert_eq!(pool.get_at_least(4097).capacity(), 8192);
        let big = pool.get_at_least(16384);
        assert_eq!(big.capacity(), 16384);
        let ptr = big.as_ptr();
        drop(big);
        assert_eq!(
            pool.get_at_least(9000).as_ptr(),
            ptr,
            "the idle 16 KiB buffer is reused"
        );
        assert_eq!(pool.live_bytes(), 4096 + 8192 + 16384);
        assert!(
            pool.get_at_least(16385).capacity() >= 16385,
            "beyond the classes: one-off"
        );
        assert_eq!(pool.live_bytes(), 4096 + 8192 + 16384);
    }

    #[test]
    fn a_class_with_no_idle_buffer_takes_room_from_idle_buffers_of_others() {
        let pool = BufferPool::with_classes(4096, 16384, 4096, 16384);
        let small: Vec<_> = (0..4).map(|_| pool.get()).collect();
        assert_eq!(
            pool.live_bytes(),
            16384,
            "the budget is spent on small buffers"
        );
        drop(small);
        let big = pool.get_at_least(16384);
        assert_eq!(pool.live_bytes(), 16384, "the idle small buffers made room");
        assert_eq!(idle(&pool), 0);
        drop(big);
        assert_eq!(idle(&pool), 1, "the big buffer is budgeted and kept");
    }
}
