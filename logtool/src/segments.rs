//! Walks a partition directory's segment files straight from disk with `std::fs`, never through
//! `ringlog::Log`, which would recover (and so modify) what it opens.
//!
//! [`list_segments`] finds the segments of a directory in offset order; [`BatchReader`] walks
//! one `.log` file batch by batch. The reader checks only the frame of each batch (the 12-byte
//! overhead and that the whole batch is in the file): judging the bytes is the caller's job,
//! since `dump` shows a bad batch and `verify` reports it.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use ringlog::record::{BatchError, LOG_OVERHEAD_BYTES, peek_batch_bytes};
use ringlog::segment::{
    INDEX_EXTENSION, LOG_EXTENSION, TIME_INDEX_EXTENSION, file_name, parse_file_name,
};

/// An I/O failure with the path it happened on, so the message names the file.
#[derive(Debug)]
pub struct FileError {
    /// The file or directory.
    pub path: PathBuf,
    /// What was being done ("read", "list").
    pub op: &'static str,
    /// The underlying error.
    pub source: io::Error,
}

impl FileError {
    /// Wraps `source`, which happened while doing `op` on `path`.
    pub fn new(op: &'static str, path: &Path, source: io::Error) -> Self {
        FileError {
            path: path.to_path_buf(),
            op,
            source,
        }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.op,
            self.path.display(),
            self.source
        )
    }
}

/// The files of one segment. The index files are named whether or not they exist.
#[derive(Clone, Debug)]
pub struct SegmentFiles {
    /// The segment's base offset, from its file name.
    pub base_offset: u64,
    /// The `.log` file.
    pub log: PathBuf,
    /// The `.index` file.
    pub index: PathBuf,
    /// The `.timeindex` file.
    pub time_index: PathBuf,
}

/// The segments of the partition directory `dir`, oldest first, found by their `.log` files.
/// Other files (the clean-shutdown marker, stray names) are ignored.
///
/// # Errors
/// If `dir` cannot be listed.
pub fn list_segments(dir: &Path) -> Result<Vec<SegmentFiles>, FileError> {
    let entries = std::fs::read_dir(dir).map_err(|e| FileError::new("list", dir, e))?;
    let mut bases = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| FileError::new("list", dir, e))?;
        if let Some(base) = entry
            .file_name()
            .to_str()
            .and_then(|name| parse_file_name(name, LOG_EXTENSION))
        {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases
        .into_iter()
        .map(|base_offset| SegmentFiles {
            base_offset,
            log: dir.join(file_name(base_offset, LOG_EXTENSION)),
            index: dir.join(file_name(base_offset, INDEX_EXTENSION)),
            time_index: dir.join(file_name(base_offset, TIME_INDEX_EXTENSION)),
        })
        .collect())
}

/// The file name of `path` for messages (the whole path if it has none).
pub fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

/// One step of a walk through a `.log` file.
#[derive(Debug)]
pub enum Item {
    /// A batch whose frame is whole: `bytes` holds exactly the batch, not yet validated.
    Batch {
        /// Byte position of the batch in the file.
        position: u64,
        /// The batch.
        bytes: Vec<u8>,
    },
    /// Zero bytes from `position` to the end of the file: preallocated space never written
    /// (left by an unclean shutdown, or a file not yet trimmed). Ends the walk.
    ZeroTail {
        /// Where the zeros start.
        position: u64,
        /// How many there are.
        zero_bytes: u64,
    },
    /// Bytes from `position` on do not frame a batch. Ends the walk.
    Unparsable {
        /// Where the bytes start.
        position: u64,
        /// Why they are not a batch.
        error: BatchError,
    },
}

/// Walks the batches of one `.log` file in order, reading it through a buffer rather than
/// whole. No allocation is sized from a length field before it is checked against the file's
/// size.
pub struct BatchReader {
    path: PathBuf,
    reader: BufReader<File>,
    position: u64,
    file_bytes: u64,
    done: bool,
}

