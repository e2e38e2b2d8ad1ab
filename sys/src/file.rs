//! File-level durability and space calls: `fallocate`, `fdatasync`, and `fsync` of a directory.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use crate::errno::cvt;

/// Allocates disk space for `[offset, offset + len)` of `file` (`fallocate(2)` mode 0), which
/// also extends the file size if the range ends past it. Later writes into the range then need
/// no block allocation and cannot fail with `ENOSPC`.
///
/// # Errors
///
/// `InvalidInput` if `offset` or `len` does not fit `off_t`; otherwise whatever
/// `fallocate(2)` returns (`EOPNOTSUPP` on filesystems without it, `ENOSPC`, ...).
pub fn fallocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    let too_large = || io::Error::new(io::ErrorKind::InvalidInput, "fallocate range exceeds off_t");
    let offset = libc::off_t::try_from(offset).map_err(|_| too_large())?;
    let len = libc::off_t::try_from(len).map_err(|_| too_large())?;
    // SAFETY: `file` is an open descriptor kept open by the borrow; fallocate touches no
    // memory of this process.
    cvt(|| unsafe { libc::fallocate(file.as_raw_fd(), 0, offset, len) })?;
    Ok(())
}

/// Flushes `file`'s data, and the metadata needed to read it back, to stable storage
/// (`fdatasync(2)`).
///
/// After this fails, the kernel may have dropped the dirty pages: the caller must not assume
/// a retry makes the earlier writes durable.
///
/// # Errors
///
/// Whatever `fdatasync(2)` returns (`EIO`, `ENOSPC`, ...).
pub fn fdatasync(file: &File) -> io::Result<()> {
    // std's `sync_data` is `fdatasync` on Linux and already retries `EINTR`.
    file.sync_data()
}

/// Makes the directory entries of `dir` durable: opens it `O_RDONLY | O_DIRECTORY` and calls
/// `fsync(2)`. Needed after creating, renaming or removing a file in it.
///
/// # Errors
///
/// Whatever `open(2)` (`ENOTDIR` if `dir` is not a directory) or `fsync(2)` returns.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)?
        .sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallocate_extends_the_file() {
        let file = tempfile::tempfile_in("/tmp").unwrap();
        fallocate(&file, 4096, 8192).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 12288);
        fdatasync(&file).unwrap();
    }

    #[test]
    fn fallocate_rejects_ranges_beyond_off_t() {
        let file = tempfile::tempfile_in("/tmp").unwrap();
        let err = fallocate(&file, u64::MAX, 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn fsync_dir_works_on_directories_only() {
        let dir = tempfile::tempdir_in("/tmp").unwrap();
        fsync_dir(dir.path()).unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let err = fsync_dir(&file).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR));
    }
}
