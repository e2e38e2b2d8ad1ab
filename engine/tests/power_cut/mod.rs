//! A crash-simulating [`Storage`] wrapper for power-loss tests: it keeps what `fdatasync` made
//! durable apart from what was only written, and at a chosen moment turns the files into what
//! a power cut could leave.
//!
//! Model (see `outcome.rs` for the patterns, `dirs.rs` for directory entries):
//! - Per file opened through the seam, the bytes made durable by the last `sync_data` and the
//!   operations since (writes, `set_len`, `allocate`), in completion order (`image.rs`). Writes
//!   are made synchronous in the wrapper (forwarded and waited for before `submit_write`
//!   returns), so that order is exact.
//! - The cut comes at the N-th mutating call (`cut_after_calls`) or on demand (`cut_now`):
//!   that call and every later one fails with EIO, so nothing after the cut reaches a file
//!   through the seam, and the engine can neither sync nor write a clean-shutdown marker
//!   (closing seals the segment through the seam first, which fails). Reads are not counted
//!   (a test may read without moving the cut) but fail after the cut too.
//! - `power_off` then rewrites each file: the durable bytes plus a random choice of the
//!   pending operations (all, none, an ordered prefix with the next write torn at a 512 or
//!   4096-byte sector boundary, or any subset with writes torn into any subset of sectors).
//!   Sizes follow the surviving operations (a lost `fallocate` or `ftruncate` takes its size
//!   change with it). Before rewriting, it checks that the image with every pending operation
//!   kept equals the file as the page cache shows it, which proves no write bypassed the seam.
//! - The mmap path appends by storing into a shared mapping, which no call reports. There the
//!   wrapper reads each file at the cut; `sync_mapped` makes the pages it covers durable as
//!   they are then (the mapping has no path: the file is the one holding the synced bytes at
//!   that position) and `sync_data` the whole file. At the cut, each page whose contents differ
//!   from the durable image plus pending operations is dirty, and is kept, lost or torn like a
//!   write (the kernel writes dirty pages back in any order, at any time).
//! - Small files (index files, the clean-shutdown marker, the cleaner checkpoint, topic
//!   metadata, `.replaces` lists) go through the seam's `write_file`, which writes them whole and
//!   fsyncs them; it is a mutating call like the others, so the cut can land on it and nothing
//!   gets through after it. So are `remove_file`, `create_dir` and `remove_dir_all`.
//! - Directory entries created or removed since the last `sync_dir` of their directory vanish
//!   or come back at random (a removed file comes back only if it was small and unmodeled, so
//!   its contents were copied). Files created behind the seam after the cut are removed, and
//!   small unmodeled files changed after the cut get back their contents at the cut (neither
//!   happens while the engine keeps to the seam; the checks stay as a net).
//!
//! Not simulated: a small file torn by the cut (`write_file` returns after its fsync, so its
//! contents are durable or the call failed); writes that fail (not recorded, as if lost); on
//! the mmap path, pages synced by an
//! `msync` count as durable with the bytes they hold when it returned (a store racing with it
//! may be counted durable too early, which can only hide a loss, never invent one).

pub mod dirs;
pub mod image;
pub mod outcome;
pub mod records;
pub mod report;
pub mod rng;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use ringlog::io::{IoPath, PendingWrite, Storage};
use ringlog_sys::AlignedBuf;
use ringlog_sys::mmap::MapReader;

use dirs::{DirState, Listing};
use image::{FileImage, Op};
pub use report::CutReport;
use rng::Rng;

/// EIO: what every call returns once the power is off.
fn eio() -> io::Error {
    io::Error::from_raw_os_error(5)
}

/// The wrapper. Share it with `Arc`: the engine gets one handle through
/// `Shared::with_storage`, the test keeps another to cut the power.
pub struct PowerCut {
    inner: Arc<dyn Storage>,
    /// Mutating calls so far.
    calls: AtomicU64,
    /// The mutating call (counted from 0) at which the power goes.
    cut_at: AtomicU64,
    /// Set when the power went; every call fails from then on.
    frozen: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Every handle opened through the wrapper, by address, with its path. A `Weak` keeps the
    /// allocation, so that the address cannot be reused by another file, without counting as
    /// a holder of the file: retention keeps a segment's file as a spare only when nobody else
    /// holds it (`spares.rs`), and a strong count here would keep every file from becoming one.
    handles: HashMap<usize, (Weak<File>, PathBuf)>,
    files: BTreeMap<PathBuf, FileImage>,
    dirs: BTreeMap<PathBuf, DirState>,
    /// The mmap path: appends are stores into mappings, which no call reports.
    mapped: bool,
    /// On the mmap path, each file's contents when the power went (stores after it must not
    /// count).
    at_cut: BTreeMap<PathBuf, Vec<u8>>,
    powered_off: bool,
    /// The seam method the cut landed on.
    cut_call: Option<&'static str>,
}

