//! The naive baseline: what a first attempt at a log looks like. One buffered `write` per
//! append to a file through the page cache (a 4-byte length prefix, then the payload), an
//! in-memory vector of record positions, positional reads. No batching, no index file, no
//! CRC, no fsync unless asked. Benchmarks run it beside the engine so every report shows the
//! engine's figure as a ratio to this one, measured in the same run.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A length-prefixed record file.
#[derive(Debug)]
pub struct NaiveLog {
    file: File,
    positions: Vec<u64>,
    end: u64,
    sync: bool,
}

impl NaiveLog {
    /// Creates `dir/naive.log`; with `sync`, every append is followed by `fdatasync`.
    ///
    /// # Errors
    /// The operating system's error.
    pub fn create(dir: &Path, sync: bool) -> io::Result<NaiveLog> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("naive.log"))?;
        Ok(NaiveLog {
            file,
            positions: Vec::new(),
            end: 0,
            sync,
        })
    }

    /// Opens `dir/naive.log` as written before, rebuilding the positions by reading every
    /// record's length prefix (there is no index file); with `sync`, every append is followed
    /// by `fdatasync`.
    ///
    /// # Errors
    /// The operating system's error, or `InvalidData` for a file that ends inside a record.
    pub fn open(dir: &Path, sync: bool) -> io::Result<NaiveLog> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(dir.join("naive.log"))?;
        let end = file.metadata()?.len();
        let mut positions = Vec::new();
        let mut position = 0;
        let mut len = [0u8; 4];
        while position < end {
            file.read_exact_at(&mut len, position)?;
            positions.push(position);
            position += 4 + u64::from(u32::from_be_bytes(len));
        }
        if position != end {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "naive.log ends inside the record at {}",
                    positions.len() - 1
                ),
            ));
        }
        Ok(NaiveLog {
            file,
            positions,
            end,
            sync,
        })
    }

    /// `fdatasync` of the file.
    ///
    /// # Errors
    /// The operating system's error.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Appends one record with one `write` call; returns its offset.
    ///
    /// # Errors
    /// The operating system's error.
    pub fn append(&mut self, value: &[u8]) -> io::Result<u64> {
        let mut record = Vec::with_capacity(4 + value.len());
        record.extend_from_slice(&(value.len() as u32).to_be_bytes());
        record.extend_from_slice(value);
        self.file.write_all(&record)?;
        if self.sync {
            self.file.sync_data()?;
        }
        self.positions.push(self.end);
        self.end += record.len() as u64;
        Ok(self.positions.len() as u64 - 1)
    }

    /// Reads the record at `offset` into `buf` (resized to the record), with positional reads.
    ///
    /// # Errors
    /// The operating system's error, or `InvalidInput` for an offset never appended.
    pub fn read(&self, offset: u64, buf: &mut Vec<u8>) -> io::Result<()> {
        let position = *self
            .positions
            .get(offset as usize)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no such offset"))?;
        let mut len = [0u8; 4];
        self.file.read_exact_at(&mut len, position)?;
        buf.resize(u32::from_be_bytes(len) as usize, 0);
        self.file.read_exact_at(buf, position + 4)
    }

    /// Records appended.
    pub fn len(&self) -> u64 {
        self.positions.len() as u64
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}
