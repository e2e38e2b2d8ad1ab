//! Opening a log whose segment holds arbitrary bytes (input layout:
//! `ringlog_fuzz::segment_input`). The recovery scan must keep exactly the valid prefix that
//! the independent model (`ringlog_fuzz::model`) keeps: every kept batch decodes and passes its
//! CRC, the log's end offset follows from them, fetches return exactly those batches, an append
//! afterwards works, and a clean reopen (trusting the indexes the engine wrote) serves the same
//! bytes. A sealed segment that is not wholly valid must fail to open, naming where the damage
//! starts. With index files of the input's own (trusted after a clean shutdown) only the absence
//! of panics, hangs and runaway allocations is checked: the engine trusts those by design.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use ringlog::record::{BatchHeader, Record};
use ringlog::segment::{INDEX_EXTENSION, LOG_EXTENSION, TIME_INDEX_EXTENSION, file_name};
use ringlog::{
    AppendError, CLEAN_SHUTDOWN_FILE, Config, Durability, IoMode, Log, OpenError, ReadError,
    Shared, SharedConfig,
};
use ringlog_fuzz::batches::reseal_all;
use ringlog_fuzz::model::{self, ModelScan};
use ringlog_fuzz::segment_input::SegmentInput;
use ringlog_fuzz::{fresh_dir, scratch_root};

/// Fetch walks stop after this many fetches (a walk that does not progress is a bug anyway).
const MAX_FETCHES: usize = 100_000;

struct Harness {
    shared: Arc<Shared>,
    dir: PathBuf,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let root = scratch_root();
        // Small buffers and cache, so that the scan window slides and fetches stitch ranges.
        let shared = Shared::new(
            &root,
            &SharedConfig {
                io_mode: IoMode::Portable,
                buffer_bytes: 4096,
                buffer_pool_bytes: 32 << 20,
                cache_bytes: 64 << 10,
                ..SharedConfig::default()
            },
        )
        .expect("set up shared I/O resources");
        Harness {
            shared,
            dir: root.join("log"),
        }
    })
}

fn config(max_batch_bytes: usize) -> Config {
    Config {
        index_interval_bytes: 256,
        max_batch_bytes,
        durability: Durability::None,
        read_ahead_bytes: 4096,
        preallocate_bytes: 64 << 10,
        flush_interval_ms: None,
        retention_check_interval_ms: None,
        io_mode: IoMode::Portable,
        ..Config::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = SegmentInput::parse(data) else {
        return;
    };
    let h = harness();
    fresh_dir(&h.dir);
    let mut log_bytes = input.log.to_vec();
    if input.reseal {
        reseal_all(&mut log_bytes);
    }
    let base = input.segment_base;
    let model = model::scan(&log_bytes, base);
    write(&h.dir, base, LOG_EXTENSION, &log_bytes);
    if let Some((index, time_index)) = input.indexes {
        write(&h.dir, base, INDEX_EXTENSION, index);
        write(&h.dir, base, TIME_INDEX_EXTENSION, time_index);
        std::fs::write(h.dir.join(CLEAN_SHUTDOWN_FILE), b"0\n").expect("write the marker");
    }
    // The newer segment starts where the model says this one ends (or later).
    let newer_base = model.next_offset.max(base + 1);
    if input.sealed {
        write(&h.dir, newer_base, LOG_EXTENSION, &[]);
    }
    let opened = Log::open_with(&h.dir, config(input.max_batch_bytes), &h.shared);
    if input.indexes.is_some() {
        check_trusting_indexes(opened, &model, input.sealed);
    } else if input.sealed {
        check_sealed(opened, &model, &log_bytes, base, newer_base);
    } else {
        let log = opened.unwrap_or_else(|e| panic!("an active segment always opens: {e}"));
        assert_eq!(log.segment_count(), 1);
        assert_eq!(log.next_offset(), model.next_offset);
        check_prefix(&log, &model, &log_bytes, base);
        check_append_and_reopen(log);
    }
});

fn write(dir: &Path, base: u64, extension: &str, bytes: &[u8]) {
    std::fs::write(dir.join(file_name(base, extension)), bytes).expect("write a segment file");
}

/// A sealed segment opens only if it is valid to its end.
fn check_sealed(
    opened: Result<Log, OpenError>,
    model: &ModelScan,
    log_bytes: &[u8],
    base: u64,
    newer_base: u64,
) {
    match opened {
        Err(OpenError::CorruptSealedSegment { position, .. }) => {
            assert!(model.stopped, "a valid sealed segment was refused");
            assert_eq!(
                position, model.valid_bytes as u64,
                "where the damage starts"
            );
        }
        Err(e) => panic!("unexpected error opening a sealed segment: {e}"),
        Ok(log) => {
            assert!(!model.stopped, "a damaged sealed segment was accepted");
            assert_eq!(log.segment_count(), 2);
            assert_eq!(log.next_offset(), newer_base);
            check_prefix(&log, model, log_bytes, base);
            check_append_and_reopen(log);
        }
    }
}

