//! The namespace half of the seam, as every real path implements it: small whole files (index
//! files, the clean-shutdown marker, the cleaner checkpoint, topic metadata, a compaction pass's
//! manifest) and directory entries, with the standard library. Segment data
//! never goes through here; it takes the path's own reads and writes.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

/// Creates or replaces `path` with `bytes` and makes its content durable (`fsync`).
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The whole of `path`, refused (`InvalidData`) when it is larger than `max_bytes`, so that
/// a damaged or hostile file cannot make the engine allocate more than it expects.
pub(crate) fn read_file(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len > max_bytes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} holds {len} bytes, more than the {max_bytes} it may",
                path.display()
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max_bytes).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Names of the entries of `dir`, in no particular order.
pub(crate) fn list_dir(dir: &Path) -> io::Result<Vec<OsString>> {
    std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect()
}

/// Whether `path` names an entry (a dangling symlink counts).
pub(crate) fn exists(path: &Path) -> io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The error a read-only storage gives every namespace change.
pub(crate) fn read_only_refusal(op: &str, path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{op} {}: the storage is read-only", path.display()),
    )
}