impl State {
    fn path_of(&self, file: &Arc<File>) -> PathBuf {
        let (_, path) = self
            .handles
            .get(&(Arc::as_ptr(file) as usize))
            .expect("a file handle that was not opened through the wrapper");
        path.clone()
    }

    fn image(&mut self, file: &Arc<File>) -> &mut FileImage {
        let path = self.path_of(file);
        self.files
            .get_mut(&path)
            .expect("every open file has an image")
    }

    fn listing(&self, dir: &Path) -> Listing {
        Listing::read(dir, &|path| self.files.contains_key(path))
    }

    /// The file whose bytes at `offset` are `published` (the mapping `sync_mapped` names has no
    /// path; the appended batches it syncs carry offsets unique to one segment).
    fn mapped_file(&self, published: &[u8], offset: u64) -> PathBuf {
        let mut matches = self.files.keys().filter(|path| {
            let mut bytes = vec![0; published.len()];
            File::open(path)
                .and_then(|file| file.read_exact_at(&mut bytes, offset))
                .is_ok_and(|()| bytes == published)
        });
        let path = matches
            .next()
            .expect("sync_mapped of bytes no file opened through the wrapper holds");
        assert!(
            matches.next().is_none(),
            "sync_mapped of bytes that two files hold at the same position"
        );
        path.clone()
    }
}

impl PowerCut {
    /// Wraps `inner`, treating the current entries of `dirs` as durable (a directory that does
    /// not exist yet is tracked from empty: one the engine creates must be made durable by a
    /// `sync_dir` of its parent, which must then be in `dirs` too).
    pub fn new(inner: Arc<dyn Storage>, dirs: &[&Path]) -> Arc<PowerCut> {
        let mut state = State {
            mapped: inner.io_path() == IoPath::Mmap,
            ..State::default()
        };
        for dir in dirs {
            let durable = state.listing(dir);
            let dir_state = DirState {
                durable,
                at_cut: None,
            };
            state.dirs.insert(dir.to_path_buf(), dir_state);
        }
        Arc::new(PowerCut {
            inner,
            calls: AtomicU64::new(0),
            cut_at: AtomicU64::new(u64::MAX),
            frozen: AtomicBool::new(false),
            state: Mutex::new(state),
        })
    }

    /// The power goes at the `n`-th mutating call from now (0: the next one).
    pub fn cut_after_calls(&self, n: u64) {
        let now = self.calls.load(Ordering::SeqCst);
        self.cut_at.store(now.saturating_add(n), Ordering::SeqCst);
    }

    /// Cuts the power now, if it is still on.
    pub fn cut_now(&self) {
        self.cut();
    }

    /// Whether the power went.
    pub fn is_cut(&self) -> bool {
        self.frozen.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("power-cut state lock poisoned")
    }

    fn cut(&self) {
        let mut state = self.lock();
        // Under the lock: exactly one caller lists the directories, and no call records an
        // operation meanwhile.
        if self.frozen.swap(true, Ordering::SeqCst) {
            return;
        }
        let dirs: Vec<PathBuf> = state.dirs.keys().cloned().collect();
        for dir in dirs {
            let listing = state.listing(&dir);
            state.dirs.get_mut(&dir).expect("listed above").at_cut = Some(listing);
        }
        if state.mapped {
            let contents: Vec<(PathBuf, Vec<u8>)> = (state.files.keys())
                .filter_map(|path| Some((path.clone(), std::fs::read(path).ok()?)))
                .collect();
            state.at_cut.extend(contents);
        }
    }

    /// Counts a mutating call (`what`: the seam method); fails it if the power is off or goes
    /// now.
    fn enter(&self, what: &'static str) -> io::Result<()> {
        if self.is_cut() {
            return Err(eio());
        }
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call >= self.cut_at.load(Ordering::SeqCst) {
            self.lock().cut_call.get_or_insert(what);
            self.cut();
            return Err(eio());
        }
        Ok(())
    }