/// The log holds exactly the model's batches, and fetches return them.
fn check_prefix(log: &Log, model: &ModelScan, log_bytes: &[u8], base: u64) {
    assert_eq!(log.start_offset(), base);
    assert_eq!(log.size_bytes(), model.valid_bytes as u64);
    for max_bytes in [1, 1 << 20] {
        let mut offset = base;
        let mut fetch_count = 0;
        while offset < model.next_offset {
            let fetched = log
                .fetch(offset, max_bytes)
                .unwrap_or_else(|e| panic!("fetch {offset} of a valid prefix: {e}"));
            let first = model
                .batches
                .iter()
                .find(|b| b.last_offset() >= offset)
                .expect("a kept batch holds or follows every offset below the end");
            let start = first.position;
            let end = start + fetched.bytes.len();
            assert!(!fetched.bytes.is_empty(), "fetch {offset} returned nothing");
            assert_eq!(&fetched.bytes[..], &log_bytes[start..end], "fetch {offset}");
            let last = model
                .batches
                .iter()
                .find(|b| b.position + b.total_bytes == end)
                .expect("a fetch ends at a batch boundary");
            assert_eq!(fetched.next_fetch_offset, last.last_offset() + 1);
            assert!(fetched.next_fetch_offset > offset, "fetches progress");
            offset = fetched.next_fetch_offset;
            fetch_count += 1;
            assert!(fetch_count <= MAX_FETCHES);
        }
    }
    let read = log.read_records(base, 1 << 20);
    let read = read.unwrap_or_else(|e| panic!("read the records of a valid prefix: {e}"));
    assert!(
        read.iter()
            .all(|r| r.offset >= base && r.offset < model.next_offset)
    );
    let mut probes = vec![i64::MIN, -1, 0, i64::MAX];
    probes.extend(model.batches.iter().take(8).map(|b| b.header.max_timestamp));
    for timestamp_ms in probes {
        let found = log
            .offset_for_timestamp(timestamp_ms)
            .unwrap_or_else(|e| panic!("offset for timestamp {timestamp_ms}: {e}"));
        assert!(found.is_none_or(|o| o >= base && o < log.next_offset()));
    }
}

/// An append after recovery gets the next offset and reads back; a clean reopen, which trusts
/// the indexes the engine wrote at close, serves the same bytes.
fn check_append_and_reopen(log: Log) {
    let before = log.next_offset();
    let record = [Record {
        key: Some(b"after"),
        value: Some(b"recovery"),
        timestamp_ms: 1_700_000_000_000,
        headers: &[],
    }];
    match log.append(&record) {
        Ok(info) => {
            assert_eq!(info.base_offset, before);
            let fetched = log
                .fetch(before, 1 << 20)
                .expect("fetch the appended batch");
            let header = BatchHeader::parse(&fetched.bytes).expect("a batch header");
            assert_eq!(header.base_offset as u64, before);
        }
        Err(AppendError::OffsetOverflow { .. }) => assert!(before >= i64::MAX as u64),
        Err(e) => panic!("append after recovery: {e}"),
    }
    let walked = walk(&log).expect("walk the log before closing");
    let (dir, shared) = (log.dir().to_path_buf(), Arc::clone(log.shared()));
    let config = log.config().clone();
    log.close().expect("close");
    drop(log);
    let log = Log::open_with(&dir, config, &shared).expect("a clean reopen");
    assert_eq!(walk(&log).expect("walk the log after reopening"), walked);
}

/// The bytes of every fetch from the start offset to the end, one after the other, and the
/// offset where the walk ended. (Where one fetch ends depends on what is cached or still in
/// memory, so only the whole stream is comparable.)
fn walk(log: &Log) -> Result<(Vec<u8>, u64), ReadError> {
    let mut out = Vec::new();
    let mut offset = log.start_offset();
    for _ in 0..MAX_FETCHES {
        if offset >= log.next_offset() {
            break;
        }
        let fetched = log.fetch(offset, 4096)?;
        if fetched.bytes.is_empty() || fetched.next_fetch_offset <= offset {
            break;
        }
        out.extend_from_slice(&fetched.bytes);
        offset = fetched.next_fetch_offset;
    }
    Ok((out, offset))
}

/// Indexes from the input are trusted after a clean shutdown, so the log may keep more than
/// the model (a scan resumed at the last index entry does not see damage before it), but never
/// less: a scan that resumes and stops short is redone from the start. Whatever the indexes
/// say, fetches and lookups must not panic or hang.
fn check_trusting_indexes(opened: Result<Log, OpenError>, model: &ModelScan, sealed: bool) {
    let log = match opened {
        Ok(log) => log,
        Err(OpenError::CorruptSealedSegment { position, .. }) if sealed => {
            assert!(model.stopped, "a valid sealed segment was refused");
            assert_eq!(
                position, model.valid_bytes as u64,
                "where the damage starts"
            );
            return;
        }
        // A resumed scan may keep batches that overlap the newer segment's offsets.
        Err(OpenError::OffsetsOverlap { .. }) if sealed => return,
        Err(e) => panic!("unexpected error opening with trusted indexes: {e}"),
    };
    assert!(
        log.size_bytes() >= model.valid_bytes as u64,
        "trusting the indexes lost valid batches: kept {} bytes, a full scan keeps {}",
        log.size_bytes(),
        model.valid_bytes
    );
    let _ = walk(&log);
    for timestamp_ms in [i64::MIN, 0, 1_700_000_000_000, i64::MAX] {
        let _ = log.offset_for_timestamp(timestamp_ms);
    }
    let _ = log.read_records(log.start_offset(), 1 << 16);
}
