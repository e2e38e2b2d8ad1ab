//! The I/O seam: every byte the engine moves to or from a segment file goes through one
//! [`Storage`]. Two paths implement it: io_uring ([`uring`]) and positional syscalls
//! ([`portable`]). Tests add wrappers behind the same trait. Short reads and writes are
//! looped to completion in [`short`].

pub(crate) mod files;
#[cfg(feature = "mmap")]
pub mod mmap;
mod pending_read;
mod pending_sync;
pub mod portable;
mod short;
pub mod uring;

pub use pending_read::PendingRead;
pub(crate) use pending_read::finish_read;
pub use pending_sync::PendingSync;
pub(crate) use short::read_at_least;
use short::{WriteProgress, read_until};

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ringlog_sys::AlignedBuf;

/// The I/O path a log runs on, as reported by [`crate::Log::io_path`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoPath {
    /// io_uring with O_DIRECT.
    UringDirect,
    /// io_uring, buffered (the filesystem refuses O_DIRECT).
    UringBuffered,
    /// `pread`/`pwrite` with O_DIRECT.
    PortableDirect,
    /// `pread`/`pwrite`, buffered.
    PortableBuffered,
    /// Memory-mapped segments through the page cache (cargo feature `mmap`).
    Mmap,
}

impl IoPath {
    /// A short name for logs and reports, e.g. `io_uring+O_DIRECT`.
    pub fn name(self) -> &'static str {
        match self {
            IoPath::UringDirect => "io_uring+O_DIRECT",
            IoPath::UringBuffered => "io_uring+buffered",
            IoPath::PortableDirect => "pread/pwrite+O_DIRECT",
            IoPath::PortableBuffered => "pread/pwrite+buffered",
            IoPath::Mmap => "mmap",
        }
    }

    /// Whether files are opened with O_DIRECT.
    pub fn is_direct(self) -> bool {
        matches!(self, IoPath::UringDirect | IoPath::PortableDirect)
    }
}

impl std::fmt::Display for IoPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A write submitted to a [`Storage`]; it owns its bytes until it completes.
pub struct PendingWrite {
    state: PendingState,
    expected_bytes: usize,
}

enum PendingState {
    /// On the ring: `ticket` carries the bytes from `progress.from()` on; a short completion is
    /// submitted again for its rest.
    Ring {
        ring: Arc<ringlog_sys::Ring>,
        ticket: ringlog_sys::Ticket<Bytes>,
        file: Arc<File>,
        progress: WriteProgress,
    },
    Done(io::Result<usize>),
}

/// What became of a ring write after one completion.
enum RingStep {
    Finished(io::Result<()>),
    Resubmitted(ringlog_sys::Ticket<Bytes>),
}

impl PendingWrite {
    /// A write that already completed (synchronous paths and test wrappers). A result short of
    /// `expected_bytes` is final: [`PendingWrite::wait`] reports it as an error.
    pub fn done(result: io::Result<usize>, expected_bytes: usize) -> Self {
        PendingWrite {
            state: PendingState::Done(result),
            expected_bytes,
        }
    }

    /// A write of `len` bytes at `offset` submitted whole on `ring` as `ticket`; continuations
    /// of short completions stay multiples of `align`.
    fn on_ring(
        ring: Arc<ringlog_sys::Ring>,
        ticket: ringlog_sys::Ticket<Bytes>,
        file: &Arc<File>,
        (offset, len, align): (u64, usize, usize),
    ) -> Self {
        PendingWrite {
            state: PendingState::Ring {
                ring,
                ticket,
                file: Arc::clone(file),
                progress: WriteProgress::new(offset, len, align),
            },
            expected_bytes: len,
        }
    }

    /// Blocks until the write completed. On the ring, a short completion is continued with the
    /// rest of the bytes until all are written.
    ///
    /// # Errors
    /// The write's error. A write that cannot be completed is an error too (`WriteZero`, a
    /// message that starts "short write"): a storage that reported a short result as final, or
    /// a ring completion of 0 bytes; the engine never leaves a write half done silently.
    pub fn wait(self) -> io::Result<()> {
        let expected = self.expected_bytes;
        match self.state {
            PendingState::Ring {
                ring,
                mut ticket,
                file,
                mut progress,
            } => loop {
                let completion = ring.wait(ticket);
                match ring_step(&ring, &file, &mut progress, completion) {
                    RingStep::Finished(result) => return result,
                    RingStep::Resubmitted(next) => ticket = next,
                }
            },
            PendingState::Done(result) => check_complete(result, expected),
        }
    }