    /// The seam method the cut landed on (`None` before the cut, or for a cut on demand).
    pub fn cut_call(&self) -> Option<&'static str> {
        self.lock().cut_call
    }

    /// Turns the files into what the cut leaves, choosing with `rng`. Call it once, after the
    /// power went and after the engine let go of its files (drop the log and its `Shared`).
    ///
    /// # Panics
    /// If the power is still on, on a second call, or when a file's contents differ from what
    /// the wrapper saw written (something wrote past the seam).
    pub fn power_off(&self, rng: &mut Rng) -> CutReport {
        assert!(self.is_cut(), "power_off before the power went");
        let mut state = self.lock();
        assert!(!state.powered_off, "power_off called twice");
        state.powered_off = true;
        state.handles.clear();
        let mut report = CutReport::default();
        let State {
            files,
            dirs,
            at_cut,
            mapped,
            ..
        } = &mut *state;
        for (dir, dir_state) in dirs.iter() {
            let (dir_report, vanished) = dirs::settle(dir, dir_state, rng);
            report.dirs.add(&dir_report);
            for path in vanished {
                files.remove(&path);
            }
        }
        for (path, image) in files.iter() {
            if !path.exists() {
                continue;
            }
            let bytes = if *mapped {
                let stored = at_cut.get(path).expect("mapped files are read at the cut");
                after_cut_mapped(image, stored, rng, &mut report)
            } else {
                after_cut(path, image, rng, &mut report)
            };
            rewrite(path, &bytes);
        }
        report
    }
}

/// What a power cut leaves of a file written through the seam, after checking that the
/// wrapper saw every change.
fn after_cut(path: &Path, image: &FileImage, rng: &mut Rng, report: &mut CutReport) -> Vec<u8> {
    let now = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        now == image.current(),
        "{} changed outside the Storage seam: {} bytes on file, {} in the model",
        path.display(),
        now.len(),
        image.current().len()
    );
    pending_after_cut(image, rng, report)
}

/// What a power cut leaves of a mapped file: its pending size changes (and writes) as for any
/// file, then each page that stores changed since it was last synced (`stored` holds the
/// contents at the cut) reaches the disk whole, not at all, or torn, independently: the
/// kernel writes dirty pages back whenever it likes.
fn after_cut_mapped(
    image: &FileImage,
    stored: &[u8],
    rng: &mut Rng,
    report: &mut CutReport,
) -> Vec<u8> {
    let mut bytes = pending_after_cut(image, rng, report);
    let synced = image.current();
    let page = ringlog::shared::PAGE_BYTES;
    let common = stored.len().min(synced.len());
    let dirty: Vec<usize> = (0..common.div_ceil(page))
        .map(|i| i * page)
        .filter(|&at| {
            let end = (at + page).min(common);
            stored[at..end] != synced[at..end]
        })
        .collect();
    let pages = vec![outcome::Pending::Write { len: page }; dirty.len()];
    let (_, fates) = outcome::choose(rng, &pages);
    for (&at, fate) in dirty.iter().zip(&fates) {
        let end = (at + page).min(common);
        image::overlay(&mut bytes, at, &stored[at..end], fate);
    }
    report.count_pages(&fates);
    bytes
}

/// The file with a random choice of its pending operations applied.
fn pending_after_cut(image: &FileImage, rng: &mut Rng, report: &mut CutReport) -> Vec<u8> {
    let (pattern, fates) = outcome::choose(rng, &image.pending());
    report.count_file(pattern, &fates);
    image.after_cut(&fates)
}

/// Replaces the contents of the file at `path` with `bytes`.
fn rewrite(path: &Path, bytes: &[u8]) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.set_len(bytes.len() as u64)
        .and_then(|()| file.write_all_at(bytes, 0))
        .unwrap_or_else(|e| panic!("rewrite {}: {e}", path.display()));
}

impl Storage for PowerCut {
    fn io_path(&self) -> IoPath {
        self.inner.io_path()
    }