impl BatchReader {
    /// Opens the `.log` file at `path`.
    ///
    /// # Errors
    /// If the file cannot be opened or its size read.
    pub fn open(path: &Path) -> Result<BatchReader, FileError> {
        let file = File::open(path).map_err(|e| FileError::new("open", path, e))?;
        let file_bytes = file
            .metadata()
            .map_err(|e| FileError::new("stat", path, e))?
            .len();
        Ok(BatchReader {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(256 * 1024, file),
            position: 0,
            file_bytes,
            done: false,
        })
    }

    /// Size of the file in bytes.
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), FileError> {
        self.reader
            .read_exact(buf)
            .map_err(|e| FileError::new("read", &self.path, e))
    }

    fn next_item(&mut self) -> Result<Item, FileError> {
        let position = self.position;
        let remaining = self.file_bytes - position;
        let mut overhead = [0u8; LOG_OVERHEAD_BYTES];
        let present = remaining.min(LOG_OVERHEAD_BYTES as u64) as usize;
        self.read_exact(&mut overhead[..present])?;
        if overhead[..present].iter().all(|&b| b == 0) && self.rest_is_zero()? {
            return Ok(Item::ZeroTail {
                position,
                zero_bytes: remaining,
            });
        }
        // The magic byte is checked by whoever validates the batch; here only the length.
        let total = match peek_batch_bytes(&overhead[..present], usize::MAX) {
            Ok(total) => total,
            Err(error) => return Ok(Item::Unparsable { position, error }),
        };
        if total as u64 > remaining {
            let error = BatchError::Truncated {
                needed: total,
                available: remaining as usize,
            };
            return Ok(Item::Unparsable { position, error });
        }
        let mut bytes = vec![0u8; total];
        bytes[..LOG_OVERHEAD_BYTES].copy_from_slice(&overhead);
        self.read_exact(&mut bytes[LOG_OVERHEAD_BYTES..])?;
        self.position += total as u64;
        Ok(Item::Batch { position, bytes })
    }

    /// Whether every byte after the ones already read is zero.
    fn rest_is_zero(&mut self) -> Result<bool, FileError> {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = self
                .reader
                .read(&mut chunk)
                .map_err(|e| FileError::new("read", &self.path, e))?;
            if n == 0 {
                return Ok(true);
            }
            if chunk[..n].iter().any(|&b| b != 0) {
                return Ok(false);
            }
        }
    }
}

impl Iterator for BatchReader {
    type Item = Result<Item, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.position >= self.file_bytes {
            return None;
        }
        let item = self.next_item();
        // Only whole batches let the walk go on; anything else is where it ends.
        self.done = !matches!(item, Ok(Item::Batch { .. }));
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(bytes: &[u8]) -> Vec<Item> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name(0, LOG_EXTENSION));
        std::fs::write(&path, bytes).unwrap();
        BatchReader::open(&path)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn zero_file_is_a_zero_tail() {
        let items = walk(&[0u8; 5000]);
        assert!(matches!(
            items[..],
            [Item::ZeroTail {
                position: 0,
                zero_bytes: 5000
            }]
        ));
    }

    #[test]
    fn zeros_then_data_is_unparsable() {
        let mut bytes = vec![0u8; 100];
        bytes[90] = 1;
        let items = walk(&bytes);
        assert!(matches!(items[..], [Item::Unparsable { position: 0, .. }]));
    }

    #[test]
    fn length_past_the_end_is_truncated() {
        let mut bytes = vec![0u8; 70];
        bytes[8..12].copy_from_slice(&100i32.to_be_bytes());
        let items = walk(&bytes);
        assert!(matches!(
            items[..],
            [Item::Unparsable {
                position: 0,
                error: BatchError::Truncated { needed: 112, .. }
            }]
        ));
    }

    #[test]
    fn short_tail_is_unparsable() {
        let items = walk(&[1, 2, 3]);
        assert!(matches!(
            items[..],
            [Item::Unparsable {
                position: 0,
                error: BatchError::Truncated { .. }
            }]
        ));
    }
}
