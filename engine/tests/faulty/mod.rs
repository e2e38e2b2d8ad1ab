//! A fault-injecting [`Storage`] for the integration tests: it forwards every call to the real
//! storage, counts calls per operation, and fails the calls a plan of [`Fault`]s names, once
//! each, with EIO or ENOSPC, or completes a write short. A fault is transient: the call after
//! it goes to the real storage again, so a log that keeps going after a failure shows it.
//!
//! What each [`Op`] counts:
//!
//! | op | counts calls of | a fault makes it |
//! |---|---|---|
//! | `Open` | `open` | return the error; nothing is opened or created |
//! | `SubmitWrite` | `submit_write` | return the error: the submission itself fails |
//! | `Write` | `submit_write` | complete with the error (nothing written), or short: the first half of the bytes, rounded down to the alignment, are written and the completion says so |
//! | `Read` | `read` | return the error, the buffer unchanged |
//! | `SubmitRead` | `submit_read` (read-ahead; only after [`Faulty::forward_async_reads`]) | complete with the error, the buffer unchanged |
//! | `SyncData` | `sync_data` | return the error without syncing |
//! | `SyncMapped` | `sync_mapped` | return the error without syncing (the mmap path's `Sync`) |
//! | `Allocate` | `allocate` | return the error; nothing allocated |
//! | `SetLen` | `set_len` | return the error; the size is unchanged |
//! | `Rename` | `rename` | return the error; nothing renamed |
//! | `SyncDir` | `sync_dir` | return the error without syncing |
//! | `WriteFile` | `write_file` (index files, marker, checkpoint, metadata, `.replaces`) | return the error; nothing written |
//! | `ReadFile` | `read_file` | return the error |
//! | `RemoveFile` | `remove_file` | return the error; nothing removed |
//! | `RemoveDir` | `remove_dir_all` | return the error; nothing removed |
//! | `CreateDir` | `create_dir` | return the error; nothing created |
//! | `ListDir` | `list_dir` | return the error |
//! | `Exists` | `exists` | return the error |
//!
//! On the mmap path appends are copies into the mapping: they make no `submit_write` call and
//! reach the disk through `sync_mapped` (and `sync_data` when a segment is sealed).

// Each test crate uses a different subset of the wrapper.
#![allow(
    dead_code,
    reason = "each test crate uses a different subset of the wrapper"
)]

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use ringlog::io::{IoPath, PendingRead, PendingWrite, Storage};
use ringlog::{OpenError, Shared, SharedConfig};
use ringlog_sys::AlignedBuf;
use ringlog_sys::mmap::MapReader;

/// Linux's EIO: what a failing device reports.
pub const EIO: i32 = 5;
/// Linux's ENOSPC: the filesystem is full.
pub const ENOSPC: i32 = 28;

/// A kind of storage call, as the plan and the counters name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// `Storage::open`.
    Open,
    /// The submission of `Storage::submit_write`.
    SubmitWrite,
    /// The completion of a write (`PendingWrite::wait`); counts `submit_write` calls.
    Write,
    /// `Storage::read`.
    Read,
    /// `Storage::submit_read`: read-ahead's reads, forwarded to the wrapped storage only after
    /// [`Faulty::forward_async_reads`] (before, the default `submit_read` calls `read`).
    SubmitRead,
    /// `Storage::sync_data` (fdatasync).
    SyncData,
    /// `Storage::sync_mapped` (msync, mmap path).
    SyncMapped,
    /// `Storage::allocate` (fallocate).
    Allocate,
    /// `Storage::set_len` (ftruncate).
    SetLen,
    /// `Storage::rename`.
    Rename,
    /// `Storage::sync_dir` (fsync of a directory).
    SyncDir,
    /// `Storage::write_file` (a small file, written whole and fsynced).
    WriteFile,
    /// `Storage::read_file`.
    ReadFile,
    /// `Storage::remove_file`.
    RemoveFile,
    /// `Storage::remove_dir_all`.
    RemoveDir,
    /// `Storage::create_dir`.
    CreateDir,
    /// `Storage::list_dir`.
    ListDir,
    /// `Storage::exists`.
    Exists,
}

