//! The directory lock: one writing process per log directory (and per topic data directory).
//!
//! [`DirLock::acquire`] takes an exclusive `flock` on `.lock` in the directory before anything
//! in it is read or changed, and holds it until the log (or topic manager) is dropped. A second
//! opener, in this process or another, fails at once with [`OpenError::Locked`], which names the
//! directory and the holder's pid (written into the file by whoever holds the lock). Kafka
//! keeps a `.lock` in each log directory for the same reason.
//!
//! `flock` locks belong to the open file description: the kernel drops the lock when the
//! holder exits, however it exits (SIGKILL included), so a stale `.lock` file never blocks an
//! open. The file itself is left in place; its content is only a hint for the error message.
//! The release can trail the holder's death a little, though (the kernel tears down an
//! io_uring instance, and the files its workers share, asynchronously, after the process has
//! been reaped; seen here right after a SIGKILL), so when the pid in the file names a process
//! that no longer exists, [`DirLock::acquire`] waits up to [`DEAD_HOLDER_WAIT`] for the lock
//! before it reports [`OpenError::Locked`]. A live holder is reported at once.
//!
//! The pid may also be this process's own while this process holds no lock on the directory:
//! a lock it just released is still held by a child another thread was spawning at that moment
//! (between its fork and its exec the child holds a copy of every descriptor, close-on-exec
//! ones included). That copy goes at the child's exec, so that case waits too. Which
//! directories this process holds is kept in [`HELD`], so a second opener in this process is
//! still refused at once.
//!
//! Read-only opens ([`crate::Log::open_read_only`]) take no lock: they change nothing.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::OpenError;

/// Name of the lock file in a locked directory.
pub const LOCK_FILE: &str = ".lock";

/// How long [`DirLock::acquire`] waits for a lock whose recorded holder no longer exists.
pub const DEAD_HOLDER_WAIT: Duration = Duration::from_secs(5);

/// How often a lock held for a dead holder is tried again.
const DEAD_HOLDER_RETRY: Duration = Duration::from_millis(5);

/// The lock files (device, inode) this process holds a [`DirLock`] on.
static HELD: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

/// An exclusive lock on a directory, released when dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    /// Holds the `flock`; closing it releases the lock.
    _file: File,
    /// The lock file's identity in [`HELD`].
    id: (u64, u64),
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Before the file closes (fields drop after this): an opener that then finds the lock
        // still held by this pid waits instead of reporting a second opener.
        held().retain(|id| *id != self.id);
    }
}

fn held() -> std::sync::MutexGuard<'static, Vec<(u64, u64)>> {
    HELD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl DirLock {
    /// Locks `dir` (which must exist) for this process.
    ///
    /// # Errors
    /// [`OpenError::Locked`] when another opener holds the lock; [`OpenError::Io`] when the
    /// lock file cannot be created or locked for another reason.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock, OpenError> {
        let path = dir.join(LOCK_FILE);
        let io_error = |op, source| OpenError::Io {
            op,
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| io_error("create the lock file", source))?;
        let metadata = file
            .metadata()
            .map_err(|source| io_error("stat the lock file", source))?;
        let id = (metadata.dev(), metadata.ino());
        let deadline = Instant::now() + DEAD_HOLDER_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let holder_pid = read_pid(&mut file);
                    let passing = holder_pid.is_some_and(|pid| is_passing(pid, id));
                    if passing && Instant::now() < deadline {
                        std::thread::sleep(DEAD_HOLDER_RETRY);
                        continue;
                    }
                    return Err(OpenError::Locked {
                        dir: dir.to_path_buf(),
                        holder_pid,
                    });
                }
                Err(TryLockError::Error(source)) => return Err(io_error("lock", source)),
            }
        }
        // The pid is a hint for the next opener's message; failing to write it is no reason to
        // refuse the open.
        let _ = write_pid(&mut file);
        held().push(id);
        Ok(DirLock { _file: file, id })
    }
}

/// Whether the recorded holder `pid` of lock file `id` holds it only for a moment more: it no
/// longer exists (it exited and was reaped), or it is this process, which holds no lock on
/// `id` (a child being spawned holds a copy of the released descriptor until its exec).
fn is_passing(pid: u32, id: (u64, u64)) -> bool {
    if pid == std::process::id() {
        return !held().contains(&id);
    }
    !Path::new("/proc").join(pid.to_string()).exists()
}

fn read_pid(file: &mut File) -> Option<u32> {
    file.rewind().ok()?;
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

fn write_pid(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())
}

/// The path of the lock file of `dir`.
pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join(LOCK_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_of_the_same_directory_is_refused_with_the_holder_pid() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(dir.path()).unwrap();
        match DirLock::acquire(dir.path()) {
            Err(OpenError::Locked {
                dir: locked,
                holder_pid,
            }) => {
                assert_eq!(locked, dir.path());
                assert_eq!(holder_pid, Some(std::process::id()));
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(held);
        DirLock::acquire(dir.path()).expect("the lock is free once its holder is dropped");
    }

    #[test]
    fn a_lock_recorded_for_a_dead_process_is_waited_for_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(dir.path()).unwrap();
        // The holder's pid file names a process that has exited and been reaped.
        let mut exited = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = exited.id();
        exited.wait().unwrap();
        std::fs::write(lock_path(dir.path()), format!("{dead_pid}\n")).unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(held);
        });
        let started = Instant::now();
        DirLock::acquire(dir.path()).expect("the lock of a dead holder is released soon");
        assert!(
            started.elapsed() >= Duration::from_millis(90),
            "acquired while the lock was still held"
        );
        release.join().unwrap();
    }

    #[test]
    fn a_lock_held_past_the_wait_for_a_dead_process_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let _held = DirLock::acquire(dir.path()).unwrap();
        let mut exited = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = exited.id();
        exited.wait().unwrap();
        std::fs::write(lock_path(dir.path()), format!("{dead_pid}\n")).unwrap();
        match DirLock::acquire(dir.path()) {
            Err(OpenError::Locked { holder_pid, .. }) => assert_eq!(holder_pid, Some(dead_pid)),
            other => panic!("expected Locked, got {other:?}"),
        }
    }

    #[test]
    #[expect(
        clippy::used_underscore_binding,
        reason = "the test copies the descriptor the lock keeps only to hold it"
    )]
    fn a_released_lock_still_held_by_a_copied_descriptor_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let lock = DirLock::acquire(dir.path()).unwrap();
        // What a child spawned by another thread holds between its fork and its exec: a copy
        // of the descriptor, sharing the lock.
        let copy = lock._file.try_clone().unwrap();
        drop(lock);
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(copy);
        });
        let started = Instant::now();
        DirLock::acquire(dir.path()).expect("the copy goes, and the lock with it");
        assert!(
            started.elapsed() >= Duration::from_millis(90),
            "acquired while the copy still held the lock"
        );
        release.join().unwrap();
    }
}
