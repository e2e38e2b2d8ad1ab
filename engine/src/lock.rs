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
//!
//! Read-only opens ([`crate::Log::open_read_only`]) take no lock: they change nothing.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::OpenError;

/// Name of the lock file in a locked directory.
pub const LOCK_FILE: &str = ".lock";

/// An exclusive lock on a directory, released when dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    /// Holds the `flock`; closing it releases the lock.
    _file: File,
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
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(OpenError::Locked {
                    dir: dir.to_path_buf(),
                    holder_pid: read_pid(&mut file),
                });
            }
            Err(TryLockError::Error(source)) => return Err(io_error("lock", source)),
        }
        // The pid is a hint for the next opener's message; failing to write it is no reason to
        // refuse the open.
        let _ = write_pid(&mut file);
        Ok(DirLock { _file: file })
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
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
}
