//! A [`Storage`] that can hold a sync, for the integration tests: it forwards every call to the
//! real storage, but once armed with [`HeldSync::hold_syncs_of`], an `fdatasync` of the named
//! file (and any `msync`, the mmap path's sync) blocks until [`HeldSync::release`]. Under
//! `Durability::Sync` an append whose sync is held has its records written (and readable by
//! the engine) but not yet acknowledged: they sit above the high watermark for as long as the
//! test wants.

// Each test crate uses a different subset of the wrapper.
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
use ringlog_sys::mmap::MapReader;

/// How long [`HeldSync::wait_until_held`] waits before it fails the test.
const HOLD_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Default)]
struct Hold {
    /// The file name whose syncs are held; `None` when nothing is held.
    file_name: Option<String>,
    /// Syncs blocked right now.
    held: usize,
}

/// The storage wrapper. Build it with [`HeldSync::shared`].
pub struct HeldSync {
    inner: Arc<dyn Storage>,
    hold: Mutex<Hold>,
    changed: Condvar,
}

impl HeldSync {
    /// A [`Shared`] for `data_dir` whose storage is wrapped, and the wrapper (holding nothing).
    ///
    /// # Errors
    /// As [`Shared::new`].
    pub fn shared(
        data_dir: &Path,
        config: &SharedConfig,
    ) -> Result<(Arc<Shared>, Arc<HeldSync>), OpenError> {
        let mut held = None;
        let shared = Shared::with_storage(data_dir, config, |inner| {
            let wrapper = Arc::new(HeldSync {
                inner,
                hold: Mutex::new(Hold::default()),
                changed: Condvar::new(),
            });
            held = Some(Arc::clone(&wrapper));
            wrapper
        })?;
        Ok((shared, held.expect("with_storage calls the wrapper")))
    }

    /// From now on, blocks every `fdatasync` of a file named `file_name` and every `msync`
    /// until [`HeldSync::release`].
    pub fn hold_syncs_of(&self, file_name: &str) {
        self.lock().file_name = Some(file_name.to_owned());
    }

    /// Waits until at least one sync is blocked.
    ///
    /// # Panics
    /// After [`HOLD_TIMEOUT`] without one.
    pub fn wait_until_held(&self) {
        let deadline = Instant::now() + HOLD_TIMEOUT;
        let mut hold = self.lock();
        while hold.held == 0 {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("no sync was held within {HOLD_TIMEOUT:?}"));
            hold = self
                .changed
                .wait_timeout(hold, left)
                .expect("hold lock poisoned")
                .0;
        }
    }

    /// Lets every held sync go on, and holds no more.
    pub fn release(&self) {
        self.lock().file_name = None;
        self.changed.notify_all();
    }

    /// A guard that calls [`HeldSync::release`] when dropped, so that a failing test does not
    /// leave a thread blocked in a held sync (a scoped thread would then never be joined).
    pub fn release_on_drop(&self) -> ReleaseOnDrop<'_> {
        ReleaseOnDrop(self)
    }

    fn lock(&self) -> MutexGuard<'_, Hold> {
        self.hold.lock().expect("hold lock poisoned")
    }

    /// Blocks while a hold that `matches` is armed.
    fn wait_while_held(&self, matches: impl Fn(&str) -> bool) {
        let mut hold = self.lock();
        if !hold.file_name.as_deref().is_some_and(&matches) {
            return;
        }
        hold.held += 1;
        self.changed.notify_all();
        while hold.file_name.as_deref().is_some_and(&matches) {
            hold = self.changed.wait(hold).expect("hold lock poisoned");
        }
        hold.held -= 1;
    }
}

/// Releases the held syncs when dropped; see [`HeldSync::release_on_drop`].
pub struct ReleaseOnDrop<'a>(&'a HeldSync);

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// The name of the file `file` is open on (`/proc/self/fd` names it).
fn file_name(file: &File) -> String {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .ok()
        .and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

impl Storage for HeldSync {
    fn sync_data(&self, file: &Arc<File>) -> io::Result<()> {
        let name = file_name(file);
        self.wait_while_held(|held| held == name);
        self.inner.sync_data(file)
    }

    fn sync_mapped(&self, map: &MapReader, offset: usize, len: usize) -> io::Result<()> {
        self.wait_while_held(|_| true);
        self.inner.sync_mapped(map, offset, len)
    }
    ringlog::forward_storage!(inner; io_path, alignment, open, submit_write, read, allocate, set_len, rename, sync_dir);
    ringlog::forward_namespace!(inner);
}