impl Op {
    /// Every op, in counter order.
    pub const ALL: [Op; 18] = [
        Op::Open,
        Op::SubmitWrite,
        Op::Write,
        Op::Read,
        Op::SubmitRead,
        Op::SyncData,
        Op::SyncMapped,
        Op::Allocate,
        Op::SetLen,
        Op::Rename,
        Op::SyncDir,
        Op::WriteFile,
        Op::ReadFile,
        Op::RemoveFile,
        Op::RemoveDir,
        Op::CreateDir,
        Op::ListDir,
        Op::Exists,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::Open => "open",
            Op::SubmitWrite => "submit_write",
            Op::Write => "write",
            Op::Read => "read",
            Op::SubmitRead => "submit_read",
            Op::SyncData => "sync_data",
            Op::SyncMapped => "sync_mapped",
            Op::Allocate => "allocate",
            Op::SetLen => "set_len",
            Op::Rename => "rename",
            Op::SyncDir => "sync_dir",
            Op::WriteFile => "write_file",
            Op::ReadFile => "read_file",
            Op::RemoveFile => "remove_file",
            Op::RemoveDir => "remove_dir_all",
            Op::CreateDir => "create_dir",
            Op::ListDir => "list_dir",
            Op::Exists => "exists",
        }
    }

    fn index(self) -> usize {
        Op::ALL
            .iter()
            .position(|&op| op == self)
            .expect("every op is in ALL")
    }
}

/// How a call fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// The call fails with EIO.
    Eio,
    /// The call fails with ENOSPC.
    Enospc,
    /// The write completes with fewer bytes than asked ([`Op::Write`] only).
    ShortWrite,
}

impl FaultKind {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Eio => "EIO",
            FaultKind::Enospc => "ENOSPC",
            FaultKind::ShortWrite => "short write",
        }
    }

    /// The error the call returns (for `ShortWrite`, the one `PendingWrite::wait` reports).
    fn error(self) -> io::Error {
        match self {
            FaultKind::Eio => io::Error::from_raw_os_error(EIO),
            FaultKind::Enospc => io::Error::from_raw_os_error(ENOSPC),
            FaultKind::ShortWrite => unreachable!("a short write is a completion, not an error"),
        }
    }

    /// Text the engine's error message must contain: the operating system's message, or the
    /// short-write report of `PendingWrite::wait`.
    pub fn message(self) -> &'static str {
        match self {
            FaultKind::Eio => "os error 5",
            FaultKind::Enospc => "os error 28",
            FaultKind::ShortWrite => "short write",
        }
    }
}

/// One planned failure: the `nth` call (1-based, counted from when it was armed) of `op` fails
/// as `kind` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fault {
    /// The kind of call.
    pub op: Op,
    /// Which call, counting from 1 at the moment the fault is armed.
    pub nth: u64,
    /// How it fails.
    pub kind: FaultKind,
}

/// A fault that fired, and the call it hit.
#[derive(Clone, Debug)]
pub struct Fired {
    /// The fault.
    pub fault: Fault,
    /// The call: its file, offset and length where it has them.
    pub call: String,
}

/// The storage wrapper. Build it with [`Faulty::shared`].
pub struct Faulty {
    inner: Arc<dyn Storage>,
    /// Calls per op since the wrapper was made. Relaxed: each counter is only ever incremented
    /// and read as a number; which call a fault hits is decided from the value the increment
    /// returned, so no other memory is ordered by it.
    calls: [AtomicU64; Op::ALL.len()],
    /// Armed faults, each with the absolute call number it fails.
    plan: Mutex<Vec<(Fault, u64)>>,
    fired: Mutex<Vec<Fired>>,
    /// Whether `reads_async` and `submit_read` go to the wrapped storage (read-ahead runs on
    /// the wrapper as on the ring), see [`Faulty::forward_async_reads`].
    async_reads: AtomicBool,
}

impl Faulty {
    /// A [`Shared`] for `data_dir` whose storage is wrapped, and the wrapper.
    ///
    /// # Errors
    /// As [`Shared::new`].
    pub fn shared(
        data_dir: &Path,
        config: &SharedConfig,
    ) -> Result<(Arc<Shared>, Arc<Faulty>), OpenError> {
        let mut faulty = None;
        let shared = Shared::with_storage(data_dir, config, |inner| {
            let wrapper = Arc::new(Faulty {
                inner,
                calls: std::array::from_fn(|_| AtomicU64::new(0)),
                plan: Mutex::new(Vec::new()),
                fired: Mutex::new(Vec::new()),
                async_reads: AtomicBool::new(false),
            });
            faulty = Some(Arc::clone(&wrapper));
            wrapper
        })?;
        Ok((shared, faulty.expect("with_storage calls the wrapper")))
    }

