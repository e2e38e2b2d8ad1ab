//! Pipelined appends: [`AppendHandle`], returned at once by [`crate::Log::submit`], resolves to
//! the batch's offsets once the log's durability is met.
//!
//! A handle is waited on from a thread ([`AppendHandle::wait`], which becomes the flusher as a
//! blocking append does, so the handles of one producer share one write and one `fdatasync`)
//! or polled as a [`Future`]. A pending poll parks its [`Waker`] in the log's [`Waiters`] and
//! asks the background flusher to drive the log to the offset it needs; whoever raises the
//! high watermark wakes the wakers it covers, and a failure wakes them all. The high watermark
//! only grows, so acknowledgements complete in offset order. After a failure a handle decides
//! only once no flush round runs (a round whose sync began before the failure may still make
//! appends durable), so every handle agrees with the final high watermark: a failed handle is
//! never followed by one that resolved.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::AppendError;

use super::writer::Level;
use super::{AppendInfo, LogInner};

/// Wakers of pending [`AppendHandle`] polls, each with the offset its handle needs durable.
#[derive(Default)]
pub(crate) struct Waiters {
    wakers: Mutex<Vec<(u64, Waker)>>,
    /// The highest offset a pending future needs durable: the background flusher drives the
    /// log to it (see `LogInner::flush_if_due`), so the poller never blocks on I/O.
    pub(crate) wanted_offset: AtomicU64,
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Waker)>> {
        self.wakers.lock().expect("waiters lock poisoned")
    }

    /// Registers `waker` to be woken once `offset` is durable, or on failure.
    pub(crate) fn register(&self, offset: u64, waker: &Waker) {
        self.lock().push((offset, waker.clone()));
    }

    /// Wakes the wakers whose offsets are below `durable`.
    pub(crate) fn wake_covered(&self, durable: u64) {
        let mut wakers = self.lock();
        if wakers.is_empty() {
            return;
        }
        let mut i = 0;
        while i < wakers.len() {
            if wakers[i].0 <= durable {
                wakers.swap_remove(i).1.wake();
            } else {
                i += 1;
            }
        }
    }

    /// Wakes every waker: the log failed, or closed.
    pub(crate) fn wake_all(&self) {
        for (_, waker) in self.lock().drain(..) {
            waker.wake();
        }
    }
}

/// A submitted append: resolves to its offsets once the log's durability is met, or to the
/// error of the write or `fdatasync` that failed to make it so. Dropping it without waiting is
/// harmless: the append stays in the log and becomes durable by the log's ordinary flush rules
/// (the flush interval, a later durable append, [`crate::Log::flush`] or close).
#[must_use = "an append handle does nothing until waited on or polled; dropping it leaves the \
              append to the ordinary flush rules"]
pub struct AppendHandle {
    inner: Arc<LogInner>,
    info: AppendInfo,
    /// `None` under `Durability::None`: ready at once.
    level: Option<Level>,
}

impl std::fmt::Debug for AppendHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppendHandle")
            .field("info", &self.info)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl AppendHandle {
    pub(crate) fn new(inner: Arc<LogInner>, info: AppendInfo, level: Option<Level>) -> Self {
        AppendHandle { inner, info, level }
    }

    /// The offsets assigned (known at submission; durable only once the handle resolves).
    pub fn offsets(&self) -> AppendInfo {
        self.info
    }

    /// The offset the high watermark must reach.
    fn end(&self) -> u64 {
        self.info.last_offset + 1
    }

    fn is_durable(&self) -> bool {
        self.inner.durable_offset.load(Ordering::Acquire) >= self.end()
    }

    /// Blocks until the append reached the log's durability, flushing (and covering every
    /// append submitted before it) when no other thread is.
    ///
    /// # Errors
    /// The write or `fdatasync` failure that poisoned the log before this append became
    /// durable ([`AppendError::Io`] or [`AppendError::Poisoned`]).
    pub fn wait(self) -> Result<AppendInfo, AppendError> {
        let Some(level) = self.level else {
            return Ok(self.info);
        };
        if self.is_durable() {
            return Ok(self.info);
        }
        let w = self.inner.lock_writer();
        match self.inner.flush_to(w, level, self.end()) {
            Ok(w) => drop(w),
            Err(error) => {
                self.inner.wait_for_round_after_failure();
                return self.after_failure(error);
            }
        }
        Ok(self.info)
    }

    /// The outcome once the log failed and no flush round runs any more: durability is final,
    /// so a handle whose append became durable (before the failure, or in a round that was
    /// running when it came) resolves to its offsets, and every other one to the error. All
    /// handles then agree with the high watermark, in offset order.
    fn after_failure(&self, error: AppendError) -> Result<AppendInfo, AppendError> {
        if self.is_durable() {
            Ok(self.info)
        } else {
            Err(error)
        }
    }

    /// A poll that found the log failed: pending while a flush round still runs (woken at its
    /// end), then [`AppendHandle::after_failure`].
    fn poll_failed(&self, error: AppendError, cx: &Context<'_>) -> Poll<<Self as Future>::Output> {
        if self.inner.register_if_round_running(self.end(), cx.waker()) {
            return Poll::Pending;
        }
        Poll::Ready(self.after_failure(error))
    }
}

impl Future for AppendHandle {
    type Output = Result<AppendInfo, AppendError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.level.is_none() || this.is_durable() {
            return Poll::Ready(Ok(this.info));
        }
        if let Err(e) = this.inner.checked.check() {
            return this.poll_failed(e, cx);
        }
        // Registered before the re-check below: whoever raises the watermark raises it before
        // taking the waiters' lock to wake, so either it finds this waker or the re-check sees
        // the new watermark.
        this.inner.waiters.register(this.end(), cx.waker());
        if this.is_durable() {
            return Poll::Ready(Ok(this.info));
        }
        if let Err(e) = this.inner.checked.check() {
            return this.poll_failed(e, cx);
        }
        this.inner
            .waiters
            .wanted_offset
            .fetch_max(this.end(), Ordering::AcqRel);
        this.inner.shared.flusher().wake();
        Poll::Pending
    }
}
