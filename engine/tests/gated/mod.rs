//! A [`Storage`] for the integration tests that holds one chosen call until the test lets it
//! go: it forwards every call to the real storage, except that, once armed, the first `open`
//! or `rename` of a path ending in a chosen suffix (or the first `set_len`) waits, before it reaches the real storage,
//! until [`Gated::release`]. Tests use it to stop a compaction at a chosen step (say, the
//! creation of its `.log.cleaned` file, after it has read the segments it replaces) while other
//! threads run retention, delete a topic or create one.
//!
//! A held call gives up waiting after [`HOLD_LIMIT`], so a test that fails before releasing it
//! does not hang the suite.

#![allow(
    dead_code,
    reason = "each test crate uses a different subset of the wrapper"
)]

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ringlog::io::Storage;
use ringlog::{OpenError, Shared, SharedConfig};

/// Longest a call is held, and longest [`Gated::wait_until_held`] waits.
pub const HOLD_LIMIT: Duration = Duration::from_mins(1);

/// The kind of call a gate holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// `Storage::open`.
    Open,
    /// `Storage::rename` (matched on its source path).
    Rename,
    /// `Storage::set_len` (it names no path: any suffix matches, arm it with "").
    SetLen,
}

#[derive(Debug, Default)]
enum State {
    /// Nothing armed: every call goes through.
    #[default]
    Open,
    /// The next matching call will be held.
    Armed { step: Step, suffix: String },
    /// A call is held: its description.
    Holding(String),
    /// Released: every call goes through.
    Released,
}

/// The storage wrapper. Build it with [`Gated::shared`].
pub struct Gated {
    inner: Arc<dyn Storage>,
    state: Mutex<State>,
    changed: Condvar,
}

impl Gated {
    /// A [`Shared`] for `data_dir` whose storage is wrapped, and the wrapper.
    ///
    /// # Errors
    /// As [`Shared::new`].
    pub fn shared(
        data_dir: &Path,
        config: &SharedConfig,
    ) -> Result<(Arc<Shared>, Arc<Gated>), OpenError> {
        let mut gated = None;
        let shared = Shared::with_storage(data_dir, config, |inner| {
            let wrapper = Arc::new(Gated {
                inner,
                state: Mutex::new(State::Open),
                changed: Condvar::new(),
            });
            gated = Some(Arc::clone(&wrapper));
            wrapper
        })?;
        Ok((shared, gated.expect("with_storage calls the wrapper")))
    }

    /// Holds the first later call of `step` whose path ends with `suffix`.
    pub fn arm(&self, step: Step, suffix: &str) {
        *self.lock() = State::Armed {
            step,
            suffix: suffix.to_owned(),
        };
    }

    /// Waits until a call is held and returns its description.
    ///
    /// # Panics
    /// If none is held within [`HOLD_LIMIT`].
    pub fn wait_until_held(&self) -> String {
        let deadline = Instant::now() + HOLD_LIMIT;
        let mut state = self.lock();
        loop {
            if let State::Holding(call) = &*state {
                return call.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no call was held within {HOLD_LIMIT:?}");
            state = self
                .changed
                .wait_timeout(state, left)
                .expect("gate lock poisoned")
                .0;
        }
    }

    /// Lets the held call, and every later one, go through.
    pub fn release(&self) {
        *self.lock() = State::Released;
        self.changed.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("gate lock poisoned")
    }

    /// Holds this call if the gate is armed for it.
    fn pass(&self, step: Step, path: &Path) {
        let mut state = self.lock();
        let matches = matches!(
            &*state,
            State::Armed { step: armed, suffix }
                if *armed == step && path.to_string_lossy().ends_with(suffix.as_str())
        );
        if !matches {
            return;
        }
        *state = State::Holding(format!("{step:?} {}", path.display()));
        self.changed.notify_all();
        let deadline = Instant::now() + HOLD_LIMIT;
        while matches!(*state, State::Holding(_)) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                *state = State::Released;
                break;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .expect("gate lock poisoned")
                .0;
        }
    }
}

impl Storage for Gated {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<File>> {
        self.pass(Step::Open, path);
        self.inner.open(path, create)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.pass(Step::Rename, from);
        self.inner.rename(from, to)
    }

    fn set_len(&self, file: &Arc<File>, len: u64) -> io::Result<()> {
        self.pass(Step::SetLen, Path::new(""));
        self.inner.set_len(file, len)
    }

    ringlog::forward_storage!(inner; io_path, alignment, submit_write, read, sync_data, allocate, sync_dir, sync_mapped);
    ringlog::forward_namespace!(inner);
}
