//! Spare segment files: the `.log` files of segments that retention deleted, kept for the next
//! roll to write over instead of creating a new file.
//!
//! Why: on ext4 and XFS a direct write into `fallocate`d space converts the extents it covers
//! from unwritten to written, metadata work that the write's completion and the next
//! `fdatasync` pay for; a write over blocks that were written before is a plain overwrite. On
//! this machine that is 1.3-1.9x the write rate and about 0.65x the write+`fdatasync` latency
//! (`ringbench disk`: `overwrite` against `fallocated`; see `docs/design.md`, "Spare segment
//! files"). A log under retention in steady state then writes every segment over a retired one.
//!
//! Rules:
//! - Retention renames a deleted segment's `.log` to `{base_offset:020}.log.deleted` (Kafka's
//!   suffix for a segment file waiting to be deleted, so Kafka's own tools skip it and delete it)
//!   and keeps its open handle, up to [`crate::Config::spare_segments`] files; the rest are
//!   deleted as before. A spare is offered to rolls only once the directory is synced after its
//!   rename.
//! - Only a segment nobody else holds becomes a spare: a fetch that still reads it keeps the
//!   `Arc` (and the read its `Arc<File>`), and overwriting the file under it would hand the
//!   consumer new bytes for old offsets. Such a segment is deleted (the reader keeps the old
//!   inode, as before).
//! - Not on the mmap path: fetches there hold slices of a sealed segment's mapping, which no
//!   count of the segment shows.
//! - A roll renames a spare to the new segment's name and writes from byte 0; its old batches
//!   after the new data carry offsets below the new segment's base, so the recovery scan stops
//!   at them (`StopReason::OffsetsBackwards`) and a writing open cuts them. Sealing and close
//!   trim the file to its data, so a sealed segment holds nothing stale.
//! - Spares hold nothing acknowledged: close deletes them, and a writing open deletes those an
//!   earlier process left.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::segment::{LOG_EXTENSION, Segment, file_name, parse_file_name};

/// Suffix appended to a spare's `.log` name: `{base_offset:020}.log.deleted`.
pub const SPARE_SUFFIX: &str = "deleted";

/// A spare file: its current path and the handle retention kept open.
pub(crate) struct Spare {
    pub path: PathBuf,
    pub file: Arc<File>,
}

/// The spares of one log, most recently retired last.
#[derive(Default)]
pub(crate) struct Spares {
    files: Mutex<Vec<Spare>>,
}

impl Spares {
    /// How many spares are ready for a roll.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Offers `spare` to the next roll (its rename must be durable already).
    pub fn push(&self, spare: Spare) {
        self.lock().push(spare);
    }

    /// A spare for a roll, if there is one.
    pub fn take(&self) -> Option<Spare> {
        self.lock().pop()
    }

    /// Every spare, for close to delete.
    pub fn drain(&self) -> Vec<Spare> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Spare>> {
        self.files.lock().expect("spares lock poisoned")
    }
}

/// The name `segment`'s `.log` file takes as a spare.
pub(crate) fn spare_path(segment: &Segment) -> PathBuf {
    spare_path_of(&segment.dir, segment.base_offset)
}

fn spare_path_of(dir: &Path, base_offset: u64) -> PathBuf {
    dir.join(format!(
        "{}.{SPARE_SUFFIX}",
        file_name(base_offset, LOG_EXTENSION)
    ))
}

/// The base offset in a spare's file name, if `name` is `{20 digits}.log.deleted`.
pub(crate) fn parse_spare_name(name: &str) -> Option<u64> {
    let log_name = name.strip_suffix(SPARE_SUFFIX)?.strip_suffix('.')?;
    parse_file_name(log_name, LOG_EXTENSION)
}

/// Whether retention may keep `segment`'s file as a spare: nobody but the caller (who took it
/// out of the segment map, so no new fetch can find it) holds the segment or its file.
pub(crate) fn unshared(segment: &Arc<Segment>) -> bool {
    Arc::strong_count(segment) == 1 && Arc::strong_count(&segment.file) == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spare_names_are_the_log_name_with_kafkas_deleted_suffix() {
        let path = spare_path_of(Path::new("/d"), 42);
        assert_eq!(
            path,
            Path::new("/d/00000000000000000042.log.deleted"),
            "Kafka's name for a segment file waiting to be deleted"
        );
        let name = path.file_name().and_then(|n| n.to_str()).expect("utf-8");
        assert_eq!(parse_spare_name(name), Some(42));
        assert_eq!(parse_spare_name("00000000000000000042.log"), None);
        assert_eq!(parse_spare_name("42.log.deleted"), None, "20 digits only");
        assert_eq!(parse_spare_name("00000000000000000042.index.deleted"), None);
    }

    #[test]
    fn a_segment_held_elsewhere_is_not_a_spare() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = Arc::new(File::create(dir.path().join("f")).expect("create"));
        let segment = Arc::new(Segment::new(dir.path(), 0, Arc::clone(&file)));
        assert!(!unshared(&segment), "a read in flight holds the file");
        drop(file);
        assert!(unshared(&segment));
        let fetch = Arc::clone(&segment);
        assert!(!unshared(&segment), "a fetch holds the segment");
        drop(fetch);
        assert!(unshared(&segment));
    }
}
