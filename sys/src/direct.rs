//! Direct I/O (`O_DIRECT`): opening files, asking the kernel which alignment it needs
//! (`statx` with `STATX_DIOALIGN`), and probing whether a directory supports it at all.

use std::ffi::CString;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::buf::AlignedBuf;
use crate::errno::cvt;

/// The smallest alignment ringlog uses for direct I/O, in bytes, whatever the filesystem
/// reports: never align below the disk's physical block (4 KiB on current disks), so a write
/// never turns into a read-modify-write of a physical sector.
pub const MIN_DIRECT_ALIGN: usize = 4096;

/// The alignment a file needs for direct I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DioAlignment {
    /// Alignment of buffer addresses in bytes: `max(reported_memory, MIN_DIRECT_ALIGN)`.
    pub memory: usize,
    /// Alignment of file offsets and lengths in bytes: `max(reported_offset, MIN_DIRECT_ALIGN)`.
    pub offset: usize,
    /// `stx_dio_mem_align` as the kernel reported it (0 if it did not report one).
    pub reported_memory: u32,
    /// `stx_dio_offset_align` as the kernel reported it (0 if it did not report one).
    pub reported_offset: u32,
}

impl DioAlignment {
    fn from_reported(reported_memory: u32, reported_offset: u32) -> DioAlignment {
        DioAlignment {
            memory: (reported_memory as usize).max(MIN_DIRECT_ALIGN),
            offset: (reported_offset as usize).max(MIN_DIRECT_ALIGN),
            reported_memory,
            reported_offset,
        }
    }
}

/// Opens `path` with `options` plus `O_DIRECT`.
///
/// `O_DIRECT` is added through [`OpenOptionsExt::custom_flags`], which replaces any custom
/// flags already set on `options`.
///
/// # Errors
///
/// Whatever `open(2)` returns; `EINVAL` usually means the filesystem does not support
/// `O_DIRECT` (see [`probe_direct_io`]).
pub fn open_direct(path: &Path, options: &OpenOptions) -> io::Result<File> {
    let mut options = options.clone();
    options.custom_flags(libc::O_DIRECT);
    options.open(path)
}

/// Asks the kernel which alignment direct I/O on `file` needs (`statx` with `STATX_DIOALIGN`).
///
/// Returns `None` when the kernel or filesystem reports no direct-I/O support: the result mask
/// lacks `STATX_DIOALIGN` (kernels before 6.1, or filesystems that do not fill it in) or
/// `stx_dio_offset_align` is 0.
///
/// # Errors
///
/// Whatever `statx(2)` returns.
pub fn dio_alignment(file: &File) -> io::Result<Option<DioAlignment>> {
    let mut stx = MaybeUninit::<libc::statx>::zeroed();
    cvt(|| {
        // SAFETY: the path is a valid NUL-terminated empty string, which with AT_EMPTY_PATH
        // names the open descriptor `file` (kept open by the borrow); `stx` is a writable
        // `struct statx` owned by this frame, and libc's definition matches the kernel's.
        unsafe {
            libc::statx(
                file.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH,
                libc::STATX_DIOALIGN,
                stx.as_mut_ptr(),
            )
        }
    })?;
    // SAFETY: `statx` returned success, so it filled `stx`; it was zeroed before anyway, and
    // every field of `struct statx` is an integer, for which zero is a valid value.
    let stx = unsafe { stx.assume_init() };
    if stx.stx_mask & libc::STATX_DIOALIGN == 0 || stx.stx_dio_offset_align == 0 {
        return Ok(None);
    }
    Ok(Some(DioAlignment::from_reported(
        stx.stx_dio_mem_align,
        stx.stx_dio_offset_align,
    )))
}

/// Filesystem magic numbers (`statfs.f_type`, see `statfs(2)`) and their names.
const FILESYSTEMS: &[(u32, &str)] = &[
    (0xEF53, "ext4"), // ext2, ext3 and ext4 share one magic number
    (0x5846_5342, "xfs"),
    (0x9123_683E, "btrfs"),
    (0x0102_1994, "tmpfs"),
    (0x8584_58F6, "ramfs"),
    (0x794C_7630, "overlay"),
    (0x6969, "nfs"),
    (0x2FC1_2FC1, "zfs"),
    (0xF2F5_2010, "f2fs"),
    (0xCA45_1A4E, "bcachefs"),
    (0x6573_5546, "fuse"),
    (0xFF53_4D42, "cifs"),
    (0x0102_1997, "9p"),
];

/// The name of the filesystem holding `path`, from `statfs(2)`'s `f_type`: `"ext4"`, `"xfs"`,
/// `"btrfs"`, `"tmpfs"`, `"overlay"`, `"nfs"`, ..., or `"unknown (0x...)"`.
///
/// # Errors
///
/// Whatever `statfs(2)` returns, or `InvalidInput` if `path` contains a NUL byte.
pub fn filesystem_name(path: &Path) -> io::Result<String> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut sfs = MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call; `sfs` is a writable
    // `struct statfs` owned by this frame, defined by libc for this target.
    cvt(|| unsafe { libc::statfs(c_path.as_ptr(), sfs.as_mut_ptr()) })?;
    // SAFETY: `statfs` returned success, so it filled `sfs` (which was zeroed before anyway;
    // all its fields are integers).
    let sfs = unsafe { sfs.assume_init() };
    // The magic numbers are 32-bit; `f_type` is a signed long on some targets.
    let magic = sfs.f_type as u32;
    Ok(FILESYSTEMS.iter().find(|&&(m, _)| m == magic).map_or_else(
        || format!("unknown ({magic:#x})"),
        |&(_, name)| name.to_owned(),
    ))
}