    /// Arms `fault`: its `nth` counts calls of its op from now (exactly so when no other
    /// thread is calling the storage meanwhile).
    ///
    /// # Panics
    /// For a short write on any op but [`Op::Write`], or `nth` 0.
    pub fn arm(&self, fault: Fault) {
        assert!(fault.nth >= 1, "calls are counted from 1: {fault:?}");
        assert!(
            fault.kind != FaultKind::ShortWrite || fault.op == Op::Write,
            "only a write completion can be short: {fault:?}"
        );
        let at = self.calls(fault.op) + fault.nth;
        self.lock_plan().push((fault, at));
    }

    /// From now on, reads submitted without waiting (`submit_read`, read-ahead's) go to the
    /// wrapped storage as such, counted as [`Op::SubmitRead`], where it has them (io_uring).
    /// Off by default: the fault sweeps expect every failed read to fail a fetch, and a read
    /// ahead that nobody consumes fails nobody.
    pub fn forward_async_reads(&self) {
        self.async_reads.store(true, Ordering::Relaxed);
    }

    /// Drops every fault that has not fired.
    pub fn disarm(&self) {
        self.lock_plan().clear();
    }

    /// Calls of `op` so far.
    pub fn calls(&self, op: Op) -> u64 {
        self.calls[op.index()].load(Ordering::Relaxed)
    }

    /// Calls of every op so far.
    pub fn all_calls(&self) -> Vec<(Op, u64)> {
        Op::ALL.iter().map(|&op| (op, self.calls(op))).collect()
    }

    /// The faults that fired, in order.
    pub fn fired(&self) -> Vec<Fired> {
        self.fired.lock().expect("fired lock poisoned").clone()
    }

    /// Number of faults that fired.
    pub fn fired_count(&self) -> usize {
        self.fired.lock().expect("fired lock poisoned").len()
    }

    fn lock_plan(&self) -> MutexGuard<'_, Vec<(Fault, u64)>> {
        self.plan.lock().expect("plan lock poisoned")
    }

    /// Counts a call of `op`; the fault planned for it, if any (then recorded as fired).
    fn check(&self, op: Op, call: impl FnOnce() -> String) -> Option<FaultKind> {
        let n = self.calls[op.index()].fetch_add(1, Ordering::Relaxed) + 1;
        let mut plan = self.lock_plan();
        let i = plan.iter().position(|&(f, at)| f.op == op && at == n)?;
        let (fault, _) = plan.swap_remove(i);
        drop(plan);
        self.fired.lock().expect("fired lock poisoned").push(Fired {
            fault,
            call: call(),
        });
        Some(fault.kind)
    }

    /// A short write: the first half of `data` (rounded down to the alignment, maybe nothing)
    /// really written, and a completion that reports that many bytes.
    fn short_write(&self, file: &Arc<File>, data: &Bytes, offset: u64) -> PendingWrite {
        let len = data.len();
        let align = self.inner.alignment().max(1);
        let short = len / 2 / align * align;
        let result = if short == 0 {
            Ok(0)
        } else {
            self.inner
                .submit_write(file, data.slice(..short), offset)
                .and_then(PendingWrite::wait)
                .map(|()| short)
        };
        PendingWrite::done(result, len)
    }
}

fn describe(file: &File) -> String {
    // The descriptor's path, for reports (`/proc/self/fd` names the file it points at).
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .map_or_else(|_| "?".to_owned(), |p| p.display().to_string())
}

impl Storage for Faulty {
    fn io_path(&self) -> IoPath {
        self.inner.io_path()
    }

    fn alignment(&self) -> usize {
        self.inner.alignment()
    }

    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<File>> {
        if let Some(kind) = self.check(Op::Open, || path.display().to_string()) {
            return Err(kind.error());
        }
        self.inner.open(path, create)
    }

