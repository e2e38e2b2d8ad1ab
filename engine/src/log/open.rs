//! Opening a log: finding its segments, loading their indexes, and recovering the last segment
//! after an unclean shutdown.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use crate::config::Config;
use crate::error::OpenError;
use crate::io::Storage;
use crate::lock::DirLock;
use crate::segment::index::OffsetIndex;
use crate::segment::recovery::{self, RecoveryCut, StopReason};
use crate::segment::time_index::TimeIndex;
use crate::segment::{
    INDEX_EXTENSION, IndexBuilder, LOG_EXTENSION, Segment, TIME_INDEX_EXTENSION, parse_file_name,
};
use crate::shared::Shared;

use super::writer::Writer;
use super::{CLEAN_SHUTDOWN_FILE, LogInner};

/// How much of a segment can be trusted without a full scan.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Trust {
    /// Sealed, or closed cleanly: its size and indexes are right unless they fail validation.
    Indexes,
    /// The active segment after an unclean shutdown: scan everything, truncate at damage.
    Nothing,
}

/// How a log is opened.
pub(super) enum Access {
    /// For writing, holding the directory's lock: recovery may truncate, trim and rewrite.
    Write(DirLock),
    /// Read-only: nothing on disk changes (no truncation, no marker, no swap settled), and only
    /// what is valid is read. No lock: it works beside a live writer.
    ReadOnly,
}

impl Access {
    /// The directory's lock, held for writing.
    fn into_lock(self) -> Option<DirLock> {
        match self {
            Access::Write(lock) => Some(lock),
            Access::ReadOnly => None,
        }
    }

    fn writes(&self) -> bool {
        matches!(self, Access::Write(_))
    }
}

pub(super) fn open(
    dir: &Path,
    config: Config,
    shared: Arc<Shared>,
    access: Access,
) -> Result<LogInner, OpenError> {
    let writes = access.writes();
    if writes {
        // An interrupted compaction is finished (committed) or undone before segments are
        // listed.
        crate::compaction::swap::recover(shared.storage().as_ref(), dir)
            .map_err(|source| io_error("settle the compaction in", dir, source))?;
    }
    let storage = shared.storage().as_ref();
    let marker = dir.join(CLEAN_SHUTDOWN_FILE);
    let clean = storage
        .exists(&marker)
        .map_err(|source| io_error("look for", &marker, source))?;
    if writes {
        remove_spares_left(storage, dir)?;
    }
    let files = list_segments(storage, dir, writes)?;
    if files.is_empty() && !writes {
        return Err(OpenError::NoLog {
            dir: dir.to_path_buf(),
        });
    }
    let id = shared.new_log_id();
    let mut segments = BTreeMap::new();
    let mut previous_next: Option<u64> = None;
    let mut last_builder = None;
    let mut cuts = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let base = file.base;
        let is_last = i + 1 == files.len();
        let trust = if (is_last && !clean) || file.staged {
            Trust::Nothing
        } else {
            Trust::Indexes
        };
        let place = Placement {
            path: &file.path,
            trust,
            is_last,
            writes,
        };
        let (segment, builder, cut) = load_segment(dir, base, &place, &config, &shared)?;
        cuts.extend(cut);
        if let Some(previous) = previous_next.filter(|&previous| base < previous) {
            return Err(OpenError::OffsetsOverlap {
                path: segment.log_path(),
                base_offset: base,
                previous_next_offset: previous,
            });
        }
        previous_next = Some(segment.next_offset());
        if is_last {
            last_builder = Some(builder);
        } else {
            segment.sealed.store(true, Ordering::Release);
        }
        segments.insert(base, Arc::new(segment));
    }
    if segments.is_empty() {
        let segment = create_first_segment(dir, &shared)?;
        segments.insert(0, Arc::new(segment));
        last_builder = Some(IndexBuilder::new(config.index_interval_bytes));
    }
    if clean && writes {
        remove_clean_marker(storage, dir, &marker)?;
    }
    let (&start, _) = segments.first_key_value().expect("at least one segment");
    let active = Arc::clone(segments.last_key_value().expect("at least one segment").1);
    let end = active.data_bytes();
    let next = active.next_offset();
    let builder = last_builder.expect("the last segment has a builder");
    let inner = LogInner {
        checked: super::checked::CheckedStorage::new(Arc::clone(shared.storage())),
        id,
        dir: dir.to_path_buf(),
        config,
        writer: Mutex::new(Writer::new(Arc::clone(&active), end, end, next, builder)),
        segments: RwLock::new(segments),
        flushed: Condvar::new(),
        appended: Condvar::new(),
        next_offset: AtomicU64::new(next),
        durable_offset: AtomicU64::new(next),
        waiters: super::handle::Waiters::default(),
        start_offset: AtomicU64::new(start),
        last_retention_ms: std::sync::atomic::AtomicI64::new(super::now_ms()),
        spares: super::spares::Spares::default(),
        read_ahead: super::read_ahead::ReadAhead::default(),
        maintenance: Mutex::new(()),
        close_requested: std::sync::atomic::AtomicBool::new(false),
        shared,
        recovery_cuts: cuts,
        read_only: !writes,
        lock: Mutex::new(access.into_lock()),
    };
    if !writes {
        // Nothing is ever appended: the writer state only serves reads of the active segment,
        // which is all on disk.
        inner.lock_writer().closed = true;
    }
    if inner.shared.uses_mmap() {
        map_segments(&inner, &active, end)?;
    }
    inner.read_last_page_at_open()?;
    Ok(inner)
}

