//! The background flusher shared by every log of a [`crate::Shared`]: one thread, however many
//! partitions.
//!
//! It writes data appended with `Durability::None` once it has waited `flush_interval_ms`,
//! hands an idle log's write chunk back in every durability mode (frozen into the read cache,
//! whose budget then bounds it, or copied out when small), so many mostly idle partitions do
//! not each pin a chunk of memory, and runs retention every `retention_check_interval_ms`.
//! Every log is registered, whatever its intervals.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the flusher does to each log it watches. A trait, so that this module knows nothing of
/// the log (the log depends on the shared resources, which own the flusher: no import circle).
pub(crate) trait Maintained: Send + Sync {
    /// Writes data that waited longer than the flush interval, and makes durable what pending
    /// append futures wait for; hands an idle tail back.
    fn flush_if_due(&self);
    /// Runs retention if its interval passed.
    fn retention_if_due(&self, now_ms: i64);
}

/// How often the flusher looks at its logs; flush intervals are honoured to this precision.
pub const FLUSHER_TICK_MS: u64 = 20;

#[derive(Default)]
struct State {
    logs: Vec<Weak<dyn Maintained>>,
    stop: bool,
    /// Set by [`Flusher::wake`]: the next round starts at once instead of after a tick.
    woken: bool,
}

/// Owner of the flusher thread; stopping it joins the thread.
pub(crate) struct Flusher {
    state: Arc<(Mutex<State>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Flusher {
    pub fn new() -> Self {
        Flusher {
            state: Arc::new((Mutex::new(State::default()), Condvar::new())),
            thread: Mutex::new(None),
        }
    }

    /// Starts watching `log`, starting the thread on first use.
    pub fn register(&self, log: Weak<dyn Maintained>) {
        let (lock, _) = &*self.state;
        lock.lock().expect("flusher lock poisoned").logs.push(log);
        let mut thread = self.thread.lock().expect("flusher lock poisoned");
        if thread.is_none() {
            let state = Arc::clone(&self.state);
            *thread = Some(
                std::thread::Builder::new()
                    .name("ringlog-flusher".into())
                    .spawn(move || run(&state))
                    .expect("spawn the flusher thread"),
            );
        }
    }
}

impl Flusher {
    /// Starts a round now: a pending [`crate::AppendHandle`] future needs its log flushed,
    /// and its poller must not block on the I/O itself.
    pub fn wake(&self) {
        let (lock, wake) = &*self.state;
        lock.lock().expect("flusher lock poisoned").woken = true;
        wake.notify_all();
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        let (lock, wake) = &*self.state;
        lock.lock().expect("flusher lock poisoned").stop = true;
        wake.notify_all();
        if let Some(thread) = self.thread.lock().expect("flusher lock poisoned").take() {
            // The last owner may be the flusher thread itself (it held the last reference to a
            // log while the user dropped everything else); it exits on `stop` by itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

fn run(state: &(Mutex<State>, Condvar)) {
    let (lock, wake) = state;
    loop {
        let logs: Vec<Arc<dyn Maintained>> = {
            let mut guard = lock.lock().expect("flusher lock poisoned");
            if !guard.woken {
                guard = wake
                    .wait_timeout(guard, Duration::from_millis(FLUSHER_TICK_MS))
                    .expect("flusher lock poisoned")
                    .0;
            }
            guard.woken = false;
            if guard.stop {
                return;
            }
            guard.logs.retain(|log| log.strong_count() > 0);
            guard.logs.iter().filter_map(Weak::upgrade).collect()
        };
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        for log in logs {
            // A failure poisons the log, and its next append reports it; nothing to do here.
            log.flush_if_due();
            log.retention_if_due(now_ms);
        }
    }
}
