//! The cleaner's I/O cap, as Kafka's `log.cleaner.io.max.bytes.per.second`: the bytes a
//! compaction reads (its input, for the offset map and again for the cleaning) and writes (its
//! output) are paid for at a fixed rate, so a cleaning leaves the disk to the producers.
//!
//! The rule is the generic cell rate algorithm: the throttle keeps the instant at which the
//! bytes admitted so far are paid for (`paid_until`); admitting `n` more bytes moves it on by
//! `n / rate` (from now, when it lies in the past), and the caller sleeps for whatever of it
//! lies more than [`BURST`] ahead. So over any stretch of time `t` at most
//! `rate * (t + BURST)` bytes pass, and a cleaning that starts after a pause may use the rate's
//! [`BURST`] at once, no more. One throttle may be shared by many compactions (a topic manager
//! shares one among all its partitions, as Kafka's cleaner threads share theirs).

use std::num::NonZeroU64;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How far ahead of the clock the admitted bytes may be paid for without a wait: the burst a
/// throttle allows is `BURST` times its rate.
pub const BURST: Duration = Duration::from_millis(20);

/// A byte-rate cap shared by the compactions that hold it (see the module documentation).
#[derive(Debug)]
pub struct IoThrottle {
    bytes_per_second: NonZeroU64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When the bytes admitted so far are paid for; `None` before the first.
    paid_until: Option<Instant>,
    /// Bytes admitted so far.
    admitted: u64,
}

impl IoThrottle {
    /// A throttle that lets `bytes_per_second` through.
    pub fn new(bytes_per_second: NonZeroU64) -> IoThrottle {
        IoThrottle {
            bytes_per_second,
            state: Mutex::new(State::default()),
        }
    }

    /// The rate it lets through.
    pub fn bytes_per_second(&self) -> NonZeroU64 {
        self.bytes_per_second
    }

    /// The bytes admitted so far, by every caller.
    pub fn admitted_bytes(&self) -> u64 {
        self.state.lock().expect("throttle lock poisoned").admitted
    }

    /// Admits `bytes` of I/O, sleeping first as long as the rate asks.
    pub fn acquire(&self, bytes: u64) {
        let wait = self.admit(Instant::now(), bytes);
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// Admits `bytes` at `now`; returns how long the caller must wait before doing their I/O.
    fn admit(&self, now: Instant, bytes: u64) -> Duration {
        let nanos = u128::from(bytes) * 1_000_000_000 / u128::from(self.bytes_per_second.get());
        let cost = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        let mut state = self.state.lock().expect("throttle lock poisoned");
        let from = state.paid_until.map_or(now, |paid| paid.max(now));
        let until = from + cost;
        state.paid_until = Some(until);
        state.admitted = state.admitted.saturating_add(bytes);
        until.saturating_duration_since(now).saturating_sub(BURST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(bytes_per_second: u64) -> IoThrottle {
        IoThrottle::new(NonZeroU64::new(bytes_per_second).expect("a rate"))
    }

    #[test]
    fn bytes_within_the_burst_pass_at_once_and_the_rest_wait_for_the_rate() {
        // 1 MB/s: the burst is 20 KB (20 ms).
        let t = throttle(1_000_000);
        let now = Instant::now();
        assert_eq!(t.admit(now, 10_000), Duration::ZERO, "10 ms of the rate");
        assert_eq!(
            t.admit(now, 10_000),
            Duration::ZERO,
            "20 ms: the whole burst"
        );
        assert_eq!(t.admit(now, 10_000), Duration::from_millis(10));
        assert_eq!(t.admit(now, 100_000), Duration::from_millis(110));
        assert_eq!(t.admitted_bytes(), 130_000);
    }

    #[test]
    fn waiting_callers_are_admitted_in_turn_at_the_rate() {
        // What `acquire` does: each caller sleeps for its wait, then comes back.
        let t = throttle(1_000_000);
        let start = Instant::now();
        let mut now = start;
        for _ in 0..100 {
            now += t.admit(now, 50_000);
        }
        // 5 MB at 1 MB/s: 5 s, less the 20 ms burst.
        assert_eq!(now - start, Duration::from_millis(4_980));
    }

    #[test]
    fn an_idle_throttle_does_not_save_up_more_than_its_burst() {
        let t = throttle(1_000_000);
        let start = Instant::now();
        assert_eq!(t.admit(start, 1_000), Duration::ZERO);
        let later = start + Duration::from_mins(1);
        assert_eq!(t.admit(later, 20_000), Duration::ZERO, "the burst");
        assert_eq!(
            t.admit(later, 20_000),
            Duration::from_millis(20),
            "a minute idle buys no more than the burst"
        );
    }

    #[test]
    fn callers_share_one_rate() {
        let t = std::sync::Arc::new(throttle(10_000_000));
        let started = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let t = &t;
                s.spawn(move || {
                    for _ in 0..10 {
                        t.acquire(100_000);
                    }
                });
            }
        });
        // 4 MB at 10 MB/s takes at least 0.4 s, less the burst: a lower bound, which sleeping
        // guarantees whatever the machine's speed.
        assert!(
            started.elapsed() >= Duration::from_millis(380),
            "{:?}",
            started.elapsed()
        );
    }
}