    fn alignment(&self) -> usize {
        self.inner.alignment()
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<File>> {
        self.enter("open")?;
        let existed = path.exists();
        let file = self.inner.open(path, create)?;
        let mut state = self.lock();
        state.handles.insert(
            Arc::as_ptr(&file) as usize,
            (Arc::downgrade(&file), path.to_path_buf()),
        );
        if !state.files.contains_key(path) {
            // A file that existed is taken as durable (the wrapper starts on a settled
            // directory); a new one starts empty.
            let durable = if existed {
                std::fs::read(path)?
            } else {
                Vec::new()
            };
            state
                .files
                .insert(path.to_path_buf(), FileImage::new(durable));
        }
        Ok(file)
    }

    fn submit_write(&self, file: &Arc<File>, data: Bytes, offset: u64) -> io::Result<PendingWrite> {
        self.enter("submit_write")?;
        let len = data.len();
        let result = self
            .inner
            .submit_write(file, data.clone(), offset)
            .and_then(PendingWrite::wait);
        if result.is_ok() {
            self.lock().image(file).record(Op::Write { offset, data });
        }
        Ok(PendingWrite::done(result.map(|()| len), len))
    }

    fn read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> (io::Result<usize>, AlignedBuf) {
        if self.is_cut() {
            return (Err(eio()), buf);
        }
        self.inner.read(file, buf, offset, len)
    }

    fn sync_data(&self, file: &Arc<File>) -> io::Result<()> {
        self.enter("sync_data")?;
        // What is there before the sync starts is durable once it returns; what completes
        // meanwhile may or may not be.
        let (covered, contents) = {
            let mut state = self.lock();
            let contents = if state.mapped {
                Some(std::fs::read(state.path_of(file))?)
            } else {
                None
            };
            (state.image(file).pending_len(), contents)
        };
        self.inner.sync_data(file)?;
        let mut state = self.lock();
        match contents {
            Some(contents) => state.image(file).sync_to(covered, contents),
            None => state.image(file).sync(covered),
        }
        Ok(())
    }

    // The engine's early syncs (submitted while appends go on) come through `sync_data` above,
    // by the default `submit_sync_data`, as on the wrapped ring they would run asynchronously.
    fn syncs_async(&self) -> bool {
        self.inner.syncs_async()
    }

    fn allocate(&self, file: &Arc<File>, offset: u64, len: u64) -> io::Result<()> {
        self.enter("allocate")?;
        self.inner.allocate(file, offset, len)?;
        self.lock().image(file).record(Op::Allocate { offset, len });
        Ok(())
    }

    fn set_len(&self, file: &Arc<File>, len: u64) -> io::Result<()> {
        self.enter("set_len")?;
        self.inner.set_len(file, len)?;
        self.lock().image(file).record(Op::SetLen(len));
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.enter("rename")?;
        self.inner.rename(from, to)?;
        let mut state = self.lock();
        if let Some(image) = state.files.remove(from) {
            state.files.insert(to.to_path_buf(), image);
        }
        for (_, path) in state.handles.values_mut() {
            if path == from {
                *path = to.to_path_buf();
            }
        }
        Ok(())
    }

    // Namespace operations are mutating calls like the rest (the cut can land on any of them,
    // and nothing gets through after it). Small files are written whole and fsynced, so their
    // contents are durable when the call returns and only their directory entries are at
    // risk, which `dirs.rs` models like every other entry.

    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.enter("write_file")?;
        self.inner.write_file(path, bytes)
    }

    fn read_file(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
        if self.is_cut() {
            return Err(eio());
        }
        self.inner.read_file(path, max_bytes)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.enter("remove_file")?;
        self.inner.remove_file(path)
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.enter("remove_dir_all")?;
        self.inner.remove_dir_all(dir)
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        self.enter("create_dir")?;
        self.inner.create_dir(dir)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
        if self.is_cut() {
            return Err(eio());
        }
        self.inner.list_dir(dir)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        if self.is_cut() {
            return Err(eio());
        }
        self.inner.exists(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.enter("sync_dir")?;
        // The entries there before the fsync starts are durable once it returns.
        let durable = self.lock().listing(dir);
        self.inner.sync_dir(dir)?;
        let dir_state = DirState {
            durable,
            at_cut: None,
        };
        self.lock().dirs.insert(dir.to_path_buf(), dir_state);
        Ok(())
    }

    fn sync_mapped(&self, map: &MapReader, offset: usize, len: usize) -> io::Result<()> {
        self.enter("sync_mapped")?;
        let Some(published) = map.bytes(offset, len).filter(|_| len > 0) else {
            return self.inner.sync_mapped(map, offset, len);
        };
        // msync writes back whole pages; what they hold before it starts is durable once it
        // returns.
        let page = ringlog::shared::PAGE_BYTES;
        let start = offset / page * page;
        let (path, covered, bytes) = {
            let mut state = self.lock();
            let path = state.mapped_file(&published, offset as u64);
            let mut bytes = vec![0; (offset + len).next_multiple_of(page) - start];
            let read = File::open(&path)?.read_at(&mut bytes, start as u64)?;
            bytes.truncate(read);
            let image = state.files.get_mut(&path).expect("matched above");
            (path, image.pending_len(), bytes)
        };
        self.inner.sync_mapped(map, offset, len)?;
        let mut state = self.lock();
        let image = state.files.get_mut(&path).expect("matched above");
        image.sync_range(covered, start as u64, &bytes);
        Ok(())
    }
}