    /// The result if the write already completed, else the write back (after a short
    /// completion, with its rest submitted).
    ///
    /// # Errors
    /// As [`PendingWrite::wait`].
    pub fn try_wait(self) -> Result<io::Result<()>, PendingWrite> {
        let expected = self.expected_bytes;
        match self.state {
            PendingState::Ring {
                ring,
                ticket,
                file,
                mut progress,
            } => {
                let ticket = match ring.try_wait(ticket) {
                    Ok(completion) => match ring_step(&ring, &file, &mut progress, completion) {
                        RingStep::Finished(result) => return Ok(result),
                        RingStep::Resubmitted(next) => next,
                    },
                    Err(ticket) => ticket,
                };
                Err(PendingWrite {
                    state: PendingState::Ring {
                        ring,
                        ticket,
                        file,
                        progress,
                    },
                    expected_bytes: expected,
                })
            }
            PendingState::Done(result) => Ok(check_complete(result, expected)),
        }
    }
}

/// Takes one completion of a ring write: finished (done or failed), or the rest submitted.
/// `bytes` are the ones the completed submission carried, from `progress.from()` on.
fn ring_step(
    ring: &ringlog_sys::Ring,
    file: &Arc<File>,
    progress: &mut WriteProgress,
    (result, bytes): (io::Result<usize>, Bytes),
) -> RingStep {
    let submitted_from = progress.from();
    match progress.on_completion(result) {
        Ok(None) => RingStep::Finished(Ok(())),
        Ok(Some(from)) => {
            let rest = bytes.slice(from - submitted_from..);
            let offset = progress.offset_of(from);
            match ring.submit_write(file, rest, offset) {
                Ok(ticket) => RingStep::Resubmitted(ticket),
                Err(e) => RingStep::Finished(Err(e)),
            }
        }
        Err(e) => RingStep::Finished(Err(e)),
    }
}

fn check_complete(result: io::Result<usize>, expected: usize) -> io::Result<()> {
    let written = result?;
    if written == expected {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("short write: {written} of {expected} bytes"),
        ))
    }
}

