//! Worker threads started once, before any timing, and released together for each timed
//! region: multi-threaded scenarios time their threads' work, not the kernel's `clone`, the
//! first touch of fresh stacks or the threads' start-up (which a `std::thread::scope` inside
//! the timed region would include, tens of microseconds per thread, more than a short region's
//! work on one core).
//!
//! [`with_crew`] starts `threads` workers, each waiting at a barrier; [`Crew::run`] hands each
//! a clone of the round's argument (the log or topics of the region, `()` when there is none),
//! releases them, waits until every one has finished its share and returns their results in
//! worker order. A timed region is one `run`: its cost beyond the work is two barrier
//! crossings (a futex wake-up per worker).

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex, PoisonError};
use std::thread;

/// What the workers share with the thread releasing them.
struct Gate<A, R> {
    /// Released by [`Crew::run`] (and once more at the end, with `stop` set).
    start: Barrier,
    /// Crossed by every worker after storing its result, and by `run` before collecting.
    done: Barrier,
    stop: AtomicBool,
    /// One slot per worker: the round's argument, taken by the worker.
    args: Mutex<Vec<Option<A>>>,
    /// One slot per worker, filled each round: the work's result or its panic.
    results: Mutex<Vec<Option<thread::Result<R>>>>,
}

/// Workers waiting to be released; see the module documentation.
pub struct Crew<'g, A, R> {
    gate: &'g Gate<A, R>,
    threads: usize,
}

impl<A: Clone, R> Crew<'_, A, R> {
    /// Releases every worker for one round of `work` on `arg` and returns what each returned,
    /// worker 0 first. Time this call, and nothing else, as the region.
    ///
    /// # Panics
    /// If a worker's work panicked (with its panic, after every worker finished the round).
    pub fn run(&self, arg: A) -> Vec<R> {
        for slot in lock(&self.gate.args).iter_mut() {
            *slot = Some(arg.clone());
        }
        self.gate.start.wait();
        self.gate.done.wait();
        lock(&self.gate.results)
            .iter_mut()
            .map(
                |slot| match slot.take().expect("every worker stored its result") {
                    Ok(r) => r,
                    Err(panic) => panic::resume_unwind(panic),
                },
            )
            .collect()
    }

    /// Workers released by each [`run`](Self::run).
    pub fn threads(&self) -> usize {
        self.threads
    }
}

/// Stops the workers when dropped: sets `stop` and releases them one last time.
struct Stop<'g, A, R>(&'g Gate<A, R>);

impl<A, R> Drop for Stop<'_, A, R> {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Release);
        self.0.start.wait();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts `threads` workers that each run `work(index, &arg)` once per [`Crew::run`], calls
/// `body` with the crew, then stops and joins the workers and returns what `body` returned.
///
/// # Panics
/// If `threads` is zero, or a thread cannot be spawned.
pub fn with_crew<A, R, W, B, T>(threads: usize, work: W, body: B) -> T
where
    A: Send,
    R: Send,
    W: Fn(usize, &A) -> R + Sync,
    B: FnOnce(&Crew<'_, A, R>) -> T,
{
    assert!(threads > 0, "a crew needs at least one worker");
    let gate = Gate {
        start: Barrier::new(threads + 1),
        done: Barrier::new(threads + 1),
        stop: AtomicBool::new(false),
        args: Mutex::new((0..threads).map(|_| None).collect()),
        results: Mutex::new((0..threads).map(|_| None).collect()),
    };
    let (gate, work) = (&gate, &work);
    thread::scope(|scope| {
        for index in 0..threads {
            thread::Builder::new()
                .name(format!("crew-{index}"))
                .spawn_scoped(scope, move || {
                    loop {
                        gate.start.wait();
                        if gate.stop.load(Ordering::Acquire) {
                            return;
                        }
                        let arg = lock(&gate.args)[index]
                            .take()
                            .expect("run stores an argument per worker");
                        let out = panic::catch_unwind(AssertUnwindSafe(|| work(index, &arg)));
                        drop(arg);
                        lock(&gate.results)[index] = Some(out);
                        gate.done.wait();
                    }
                })
                .expect("spawn a crew worker");
        }
        let crew = Crew { gate, threads };
        // Stop the workers even if `body` panics, or the scope would wait for them forever.
        let _stop = Stop(gate);
        body(&crew)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn every_round_runs_every_worker_once_and_returns_in_worker_order() {
        let calls = AtomicU64::new(0);
        let rounds = with_crew(
            3,
            |i, round: &u64| {
                calls.fetch_add(1, Ordering::Relaxed);
                (i, *round, thread::current().name().map(str::to_string))
            },
            |crew| {
                assert_eq!(crew.threads(), 3);
                (0..5).map(|round| crew.run(round)).collect::<Vec<_>>()
            },
        );
        assert_eq!(calls.load(Ordering::Relaxed), 15);
        for (r, round) in rounds.into_iter().enumerate() {
            let indexes: Vec<usize> = round.iter().map(|(i, _, _)| *i).collect();
            assert_eq!(indexes, [0, 1, 2]);
            assert!(
                round.iter().all(|(_, arg, _)| *arg == r as u64),
                "{round:?}"
            );
            for (i, _, name) in round {
                assert_eq!(name.as_deref(), Some(format!("crew-{i}").as_str()));
            }
        }
    }

    #[test]
    fn the_same_threads_serve_every_round() {
        let ids = with_crew(
            2,
            |_, (): &()| thread::current().id(),
            |crew| (crew.run(()), crew.run(())),
        );
        assert_eq!(ids.0, ids.1, "no thread is spawned per round");
    }

    #[test]
    fn a_worker_panic_reaches_the_caller_after_the_round() {
        let result = panic::catch_unwind(|| {
            with_crew(
                2,
                |i, (): &()| assert_ne!(i, 1, "worker 1 fails"),
                |crew| {
                    crew.run(());
                },
            );
        });
        let panic = result.expect_err("the worker's panic is resumed");
        let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("worker 1 fails"), "{text}");
    }

    #[test]
    fn a_body_that_never_runs_still_stops_its_workers() {
        let out = with_crew(4, |_, (): &()| (), |_| 7);
        assert_eq!(out, 7);
    }
}