    fn submit_write(&self, file: &Arc<File>, data: Bytes, offset: u64) -> io::Result<PendingWrite> {
        // Both ops count every call; should both fire on one call, the submission fails.
        let call = || format!("{} at {offset}, {} bytes", describe(file), data.len());
        let submit = self.check(Op::SubmitWrite, call);
        let complete = self.check(Op::Write, call);
        if let Some(kind) = submit {
            return Err(kind.error());
        }
        match complete {
            None => self.inner.submit_write(file, data, offset),
            Some(FaultKind::ShortWrite) => Ok(self.short_write(file, &data, offset)),
            Some(kind) => Ok(PendingWrite::done(Err(kind.error()), data.len())),
        }
    }

    fn read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> (io::Result<usize>, AlignedBuf) {
        let call = || format!("{} at {offset}, {len} bytes", describe(file));
        if let Some(kind) = self.check(Op::Read, call) {
            return (Err(kind.error()), buf);
        }
        self.inner.read(file, buf, offset, len)
    }

    fn reads_async(&self) -> bool {
        self.async_reads.load(Ordering::Relaxed) && self.inner.reads_async()
    }

    fn submit_read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> PendingRead {
        if !self.async_reads.load(Ordering::Relaxed) {
            let (result, buf) = self.read(file, buf, offset, len);
            return PendingRead::done(result, buf);
        }
        let call = || format!("{} at {offset}, {len} bytes", describe(file));
        if let Some(kind) = self.check(Op::SubmitRead, call) {
            return PendingRead::done(Err(kind.error()), buf);
        }
        self.inner.submit_read(file, buf, offset, len)
    }

    fn sync_data(&self, file: &Arc<File>) -> io::Result<()> {
        if let Some(kind) = self.check(Op::SyncData, || describe(file)) {
            return Err(kind.error());
        }
        self.inner.sync_data(file)
    }

    // The engine's early syncs (submitted while appends go on) come through `sync_data` above,
    // by the default `submit_sync_data`, as on the wrapped ring they would run asynchronously.
    fn syncs_async(&self) -> bool {
        self.inner.syncs_async()
    }

    fn allocate(&self, file: &Arc<File>, offset: u64, len: u64) -> io::Result<()> {
        let call = || format!("{} at {offset}, {len} bytes", describe(file));
        if let Some(kind) = self.check(Op::Allocate, call) {
            return Err(kind.error());
        }
        self.inner.allocate(file, offset, len)
    }

    fn set_len(&self, file: &Arc<File>, len: u64) -> io::Result<()> {
        let call = || format!("{} to {len} bytes", describe(file));
        if let Some(kind) = self.check(Op::SetLen, call) {
            return Err(kind.error());
        }
        self.inner.set_len(file, len)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let call = || format!("{} to {}", from.display(), to.display());
        if let Some(kind) = self.check(Op::Rename, call) {
            return Err(kind.error());
        }
        self.inner.rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if let Some(kind) = self.check(Op::SyncDir, || dir.display().to_string()) {
            return Err(kind.error());
        }
        self.inner.sync_dir(dir)
    }

    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let call = || format!("{}, {} bytes", path.display(), bytes.len());
        if let Some(kind) = self.check(Op::WriteFile, call) {
            return Err(kind.error());
        }
        self.inner.write_file(path, bytes)
    }

    fn read_file(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
        if let Some(kind) = self.check(Op::ReadFile, || path.display().to_string()) {
            return Err(kind.error());
        }
        self.inner.read_file(path, max_bytes)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        if let Some(kind) = self.check(Op::RemoveFile, || path.display().to_string()) {
            return Err(kind.error());
        }
        self.inner.remove_file(path)
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        if let Some(kind) = self.check(Op::RemoveDir, || dir.display().to_string()) {
            return Err(kind.error());
        }
        self.inner.remove_dir_all(dir)
    }

    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        if let Some(kind) = self.check(Op::CreateDir, || dir.display().to_string()) {
            return Err(kind.error());
        }
        self.inner.create_dir(dir)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
        if let Some(kind) = self.check(Op::ListDir, || dir.display().to_string()) {
            return Err(kind.error());
        }
        self.inner.list_dir(dir)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        if let Some(kind) = self.check(Op::Exists, || path.display().to_string()) {
            return Err(kind.error());
        }
        self.inner.exists(path)
    }

    fn sync_mapped(&self, map: &MapReader, offset: usize, len: usize) -> io::Result<()> {
        let call = || format!("mapping at {offset}, {len} bytes");
        if let Some(kind) = self.check(Op::SyncMapped, call) {
            return Err(kind.error());
        }
        self.inner.sync_mapped(map, offset, len)
    }
}