/// How the engine reads and writes segment files. Writes are submitted and completed
/// separately so that several can be in flight; everything else is synchronous.
pub trait Storage: Send + Sync + 'static {
    /// The path this storage implements.
    fn io_path(&self) -> IoPath;

    /// Alignment of offsets, lengths and memory of reads and writes (1 for buffered paths).
    fn alignment(&self) -> usize;

    /// Opens (and with `create`, creates) a segment file for reading and writing.
    ///
    /// # Errors
    /// The operating system's error.
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<File>>;

    /// Starts writing `data` at `offset`. `data` must be aligned as [`Storage::alignment`]
    /// asks, in address, offset and length.
    ///
    /// # Errors
    /// A submission failure; the write's own result comes from [`PendingWrite::wait`].
    fn submit_write(&self, file: &Arc<File>, data: Bytes, offset: u64) -> io::Result<PendingWrite>;

    /// Reads up to `len` bytes at `offset` into `buf[..len]`, giving the buffer back with its
    /// length set to the bytes read. The paths of this crate read until `len` bytes are in or
    /// the file ends, but a read may still come back short (a wrapper, a kernel that stops
    /// early): the engine reads through `read_at_least`, which continues short reads and checks
    /// the count against the bytes the file holds.
    fn read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> (io::Result<usize>, AlignedBuf);

    /// Whether [`Storage::submit_read`] returns without waiting for the read: only then does a
    /// sequential fetch keep reads in flight ahead of its consumer (`crate::log::read_ahead`).
    /// Wrappers that override [`Storage::read`] keep the default, so their reads stay theirs.
    fn reads_async(&self) -> bool {
        false
    }

    /// Starts a read as [`Storage::read`] does; its result, which may be short, comes from the
    /// [`PendingRead`]. The default reads at once and returns it done.
    fn submit_read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> PendingRead {
        let (result, buf) = self.read(file, buf, offset, len);
        PendingRead::done(result, buf)
    }

    /// `fdatasync` of the file.
    ///
    /// # Errors
    /// The operating system's error: the data may be lost, and the caller poisons the log.
    fn sync_data(&self, file: &Arc<File>) -> io::Result<()>;

    /// Whether [`Storage::submit_sync_data`] returns without waiting for the `fdatasync`:
    /// only then does the write path start syncs early, while appends go on (it never blocks
    /// on I/O under a log's writer lock). Wrappers forward their inner storage's answer.
    fn syncs_async(&self) -> bool {
        false
    }

    /// Submits an `fdatasync` of the file; it covers the writes completed before the call.
    /// The default runs [`Storage::sync_data`] and returns it done.
    ///
    /// # Errors
    /// The submission failed (the completion's error comes from [`PendingSync::wait`]).
    fn submit_sync_data(&self, file: &Arc<File>) -> io::Result<PendingSync> {
        Ok(PendingSync::done(self.sync_data(file)))
    }

    /// Preallocates `[offset, offset + len)` (`fallocate` mode 0, extending the size).
    ///
    /// # Errors
    /// The operating system's error (ENOSPC when the disk is full).
    fn allocate(&self, file: &Arc<File>, offset: u64, len: u64) -> io::Result<()>;

    /// Sets the file's size (`ftruncate`).
    ///
    /// # Errors
    /// The operating system's error.
    fn set_len(&self, file: &Arc<File>, len: u64) -> io::Result<()>;

    // Namespace operations: small whole files and directory entries. Every file the engine
    // keeps besides segment data (index files, the clean-shutdown marker, the cleaner
    // checkpoint, topic metadata, a compaction pass's manifest) and every directory change
    // goes through these, so wrappers see and can fail all of them.

    /// Creates or replaces the small file `path` with `bytes` and makes its content durable
    /// (`fsync`); its name is durable once [`Storage::sync_dir`] of its directory returns.
    ///
    /// # Errors
    /// The operating system's error.
    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;

    /// The whole of the small file `path`; `InvalidData` when it holds more than `max_bytes`.
    ///
    /// # Errors
    /// The operating system's error (`NotFound` for a missing file).
    fn read_file(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>>;

    /// Removes the file `path`.
    ///
    /// # Errors
    /// The operating system's error (`NotFound` for a missing file).
    fn remove_file(&self, path: &Path) -> io::Result<()>;

    /// Removes the directory `dir` and everything in it.
    ///
    /// # Errors
    /// The operating system's error (`NotFound` for a missing directory).
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()>;

    /// Creates the directory `dir`, whose parent exists.
    ///
    /// # Errors
    /// The operating system's error (`AlreadyExists` when it exists).
    fn create_dir(&self, dir: &Path) -> io::Result<()>;

    /// Names of the entries of `dir`.
    ///
    /// # Errors
    /// The operating system's error.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<std::ffi::OsString>>;

    /// Whether `path` names an entry.
    ///
    /// # Errors
    /// The operating system's error, other than `NotFound`.
    fn exists(&self, path: &Path) -> io::Result<bool>;

    /// Renames a file (`rename(2)`), replacing `to` if it exists. The engine's only renames
    /// are the steps of crash-safe swaps (compaction, topic metadata, the cleaner checkpoint);
    /// durability of the new name follows from [`Storage::sync_dir`].
    ///
    /// # Errors
    /// The operating system's error.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Makes a directory's entries durable (after creating, renaming or deleting files).
    ///
    /// # Errors
    /// The operating system's error.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;

    /// `msync` of `[offset, offset + len)` of a segment's mapping (the mmap path's `Sync`
    /// durability). Part of the seam, with no default, so that every wrapper (fault injection,
    /// crash simulation) decides what happens to it.
    ///
    /// # Errors
    /// The operating system's error: the data may be lost, and the caller poisons the log.
    fn sync_mapped(
        &self,
        map: &ringlog_sys::mmap::MapReader,
        offset: usize,
        len: usize,
    ) -> io::Result<()>;
}

