//! Append handles polled as futures with a hand-written executor (a thread-parking waker, no
//! runtime): pending polls are woken once the background flusher made the appends durable, and
//! they resolve to the same contiguous offsets as waiting does.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use common::{Expected, for_each_io_mode, open_log, read_all, with_records};
use ringlog::{Config, Durability};

const APPENDS: u64 = 16;

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` to completion on this thread, parking between polls.
fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[test]
fn append_futures_resolve_to_contiguous_offsets() {
    for_each_io_mode(|io_mode| {
        for durability in [Durability::Sync, Durability::Write, Durability::None] {
            let dir = tempfile::tempdir().expect("temp dir");
            let config = Config {
                durability,
                flush_interval_ms: None,
                ..common::config(io_mode)
            };
            let log = open_log(dir.path(), config);
            let rows: Vec<Expected> = (0..APPENDS)
                .map(|i| Expected::numbered(i, common::now_ms(), 64))
                .collect();
            let handles: Vec<_> = rows
                .iter()
                .map(|row| {
                    with_records(std::slice::from_ref(row), |r| {
                        log.submit(r).expect("submit")
                    })
                })
                .collect();
            for (i, handle) in handles.into_iter().enumerate() {
                let info = block_on(handle).expect("append future");
                assert_eq!(
                    info.base_offset, i as u64,
                    "{durability:?}: offsets in order"
                );
                assert_eq!(
                    info.last_offset, i as u64,
                    "{durability:?}: one record each"
                );
                if durability != Durability::None {
                    assert!(
                        log.high_watermark() > i as u64,
                        "{durability:?}: durable when ready"
                    );
                }
            }
            assert_eq!(
                read_all(&log),
                rows,
                "{durability:?}: every record reads back"
            );
        }
    });
}
