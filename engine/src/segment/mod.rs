//! A segment: one `.log` file of record batches with its sparse `.index` and `.timeindex`,
//! all named after the segment's base offset (`{base_offset:020}.log`, as Kafka names them).
//!
//! Which bytes of the `.log` file are valid, on disk, or still in memory is tracked by the
//! partition log (see `crate::log`); this module holds the files, the in-memory indexes and the
//! rules that build them, shared by appends and by the recovery scan so both produce the same
//! entries.

pub mod index;
pub(crate) mod recovery;
pub mod time_index;

pub use recovery::RecoveryCut;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::io::Storage;
use crate::record::BatchHeader;
use index::OffsetIndex;
use ringlog_sys::mmap::MapReader;
use time_index::{NO_TIMESTAMP, TimeIndex};

/// Extension of a segment's batch file.
pub const LOG_EXTENSION: &str = "log";
/// Extension of a segment's offset index.
pub const INDEX_EXTENSION: &str = "index";
/// Extension of a segment's time index.
pub const TIME_INDEX_EXTENSION: &str = "timeindex";

/// `{base_offset:020}.{extension}`, Kafka's segment file name.
pub fn file_name(base_offset: u64, extension: &str) -> String {
    format!("{base_offset:020}.{extension}")
}

/// The base offset of a segment file name, if `name` is `{20 digits}.{extension}`.
pub fn parse_file_name(name: &str, extension: &str) -> Option<u64> {
    let stem = name.strip_suffix(extension)?.strip_suffix('.')?;
    if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
        stem.parse().ok()
    } else {
        None
    }
}

/// Source of [`Segment::id`].
static NEXT_SEGMENT_ID: AtomicU64 = AtomicU64::new(1);

/// One segment of a partition log.
pub(crate) struct Segment {
    /// Unique in the process: keys the segment's ranges in the read cache, so a segment that
    /// replaces another with the same base offset (compaction) never sees its predecessor's
    /// cached bytes.
    pub id: u64,
    pub base_offset: u64,
    pub dir: PathBuf,
    pub file: Arc<File>,
    pub index: RwLock<OffsetIndex>,
    pub time_index: RwLock<TimeIndex>,
    /// Bytes of valid batches. Written under the log's writer lock and published with Release
    /// after the bytes are readable (in the write chunk or on disk); readers load with Acquire.
    pub data_bytes: AtomicU64,
    /// Bytes `[0, disk_bytes)` are on disk (their writes completed). Same ordering as above.
    pub disk_bytes: AtomicU64,
    /// One past the last offset held (the base offset while empty).
    pub next_offset: AtomicU64,
    /// Largest batch max-timestamp held, or [`NO_TIMESTAMP`].
    pub max_timestamp: AtomicI64,
    /// Base timestamp of the first batch, or [`NO_TIMESTAMP`]: rolling by age counts from it.
    pub first_timestamp: AtomicI64,
    /// Set once the segment is rolled: it never changes again.
    pub sealed: AtomicBool,
    /// On the mmap path, the segment's mapping; fetches slice it.
    pub map: RwLock<Option<MapReader>>,
}

impl Segment {
    pub fn new(dir: &Path, base_offset: u64, file: Arc<File>) -> Self {
        Segment {
            id: NEXT_SEGMENT_ID.fetch_add(1, Ordering::Relaxed),
            base_offset,
            dir: dir.to_path_buf(),
            file,
            index: RwLock::new(OffsetIndex::new()),
            time_index: RwLock::new(TimeIndex::new()),
            data_bytes: AtomicU64::new(0),
            disk_bytes: AtomicU64::new(0),
            next_offset: AtomicU64::new(base_offset),
            max_timestamp: AtomicI64::new(NO_TIMESTAMP),
            first_timestamp: AtomicI64::new(NO_TIMESTAMP),
            sealed: AtomicBool::new(false),
            map: RwLock::new(None),
        }
    }

    pub fn path(&self, extension: &str) -> PathBuf {
        self.dir.join(file_name(self.base_offset, extension))
    }

    pub fn log_path(&self) -> PathBuf {
        self.path(LOG_EXTENSION)
    }

    pub fn data_bytes(&self) -> u64 {
        self.data_bytes.load(Ordering::Acquire)
    }

    pub fn disk_bytes(&self) -> u64 {
        self.disk_bytes.load(Ordering::Acquire)
    }