/// Creates `dir` and its missing parents, and makes each new entry durable by syncing the
/// directory that holds it (`sync_dir`): a directory known only to the page cache can vanish at
/// a power loss with every file in it, synced or not.
///
/// # Errors
/// What failed (`create directory` or `fsync directory`), where, and the operating system's
/// error.
pub(crate) fn create_dir_durable(
    storage: &dyn Storage,
    dir: &Path,
) -> Result<(), (&'static str, std::path::PathBuf, io::Error)> {
    let mut missing = Vec::new();
    for ancestor in dir.ancestors().filter(|d| !d.as_os_str().is_empty()) {
        match storage.exists(ancestor) {
            Ok(true) => break,
            Ok(false) => missing.push(ancestor),
            Err(source) => return Err(("look for directory", ancestor.to_path_buf(), source)),
        }
    }
    // Outermost first, each entry made durable in its parent before anything goes into it.
    for new_dir in missing.into_iter().rev() {
        match storage.create_dir(new_dir) {
            Ok(()) => {}
            // Created meanwhile by someone else: it exists, which is all that is asked.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(("create directory", new_dir.to_path_buf(), source)),
        }
        let parent = new_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        storage
            .sync_dir(parent)
            .map_err(|source| ("fsync directory", parent.to_path_buf(), source))?;
    }
    Ok(())
}

/// Implements the namespace operations of [`Storage`] with the standard library
/// (`crate::io::files`), for the real paths.
macro_rules! std_namespace {
    () => {
        fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
            crate::io::files::write_file(path, bytes)
        }

        fn read_file(&self, path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
            crate::io::files::read_file(path, max_bytes)
        }

        fn remove_file(&self, path: &Path) -> io::Result<()> {
            std::fs::remove_file(path)
        }

        fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
            std::fs::remove_dir_all(dir)
        }

        fn create_dir(&self, dir: &Path) -> io::Result<()> {
            std::fs::create_dir(dir)
        }

        fn list_dir(&self, dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
            crate::io::files::list_dir(dir)
        }

        fn exists(&self, path: &Path) -> io::Result<bool> {
            crate::io::files::exists(path)
        }

        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            std::fs::rename(from, to)
        }

        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            ringlog_sys::file::fsync_dir(dir)
        }
    };
}
pub(crate) use std_namespace;

/// Forwards the namespace operations a wrapper does not intercept (`write_file`, `read_file`,
/// `remove_file`, `remove_dir_all`, `create_dir`, `list_dir`, `exists`) to the wrapped storage
/// in field `$inner`: for test wrappers that only care about segment I/O or renames.
#[doc(hidden)]
#[macro_export]
macro_rules! forward_namespace {
    ($inner:tt) => {
        fn write_file(&self, path: &::std::path::Path, bytes: &[u8]) -> ::std::io::Result<()> {
            self.$inner.write_file(path, bytes)
        }

        fn read_file(
            &self,
            path: &::std::path::Path,
            max_bytes: u64,
        ) -> ::std::io::Result<Vec<u8>> {
            self.$inner.read_file(path, max_bytes)
        }

        fn remove_file(&self, path: &::std::path::Path) -> ::std::io::Result<()> {
            self.$inner.remove_file(path)
        }

        fn remove_dir_all(&self, dir: &::std::path::Path) -> ::std::io::Result<()> {
            self.$inner.remove_dir_all(dir)
        }

        fn create_dir(&self, dir: &::std::path::Path) -> ::std::io::Result<()> {
            self.$inner.create_dir(dir)
        }

        fn list_dir(
            &self,
            dir: &::std::path::Path,
        ) -> ::std::io::Result<Vec<::std::ffi::OsString>> {
            self.$inner.list_dir(dir)
        }

        fn exists(&self, path: &::std::path::Path) -> ::std::io::Result<bool> {
            self.$inner.exists(path)
        }
    };
}