/// On the mmap path: sealed segments mapped read-only, the active one for appends.
fn map_segments(inner: &LogInner, active: &Arc<Segment>, end: u64) -> Result<(), OpenError> {
    let segments: Vec<Arc<Segment>> = inner
        .segments
        .read()
        .expect("segments lock poisoned")
        .values()
        .cloned()
        .collect();
    for segment in segments
        .iter()
        .filter(|s| s.base_offset != active.base_offset)
    {
        let reader = ringlog_sys::mmap::MapReader::open_read_only(&segment.file)
            .map_err(|source| io_error("map", &segment.log_path(), source))?;
        *segment.map.write().expect("map lock poisoned") = Some(reader);
    }
    let writer = inner
        .map_active(active, end, end)
        .map_err(|source| io_error("map", &active.log_path(), source))?;
    inner.writer.lock().expect("writer lock poisoned").mapped =
        Some(super::writer::Mapped::new(writer, end));
    Ok(())
}

/// Removes the clean-shutdown marker durably: from here on a crash must trigger recovery again.
fn remove_clean_marker(
    storage: &dyn crate::io::Storage,
    dir: &Path,
    marker: &Path,
) -> Result<(), OpenError> {
    storage
        .remove_file(marker)
        .map_err(|source| io_error("remove", marker, source))?;
    storage
        .sync_dir(dir)
        .map_err(|source| io_error("fsync directory", dir, source))
}