    pub fn next_offset(&self) -> u64 {
        self.next_offset.load(Ordering::Acquire)
    }

    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp.load(Ordering::Acquire)
    }

    pub fn is_sealed(&self) -> bool {
        self.sealed.load(Ordering::Acquire)
    }

    /// Offset relative to the base, as the indexes store it.
    pub fn relative(&self, offset: u64) -> u32 {
        let relative = offset.saturating_sub(self.base_offset);
        u32::try_from(relative).unwrap_or(u32::MAX)
    }

    /// Writes both index files in full through `storage` and makes them durable (at roll and
    /// at close).
    pub fn write_indexes(&self, storage: &dyn Storage) -> std::io::Result<()> {
        self.write_indexes_to(
            storage,
            &self.path(INDEX_EXTENSION),
            &self.path(TIME_INDEX_EXTENSION),
        )
    }

    /// Writes both indexes to the given files, durably.
    pub fn write_indexes_to(
        &self,
        storage: &dyn Storage,
        index_path: &Path,
        time_index_path: &Path,
    ) -> std::io::Result<()> {
        let (index, time_index) = self.encoded_indexes();
        storage.write_file(index_path, &index)?;
        storage.write_file(time_index_path, &time_index)
    }

    /// The bytes of the offset index file and of the time index file, as written whole
    /// (compaction writes them through its own staged output).
    pub fn encoded_indexes(&self) -> (Vec<u8>, Vec<u8>) {
        let mut index = Vec::new();
        self.index
            .read()
            .expect("index lock poisoned")
            .encode_into(0, &mut index);
        let mut time_index = Vec::new();
        self.time_index
            .read()
            .expect("index lock poisoned")
            .encode_into(0, &mut time_index);
        (index, time_index)
    }
}

/// Builds index entries batch by batch with Kafka's rules: an offset-index entry (the batch's
/// last offset, the batch's start position) once more than `interval_bytes` of log were written
/// since the last entry, a time-index entry (largest timestamp so far, the offset of its batch's
/// last record) at the same moments and when the segment is sealed.
#[derive(Clone, Debug)]
pub(crate) struct IndexBuilder {
    interval_bytes: usize,
    bytes_since_entry: usize,
    max_timestamp: i64,
    offset_of_max_timestamp: u64,
}

impl IndexBuilder {
    pub fn new(interval_bytes: usize) -> Self {
        IndexBuilder {
            interval_bytes,
            bytes_since_entry: 0,
            max_timestamp: NO_TIMESTAMP,
            offset_of_max_timestamp: 0,
        }
    }

    /// A builder that continues a segment whose indexes were loaded from disk; `segment`'s time
    /// index gives the largest timestamp so far.
    pub fn resume(interval_bytes: usize, segment: &Segment) -> Self {
        let mut builder = IndexBuilder::new(interval_bytes);
        if let Some(last) = segment
            .time_index
            .read()
            .expect("index lock poisoned")
            .last()
        {
            builder.max_timestamp = last.timestamp_ms;
            // Saturating: a segment named for a base offset near u64::MAX (no valid offset is
            // above i64::MAX) must not make a loaded index overflow.
            builder.offset_of_max_timestamp = segment
                .base_offset
                .saturating_add(u64::from(last.relative_offset));
            segment
                .max_timestamp
                .fetch_max(last.timestamp_ms, Ordering::AcqRel);
        }
        builder
    }

    /// Accounts for a batch appended at `position` of `segment`, adding index entries as due,
    /// and updates the segment's timestamps.
    pub fn on_batch(&mut self, segment: &Segment, header: &BatchHeader, position: u64) {
        let last_offset = header.last_offset() as u64;
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = last_offset;
        }
        if self.bytes_since_entry > self.interval_bytes {
            let relative = segment.relative(last_offset);
            let mut index = segment.index.write().expect("index lock poisoned");
            // A scan that resumes from the last entry loaded from disk sees indexed batches again.
            if index.last().is_none_or(|last| {
                last.relative_offset < relative && last.position < position as u32
            }) {
                index.push(relative, position as u32);
            }
            drop(index);
            self.push_time_entry(segment);
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry += header.total_bytes();
        if segment.first_timestamp.load(Ordering::Relaxed) == NO_TIMESTAMP {
            segment
                .first_timestamp
                .store(header.base_timestamp, Ordering::Relaxed);
        }
        segment
            .max_timestamp
            .fetch_max(header.max_timestamp, Ordering::AcqRel);
    }

    /// Adds the final time-index entry when the segment is sealed or closed.
    pub fn push_time_entry(&self, segment: &Segment) {
        if self.max_timestamp != NO_TIMESTAMP {
            let mut time_index = segment.time_index.write().expect("index lock poisoned");
            let relative = segment.relative(self.offset_of_max_timestamp);
            if time_index
                .last()
                .is_none_or(|last| last.relative_offset <= relative)
            {
                time_index.maybe_push(self.max_timestamp, relative);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_kafkas() {
        assert_eq!(file_name(42, LOG_EXTENSION), "00000000000000000042.log");
        assert_eq!(
            parse_file_name("00000000000000000042.log", LOG_EXTENSION),
            Some(42)
        );
        assert_eq!(
            parse_file_name("00000000000000000042.index", LOG_EXTENSION),
            None
        );
        assert_eq!(parse_file_name("42.log", LOG_EXTENSION), None);
        assert_eq!(
            parse_file_name("0000000000000000004x.log", LOG_EXTENSION),
            None
        );
        assert_eq!(
            parse_file_name("99999999999999999999.log", LOG_EXTENSION),
            None,
            "overflows u64"
        );
    }
}
