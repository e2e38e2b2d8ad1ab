//! What the cold phases ask of the operating system: emptying the page cache, and the bytes a
//! phase sent to storage (`/proc/self/io`). Safe calls only (`std` and rustix).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The kernel file whose "1" drops the clean page cache of the whole machine (root only).
const DROP_CACHES: &str = "/proc/sys/vm/drop_caches";

/// How the page cache is emptied before a cold phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheDrop {
    /// `drop_caches` when it can be written (root), else `fadvise`.
    Auto,
    /// `sync`, then "1" to `/proc/sys/vm/drop_caches`: every clean page of the machine.
    DropCaches,
    /// `fdatasync` and `posix_fadvise(POSIX_FADV_DONTNEED)` on each of the engine's files:
    /// their pages only, with no special rights.
    Fadvise,
}

impl CacheDrop {
    /// `auto`, `drop_caches` or `fadvise`.
    pub fn name(self) -> &'static str {
        match self {
            CacheDrop::Auto => "auto",
            CacheDrop::DropCaches => "drop_caches",
            CacheDrop::Fadvise => "fadvise",
        }
    }

    /// [`CacheDrop::DropCaches`] when `/proc/sys/vm/drop_caches` can be opened for writing,
    /// else [`CacheDrop::Fadvise`]; other values are kept.
    #[must_use]
    pub fn resolve(self) -> CacheDrop {
        match self {
            CacheDrop::Auto => {
                if std::fs::OpenOptions::new()
                    .write(true)
                    .open(DROP_CACHES)
                    .is_ok()
                {
                    CacheDrop::DropCaches
                } else {
                    CacheDrop::Fadvise
                }
            }
            other => other,
        }
    }

    /// Empties the page cache of `files` (or of the machine) this way.
    ///
    /// # Errors
    /// The operating system's error, naming the file.
    ///
    /// # Panics
    /// On [`CacheDrop::Auto`]: resolve it first.
    pub fn drop_cache(self, files: &[PathBuf]) -> Result<(), String> {
        match self {
            CacheDrop::Auto => panic!("CacheDrop::Auto must be resolved before use"),
            CacheDrop::DropCaches => {
                rustix::fs::sync();
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(DROP_CACHES)
                    .and_then(|mut f| f.write_all(b"1"))
                    .map_err(|e| {
                        format!("{DROP_CACHES}: {e} (needs root; use --cache-drop fadvise instead)")
                    })
            }
            CacheDrop::Fadvise => {
                for path in files {
                    fadvise_dontneed(path).map_err(|e| format!("{}: {e}", path.display()))?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for CacheDrop {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(CacheDrop::Auto),
            "drop_caches" | "drop-caches" => Ok(CacheDrop::DropCaches),
            "fadvise" => Ok(CacheDrop::Fadvise),
            other => Err(format!(
                "unknown cache drop {other:?}: expected auto, drop_caches or fadvise"
            )),
        }
    }
}

/// Writes back `path`'s dirty pages (DONTNEED drops clean pages only), then advises the kernel
/// to drop its cached pages. A file that vanished meanwhile is skipped.
fn fadvise_dontneed(path: &Path) -> std::io::Result<()> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    file.sync_data()?;
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).map_err(std::io::Error::from)
}

/// Every regular file under `dir`, recursively, in no particular order; unreadable entries
/// are skipped (an engine may delete files while it is listed).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(entry.path()),
                Ok(t) if t.is_file() => out.push(entry.path()),
                _ => {}
            }
        }
    }
    out
}

/// Bytes of the regular files under `dir`.
pub fn bytes_under(dir: &Path) -> u64 {
    files_under(dir)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// `write_bytes` of `/proc/self/io`: bytes this process (every thread, io_uring workers
/// included) caused to be sent to storage, counted when a page is dirtied or a direct write is
/// submitted; `None` without task I/O accounting.
pub fn process_write_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/io").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for c in [CacheDrop::Auto, CacheDrop::DropCaches, CacheDrop::Fadvise] {
            assert_eq!(c.name().parse::<CacheDrop>(), Ok(c));
        }
        assert!("never".parse::<CacheDrop>().is_err());
    }

    #[test]
    fn fadvise_drops_the_files_of_a_directory() {
        let dir = tempfile::tempdir().expect("a directory");
        std::fs::create_dir(dir.path().join("sub")).expect("a subdirectory");
        std::fs::write(dir.path().join("a"), b"aaaa").expect("a file");
        std::fs::write(dir.path().join("sub/b"), b"bb").expect("a file");
        let files = files_under(dir.path());
        assert_eq!(files.len(), 2);
        assert_eq!(bytes_under(dir.path()), 6);
        assert_eq!(CacheDrop::Fadvise.drop_cache(&files), Ok(()));
    }

    #[test]
    fn write_bytes_grow_with_a_synced_write() {
        let Some(before) = process_write_bytes() else {
            return; // no task I/O accounting in this kernel
        };
        let dir = tempfile::tempdir().expect("a directory");
        let mut file = File::create(dir.path().join("f")).expect("a file");
        file.write_all(&vec![1u8; 64 * 1024]).expect("write");
        file.sync_data().expect("sync");
        let after = process_write_bytes().expect("still readable");
        let tmpfs = ringlog_sys::direct::filesystem_name(dir.path()).is_ok_and(|f| f == "tmpfs");
        // tmpfs pages are never written back, so they are not counted.
        if !tmpfs {
            assert!(after - before >= 64 * 1024, "{before} -> {after}");
        }
    }
}