fn io_error(op: &'static str, path: &Path, source: std::io::Error) -> OpenError {
    OpenError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// One segment file found in a log directory.
struct SegmentFile {
    base: u64,
    /// The `.log` file, or a committed compaction's `.log.swap` (read-only opens only).
    path: PathBuf,
    /// Whether `path` is a committed swap not yet in place, whose index files are not either.
    staged: bool,
}

/// The segment files in `dir`, ascending by base offset.
///
/// A read-only open does not settle an interrupted compaction, so it reads the directory as
/// settling would leave it: a committed pass (`P.pass.swap`) replaces its old segments with
/// its new ones (read from their `.cleaned` files where not yet renamed), a committed swap of
/// an earlier version (`B.log.swap`) replaces the segments its `B.replaces.swap` lists, and
/// other staged `.cleaned` files are ignored.
fn list_segments(
    storage: &dyn Storage,
    dir: &Path,
    writes: bool,
) -> Result<Vec<SegmentFile>, OpenError> {
    use crate::compaction::swap::{
        CLEANED_SUFFIX, MAX_REPLACES_BYTES, PASS_EXTENSION, REPLACES_EXTENSION, SWAP_SUFFIX,
        committed_passes, read_committed, staged_path,
    };
    let entries = storage
        .list_dir(dir)
        .map_err(|source| io_error("list", dir, source))?;
    let passes = if writes {
        Vec::new()
    } else {
        committed_passes(entries.iter().filter_map(|name| name.to_str()))
    };
    let mut files = BTreeMap::new();
    let mut swaps = Vec::new();
    let log_swap = format!(".{LOG_EXTENSION}.{SWAP_SUFFIX}");
    for name in entries {
        let Some(name) = name.to_str() else { continue };
        let entry_path = dir.join(name);
        if let Some(base) = parse_file_name(name, LOG_EXTENSION) {
            files.insert(base, (entry_path, false));
        } else if let Some(base) = name
            .strip_suffix(&log_swap)
            .and_then(|stem| parse_file_name(&format!("{stem}.{LOG_EXTENSION}"), LOG_EXTENSION))
            .filter(|_| !writes)
        {
            swaps.push((base, entry_path));
        } else if Path::new(name)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case(LOG_EXTENSION))
        {
            return Err(OpenError::BadFileName { path: entry_path });
        }
    }
    for (base, path) in swaps {
        let list = staged_path(dir, base, REPLACES_EXTENSION, SWAP_SUFFIX);
        let bytes = storage
            .read_file(&list, MAX_REPLACES_BYTES)
            .map_err(|source| io_error("read", &list, source))?;
        let text = String::from_utf8_lossy(&bytes);
        for replaced in text.lines().filter_map(|l| l.trim().parse::<u64>().ok()) {
            files.remove(&replaced);
        }
        files.insert(base, (path, true));
    }
    for base in passes {
        let manifest = read_committed(storage, dir, base).map_err(|source| {
            io_error(
                "read",
                &staged_path(dir, base, PASS_EXTENSION, SWAP_SUFFIX),
                source,
            )
        })?;
        let cleaned = |base: u64| staged_path(dir, base, LOG_EXTENSION, CLEANED_SUFFIX);
        let exists = |path: &Path| {
            storage
                .exists(path)
                .map_err(|source| io_error("look for", path, source))
        };
        for &old in &manifest.old {
            // A new segment that took an old one's base and is already in place stays.
            if !manifest.new.contains(&old) || exists(&cleaned(old))? {
                files.remove(&old);
            }
        }
        for &new in &manifest.new {
            let path = cleaned(new);
            if exists(&path)? {
                files.insert(new, (path, true));
            }
        }
    }
    Ok(files
        .into_iter()
        .map(|(base, (path, staged))| SegmentFile { base, path, staged })
        .collect())
}

/// Deletes the spare segment files (`{base}.log.deleted`, see `spares.rs`) an earlier process
/// left: they hold nothing acknowledged, and this process's spares are its own retention's.
fn remove_spares_left(storage: &dyn Storage, dir: &Path) -> Result<(), OpenError> {
    let entries = storage
        .list_dir(dir)
        .map_err(|source| io_error("list", dir, source))?;
    for name in entries {
        let Some(name) = name.to_str() else { continue };
        if super::spares::parse_spare_name(name).is_some() {
            let path = dir.join(name);
            storage
                .remove_file(&path)
                .map_err(|source| io_error("remove", &path, source))?;
        }
    }
    Ok(())
}

fn create_first_segment(dir: &Path, shared: &Arc<Shared>) -> Result<Segment, OpenError> {
    let path = dir.join(crate::segment::file_name(0, LOG_EXTENSION));
    let file = shared
        .storage()
        .open(&path, true)
        .map_err(|source| io_error("create", &path, source))?;
    let segment = Segment::new(dir, 0, file);
    segment
        .write_indexes(shared.storage().as_ref())
        .map_err(|source| io_error("create the indexes of", &path, source))?;
    shared
        .storage()
        .sync_dir(dir)
        .map_err(|source| io_error("fsync directory", dir, source))?;
    Ok(segment)
}

