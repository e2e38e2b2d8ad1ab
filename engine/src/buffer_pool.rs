//! A pool of aligned I/O buffers shared by every log of a [`crate::Shared`].
//!
//! First touch of fresh memory is slow on the machines this engine targets, so write chunks and
//! read buffers are allocated once and reused. The pool keeps at most `budget_bytes` of buffers
//! alive (handed out or idle); past the budget a request still succeeds, so that no append ever
//! deadlocks on memory, but the extra buffer is freed instead of returned.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ringlog_sys::AlignedBuf;

/// Shared pool of equally sized aligned buffers.
#[derive(Debug)]
pub struct BufferPool {
    buffer_bytes: usize,
    align: usize,
    max_buffers: usize,
    free: Mutex<Vec<AlignedBuf>>,
    /// Buffers alive that count against the budget (handed out plus idle). Relaxed ordering
    /// suffices: it is a statistic and a soft limit, never a synchronisation point.
    live: AtomicUsize,
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
        Arc::new(BufferPool {
            buffer_bytes,
            align,
            max_buffers: (budget_bytes / buffer_bytes).max(1),
            free: Mutex::new(Vec::new()),
            live: AtomicUsize::new(0),
        })
    }

    /// Size of every buffer of the pool.
    pub fn buffer_bytes(&self) -> usize {
        self.buffer_bytes
    }

    /// The budget: the most bytes of buffers the pool keeps alive.
    pub fn budget_bytes(&self) -> usize {
        self.max_buffers * self.buffer_bytes
    }

    /// Alignment of every buffer of the pool.
    pub fn align(&self) -> usize {
        self.align
    }

    /// Buffers alive (handed out or idle) that count against the budget.
    pub fn live_buffers(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// A buffer of the pool's size, empty (`len() == 0`); its bytes are not zeroed.
    pub fn get(self: &Arc<Self>) -> PooledBuf {
        let reused = self.free.lock().expect("buffer pool lock poisoned").pop();
        if let Some(mut buf) = reused {
            buf.clear();
            return PooledBuf {
                buf: Some(buf),
                pool: Some(Arc::clone(self)),
            };
        }
        let counted = self
            .live
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.max_buffers).then_some(n + 1)
            })
            .is_ok();
        PooledBuf {
            buf: Some(AlignedBuf::new(self.buffer_bytes, self.align)),
            pool: counted.then(|| Arc::clone(self)),
        }
    }

    /// A buffer of at least `bytes`: from the pool when it fits a pooled buffer, otherwise a
    /// one-off allocation freed on drop (batches larger than a chunk are rare).
    pub fn get_at_least(self: &Arc<Self>, bytes: usize) -> PooledBuf {
        if bytes <= self.buffer_bytes {
            self.get()
        } else {
            PooledBuf {
                buf: Some(AlignedBuf::new(bytes, self.align)),
                pool: None,
            }
        }
    }

    fn put(&self, buf: AlignedBuf) {
        if buf.capacity() == self.buffer_bytes {
            self.free
                .lock()
                .expect("buffer pool lock poisoned")
                .push(buf);
        } else {
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
        assert_eq!(
            pool.free.lock().unwrap().len(),
            2,
            "only budgeted buffers return to the pool"
        );
    }

    #[test]
    fn oversized_requests_get_a_one_off_buffer() {
        let pool = BufferPool::new(4096, 4096, 4096);
        let big = pool.get_at_least(10_000);
        assert!(big.capacity() >= 10_000);
        assert_eq!(big.as_ptr() as usize % 4096, 0);
        drop(big);
        assert!(pool.free.lock().unwrap().is_empty());
    }
}