/// Why direct I/O cannot be used in a directory.
#[derive(Debug)]
#[non_exhaustive]
pub enum DirectIoError {
    /// The filesystem refused `O_DIRECT` (`EINVAL` on open, write or read).
    Unsupported {
        /// The directory that was probed.
        dir: PathBuf,
        /// The filesystem's name, as [`filesystem_name`] gives it.
        filesystem: String,
        /// The error the kernel returned.
        source: io::Error,
    },
    /// Any other I/O error while probing (permissions, disk full, ...).
    Io(io::Error),
}

impl fmt::Display for DirectIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirectIoError::Unsupported {
                dir,
                filesystem,
                source,
            } => write!(
                f,
                "direct I/O (O_DIRECT) is not supported by the {filesystem} filesystem at {}: \
                 {source}; put the data directory on ext4 or xfs, or use buffered I/O",
                dir.display()
            ),
            DirectIoError::Io(err) => write!(f, "probing direct I/O failed: {err}"),
        }
    }
}

impl std::error::Error for DirectIoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DirectIoError::Unsupported { source, .. } => Some(source),
            DirectIoError::Io(err) => Some(err),
        }
    }
}

/// Checks that direct I/O works in `dir` and returns the alignment it needs.
///
/// Creates a temporary file in `dir` with `O_DIRECT`, writes one aligned block with `pwrite`,
/// reads it back with `pread`, compares, and removes the file. If `statx` reports no alignment
/// the probe uses [`MIN_DIRECT_ALIGN`] and reports 0 in the `reported_*` fields.
///
/// # Errors
///
/// [`DirectIoError::Unsupported`] if the open, the write or the read fails with `EINVAL`;
/// [`DirectIoError::Io`] for any other failure, including data that does not read back. A
/// write refused with ENOSPC or EDQUOT after the O_DIRECT open succeeded is not a failure: the
/// filesystem is full, not unable, and the alignment `statx` reports is used.
pub fn probe_direct_io(dir: &Path) -> Result<DioAlignment, DirectIoError> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let path = dir.join(format!(".ringlog-dio-probe-{}-{nanos}", std::process::id()));
    let unsupported = |source: io::Error| {
        if source.raw_os_error() == Some(libc::EINVAL) {
            DirectIoError::Unsupported {
                dir: dir.to_path_buf(),
                filesystem: filesystem_name(dir).unwrap_or_else(|e| format!("unknown ({e})")),
                source,
            }
        } else {
            DirectIoError::Io(source)
        }
    };
    let file = open_direct(
        &path,
        OpenOptions::new().read(true).write(true).create_new(true),
    )
    .map_err(unsupported)?;
    let result = probe_file(&file).map_err(unsupported);
    drop(file);
    let removed = std::fs::remove_file(&path);
    let alignment = result?;
    removed.map_err(DirectIoError::Io)?;
    Ok(alignment)
}

/// Writes one aligned block to `file` and reads it back.
fn probe_file(file: &File) -> io::Result<DioAlignment> {
    let alignment = dio_alignment(file)?.unwrap_or(DioAlignment::from_reported(0, 0));
    let block_bytes = alignment.memory.max(alignment.offset);
    let mut written = AlignedBuf::new(block_bytes, alignment.memory);
    for (i, byte) in written.full_mut().iter_mut().enumerate() {
        *byte = (i % 251) as u8;
    }
    written.set_len(block_bytes);
    if let Err(e) = file.write_all_at(&written, 0) {
        // A full filesystem cannot take the probe block, but it accepted the O_DIRECT open
        // (filesystems without O_DIRECT refuse it with EINVAL), so trust the alignment statx
        // reported: opening a log on a full disk must still work, to read it and let recovery
        // trim preallocated space.
        return match e.raw_os_error() {
            Some(libc::ENOSPC | libc::EDQUOT) => Ok(alignment),
            _ => Err(e),
        };
    }
    let mut read = AlignedBuf::new(block_bytes, alignment.memory);
    read.set_len(block_bytes);
    file.read_exact_at(read.as_mut_slice(), 0)?;
    if read.as_slice() != written.as_slice() {
        return Err(io::Error::other(
            "the block read back with O_DIRECT differs from the block written",
        ));
    }
    Ok(alignment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_never_below_minimum() {
        let a = DioAlignment::from_reported(512, 512);
        assert_eq!((a.memory, a.offset), (MIN_DIRECT_ALIGN, MIN_DIRECT_ALIGN));
        let a = DioAlignment::from_reported(4, 8192);
        assert_eq!((a.memory, a.offset), (MIN_DIRECT_ALIGN, 8192));
        assert_eq!((a.reported_memory, a.reported_offset), (4, 8192));
    }

    #[test]
    fn unsupported_message_names_filesystem_and_fix() {
        let err = DirectIoError::Unsupported {
            dir: PathBuf::from("/dev/shm/x"),
            filesystem: "tmpfs".to_owned(),
            source: io::Error::from_raw_os_error(libc::EINVAL),
        };
        let text = err.to_string();
        assert!(
            text.starts_with(
                "direct I/O (O_DIRECT) is not supported by the tmpfs filesystem at /dev/shm/x: "
            ),
            "{text}"
        );
        assert!(text.ends_with("put the data directory on ext4 or xfs, or use buffered I/O"));
    }

    #[test]
    fn unknown_magic_is_printed_in_hex() {
        // /proc is procfs, which is not in the table.
        let name = filesystem_name(Path::new("/proc")).unwrap();
        assert_eq!(name, "unknown (0x9fa0)");
    }
}