/// Where a segment sits in the log and what its open may do.
struct Placement<'a> {
    /// The segment's file.
    path: &'a Path,
    trust: Trust,
    /// The last (active) segment: damage at its end is cut, not refused.
    is_last: bool,
    /// A writing open: damage is cut from the file; a read-only open only stops reading there.
    writes: bool,
}

/// Opens one segment, loads or rebuilds its indexes, and finds its valid end; reports a cut of
/// anything but never-written space.
fn load_segment(
    dir: &Path,
    base: u64,
    place: &Placement<'_>,
    config: &Config,
    shared: &Arc<Shared>,
) -> Result<(Segment, IndexBuilder, Option<RecoveryCut>), OpenError> {
    let (trust, is_last) = (place.trust, place.is_last);
    let path = place.path.to_path_buf();
    let storage = shared.storage();
    let file = storage
        .open(&path, false)
        .map_err(|source| io_error("open", &path, source))?;
    let file_len = file
        .metadata()
        .map_err(|source| io_error("stat", &path, source))?
        .len();
    let segment = Segment::new(dir, base, file);
    let loaded = match trust {
        Trust::Indexes => load_indexes(storage.as_ref(), &segment, file_len)?,
        Trust::Nothing => None,
    };
    let (from, mut builder) = match loaded {
        Some((index, time_index)) => {
            let from = index.last().map_or(0, |entry| u64::from(entry.position));
            *segment.index.write().expect("index lock poisoned") = index;
            *segment.time_index.write().expect("index lock poisoned") = time_index;
            (
                from,
                IndexBuilder::resume(config.index_interval_bytes, &segment),
            )
        }
        None => (0, IndexBuilder::new(config.index_interval_bytes)),
    };
    let (from, outcome) = scan(shared, &segment, file_len, from, config, &mut builder)?;
    if let Some((position, reason)) = outcome.stop.as_ref().filter(|_| !is_last) {
        let source = match reason {
            StopReason::Invalid(e) => e.clone(),
            other => crate::record::BatchError::MalformedRecord {
                index: 0,
                reason: stop_reason_text(other),
            },
        };
        return Err(OpenError::CorruptSealedSegment {
            path,
            position: *position,
            source,
        });
    }
    let cut = outcome.stop.as_ref().and_then(|(position, reason)| {
        (*reason != StopReason::Zeros).then(|| RecoveryCut {
            path: path.clone(),
            from_byte: *position,
            to_byte: file_len,
            reason: reason.to_string(),
            next_offset: outcome.next_offset.max(base),
            written: place.writes,
        })
    });
    if outcome.valid_bytes < file_len {
        if place.writes {
            // The tail past the last valid batch is preallocated space or a torn write: cut it
            // so the next append continues right after acknowledged data.
            storage
                .set_len(&segment.file, outcome.valid_bytes)
                .map_err(|source| io_error("truncate", &path, source))?;
            storage
                .sync_data(&segment.file)
                .map_err(|source| io_error("fdatasync", &path, source))?;
        }
        let mut index = segment.index.write().expect("index lock poisoned");
        index.truncate_to_position(outcome.valid_bytes as u32);
    }
    if from > 0 {
        let first = recovery::first_header(
            storage.as_ref(),
            shared.pool(),
            &segment,
            outcome.valid_bytes,
        )
        .map_err(|source| io_error("read", &path, source))?;
        if let Some(first) = first {
            segment
                .first_timestamp
                .store(first.base_timestamp, Ordering::Relaxed);
        }
    }
    segment
        .data_bytes
        .store(outcome.valid_bytes, Ordering::Release);
    segment
        .disk_bytes
        .store(outcome.valid_bytes, Ordering::Release);
    segment
        .next_offset
        .store(outcome.next_offset.max(base), Ordering::Release);
    Ok((segment, builder, cut))
}

