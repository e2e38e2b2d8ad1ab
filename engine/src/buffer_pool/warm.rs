//! The pool's *warmer*: a background thread that touches new buffers of a growing class ahead
//! of demand, so that a consumer streaming cold data into the cache (or a producer filling
//! it) gets buffers whose memory is already mapped.
//!
//! First touch of fresh memory is slow on these machines: the kernel maps and zeroes each page
//! on its first write (measured 0.43-0.6 s per GiB of 4 KiB pages). A direct read into a fresh
//! buffer pays that in the thread that submits it, before the read even starts: a cold
//! sequential consume of a 2 GiB topic into an empty 3 GiB cache ran at 1062-1233 MB/s, and at
//! 1712-1717 MB/s with the pool's buffers touched beforehand. The warmer moves that work to the
//! other core, and only while the pool grows: it starts once a class has had
//! [`WARM_AFTER_FRESH`] fresh allocations (a log streaming data, not one that took a buffer or
//! two), keeps up to [`WARM_AHEAD_BYTES`] of idle buffers of that class touched, and never goes
//! past the pool's budget. A pool that stops growing leaves it asleep; the thread ends when the
//! pool is dropped.

use std::sync::{Arc, Condvar, Mutex, Weak};

use ringlog_sys::AlignedBuf;

use super::BufferPool;

/// Fresh allocations of one class before the warmer works for it.
pub const WARM_AFTER_FRESH: usize = 8;

/// Idle bytes of a growing class the warmer keeps touched ahead of demand.
pub const WARM_AHEAD_BYTES: usize = 64 << 20;

/// Page size the warmer touches by: one write per page maps it.
const PAGE_BYTES: usize = 4096;

/// The classes asking for warming, and the thread's stop flag.
#[derive(Debug, Default)]
struct State {
    wanted: Vec<usize>,
    stop: bool,
}

/// The warmer of one pool: its requests and the thread serving them (started on the first).
#[derive(Debug, Default)]
pub(super) struct Warmer {
    shared: Arc<(Mutex<State>, Condvar)>,
    started: std::sync::OnceLock<()>,
}

impl Warmer {
    /// Asks for buffers of `class` to be warmed, starting the thread on the first request.
    pub(super) fn request(&self, pool: &Arc<BufferPool>, class: usize) {
        self.started.get_or_init(|| {
            let weak = Arc::downgrade(pool);
            let shared = Arc::clone(&self.shared);
            // A pool whose thread cannot start only loses the warming.
            let _ = std::thread::Builder::new()
                .name("ringlog-pool-warm".into())
                .spawn(move || run(&weak, &shared));
        });
        let (state, wake) = &*self.shared;
        let mut state = state.lock().expect("warmer lock poisoned");
        if !state.wanted.contains(&class) {
            state.wanted.push(class);
            wake.notify_one();
        }
    }
}

impl Drop for Warmer {
    fn drop(&mut self) {
        let (state, wake) = &*self.shared;
        state.lock().expect("warmer lock poisoned").stop = true;
        wake.notify_one();
    }
}

/// The thread: waits for a class to warm, then tops its idle buffers up.
fn run(pool: &Weak<BufferPool>, shared: &(Mutex<State>, Condvar)) {
    let (state, wake) = shared;
    loop {
        let class = {
            let mut state = state.lock().expect("warmer lock poisoned");
            loop {
                if state.stop {
                    return;
                }
                if let Some(class) = state.wanted.pop() {
                    break class;
                }
                state = wake.wait(state).expect("warmer lock poisoned");
            }
        };
        let Some(pool) = pool.upgrade() else {
            return;
        };
        while pool.wants_warm(class) {
            let Some(buf) = pool.counted_fresh(class) else {
                break;
            };
            pool.put(touched(buf));
        }
    }
}

/// `buf` with every page written once (its bytes stay zero).
fn touched(mut buf: AlignedBuf) -> AlignedBuf {
    for byte in buf.full_mut().iter_mut().step_by(PAGE_BYTES) {
        *byte = 0;
    }
    std::hint::black_box(buf.full_mut().as_ptr());
    buf
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::BufferPool;
    use super::WARM_AFTER_FRESH;

    fn idle(pool: &BufferPool) -> usize {
        pool.free.lock().unwrap().iter().map(Vec::len).sum()
    }

    #[test]
    fn a_growing_class_gets_touched_buffers_ahead_within_the_budget() {
        let budget = 64 * 4096;
        let pool = BufferPool::new(4096, 4096, budget);
        // A few buffers taken and given back: no warming.
        drop((0..2).map(|_| pool.get()).collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(idle(&pool), 2, "a pool that does not grow is not warmed");
        // A class that keeps growing: idle buffers appear while all are held.
        let held: Vec<_> = (0..WARM_AFTER_FRESH + 2).map(|_| pool.get()).collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        while idle(&pool) == 0 {
            assert!(Instant::now() < deadline, "the warmer added nothing");
            std::thread::sleep(Duration::from_millis(5));
        }
        // It stops at the budget, and what it made is handed out like any idle buffer.
        while pool.live_bytes() < budget && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            pool.live_bytes(),
            budget,
            "the warmer fills up to the budget"
        );
        assert_eq!(pool.live_buffers(), 64);
        let warmed = pool.get();
        assert_eq!(warmed.len(), 0);
        assert_eq!(pool.live_buffers(), 64, "a warmed buffer, not a new one");
        drop((held, warmed));
        assert_eq!(idle(&pool), 64);
    }
}