/// Forwards the named [`Storage`] methods of segment I/O and directory entries unchanged to
/// the wrapped storage in field `$inner`, so a test wrapper writes out only the calls it
/// intercepts: `ringlog::forward_storage!(inner; io_path, alignment, open, read, sync_data)`.
/// Names: `io_path`, `alignment`, `open`, `submit_write`, `read`, `sync_data`, `syncs_async`
/// (a wrapper that intercepts `sync_data` and forwards this gets its early syncs through its
/// own `sync_data`, run by the default `submit_sync_data`), `allocate`,
/// `set_len`, `rename`, `sync_dir`, `sync_mapped` (the namespace operations have
/// [`forward_namespace!`](crate::forward_namespace)).
#[doc(hidden)]
#[macro_export]
macro_rules! forward_storage {
    ($inner:tt; $($method:ident),+ $(,)?) => {
        $($crate::forward_storage!(@one $inner $method);)+
    };
    (@one $inner:tt io_path) => {
        fn io_path(&self) -> $crate::io::IoPath {
            self.$inner.io_path()
        }
    };
    (@one $inner:tt alignment) => {
        fn alignment(&self) -> usize {
            self.$inner.alignment()
        }
    };
    (@one $inner:tt open) => {
        fn open(
            &self,
            path: &::std::path::Path,
            create: bool,
        ) -> ::std::io::Result<::std::sync::Arc<::std::fs::File>> {
            self.$inner.open(path, create)
        }
    };
    (@one $inner:tt submit_write) => {
        fn submit_write(
            &self,
            file: &::std::sync::Arc<::std::fs::File>,
            data: ::bytes::Bytes,
            offset: u64,
        ) -> ::std::io::Result<$crate::io::PendingWrite> {
            self.$inner.submit_write(file, data, offset)
        }
    };
    (@one $inner:tt read) => {
        fn read(
            &self,
            file: &::std::sync::Arc<::std::fs::File>,
            buf: ::ringlog_sys::AlignedBuf,
            offset: u64,
            len: usize,
        ) -> (::std::io::Result<usize>, ::ringlog_sys::AlignedBuf) {
            self.$inner.read(file, buf, offset, len)
        }
    };
    (@one $inner:tt syncs_async) => {
        fn syncs_async(&self) -> bool {
            self.$inner.syncs_async()
        }
    };
    (@one $inner:tt sync_data) => {
        fn sync_data(&self, file: &::std::sync::Arc<::std::fs::File>) -> ::std::io::Result<()> {
            self.$inner.sync_data(file)
        }
    };
    (@one $inner:tt allocate) => {
        fn allocate(
            &self,
            file: &::std::sync::Arc<::std::fs::File>,
            offset: u64,
            len: u64,
        ) -> ::std::io::Result<()> {
            self.$inner.allocate(file, offset, len)
        }
    };
    (@one $inner:tt set_len) => {
        fn set_len(
            &self,
            file: &::std::sync::Arc<::std::fs::File>,
            len: u64,
        ) -> ::std::io::Result<()> {
            self.$inner.set_len(file, len)
        }
    };
    (@one $inner:tt rename) => {
        fn rename(&self, from: &::std::path::Path, to: &::std::path::Path) -> ::std::io::Result<()> {
            self.$inner.rename(from, to)
        }
    };
    (@one $inner:tt sync_dir) => {
        fn sync_dir(&self, dir: &::std::path::Path) -> ::std::io::Result<()> {
            self.$inner.sync_dir(dir)
        }
    };
    (@one $inner:tt sync_mapped) => {
        fn sync_mapped(
            &self,
            map: &::ringlog_sys::mmap::MapReader,
            offset: usize,
            len: usize,
        ) -> ::std::io::Result<()> {
            self.$inner.sync_mapped(map, offset, len)
        }
    };
}

/// Opens a file for a storage path: with O_DIRECT or buffered.
pub(crate) fn open_file(path: &Path, create: bool, direct: bool) -> io::Result<Arc<File>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(create);
    let file = if direct {
        ringlog_sys::direct::open_direct(path, &options)?
    } else {
        options.open(path)?
    };
    Ok(Arc::new(file))
}

/// Positional read with the standard library, used by the portable path: `read_at` looped until
/// `len` bytes or the end of the file, continuations aligned to `align` (see [`short`]).
pub(crate) fn pread(
    file: &File,
    buf: AlignedBuf,
    offset: u64,
    len: usize,
    align: usize,
) -> (io::Result<usize>, AlignedBuf) {
    use std::os::unix::fs::FileExt;
    assert!(
        len <= buf.capacity(),
        "read of {len} bytes into a {}-byte buffer",
        buf.capacity()
    );
    read_until(buf, len, len, align, |mut buf, start| {
        let result = file.read_at(&mut buf.full_mut()[start..len], offset + start as u64);
        (result, buf)
    })
}