/// Runs the recovery scan of `segment` from `from` (its last loaded index entry, or 0); returns
/// where the scan that counts started, and what it found.
fn scan(
    shared: &Shared,
    segment: &Segment,
    file_len: u64,
    from: u64,
    config: &Config,
    builder: &mut IndexBuilder,
) -> Result<(u64, recovery::ScanOutcome), OpenError> {
    let (storage, pool) = (shared.storage().as_ref(), shared.pool());
    let read_error = |source| io_error("read", &segment.log_path(), source);
    let outcome =
        recovery::scan(storage, pool, segment, file_len, from, builder).map_err(read_error)?;
    if from == 0 || outcome.stop.is_none() {
        return Ok((from, outcome));
    }
    // The scan resumed at the last loaded index entry and stopped short. The index itself may be
    // what is damaged (an entry pointing inside a batch): rebuild it from a full scan rather than
    // truncate, or refuse, batches that a scan from the start keeps.
    forget_indexes(segment);
    *builder = IndexBuilder::new(config.index_interval_bytes);
    let outcome =
        recovery::scan(storage, pool, segment, file_len, 0, builder).map_err(read_error)?;
    Ok((0, outcome))
}

/// Drops the indexes and timestamps loaded for `segment`, before a full scan rebuilds them.
fn forget_indexes(segment: &Segment) {
    *segment.index.write().expect("index lock poisoned") = OffsetIndex::new();
    *segment.time_index.write().expect("index lock poisoned") = TimeIndex::new();
    let none = crate::segment::time_index::NO_TIMESTAMP;
    segment.max_timestamp.store(none, Ordering::Relaxed);
    segment.first_timestamp.store(none, Ordering::Relaxed);
}

fn stop_reason_text(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::Zeros => "zero-filled bytes inside a sealed segment",
        StopReason::Torn => "a sealed segment ends inside a batch",
        StopReason::Invalid(_) => "an invalid batch",
        StopReason::OffsetsBackwards { .. } => "offsets go backwards",
    }
}

/// Both index files of a trusted segment, if present and valid for a log of `log_bytes`.
/// An index file that is larger than one entry per smallest possible batch is not read at all
/// (so a damaged file cannot make us allocate more than the log itself justifies).
///
/// A missing, oversized or invalid index file is rebuilt by a full scan (`Ok(None)`); a read
/// that fails for another reason (EIO) fails the open, which the operator must hear of.
fn load_indexes(
    storage: &dyn Storage,
    segment: &Segment,
    log_bytes: u64,
) -> Result<Option<(OffsetIndex, TimeIndex)>, OpenError> {
    let max_entries = log_bytes / crate::record::BATCH_HEADER_BYTES as u64 + 1;
    let read = |extension: &str, entry_bytes: usize| -> Result<Option<Vec<u8>>, OpenError> {
        let path = segment.path(extension);
        match storage.read_file(&path, max_entries * entry_bytes as u64) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::InvalidData) => Ok(None),
            Err(source) => Err(io_error("read", &path, source)),
        }
    };
    let Some(index_bytes) = read(INDEX_EXTENSION, crate::segment::index::OFFSET_ENTRY_BYTES)?
    else {
        return Ok(None);
    };
    let Ok(index) = OffsetIndex::decode(&index_bytes, log_bytes) else {
        return Ok(None);
    };
    let time_entry = crate::segment::time_index::TIME_ENTRY_BYTES;
    let Some(time_bytes) = read(TIME_INDEX_EXTENSION, time_entry)? else {
        return Ok(None);
    };
    // Time entries may point past the last offset-index entry (the final entry added at roll),
    // so only the 32-bit range bounds them here.
    Ok(TimeIndex::decode(&time_bytes, u32::MAX)
        .ok()
        .map(|time_index| (index, time_index)))
}
