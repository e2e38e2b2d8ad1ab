//! Steady-state appends and fetches allocate nothing per record: appends encode into the
//! pooled tail chunk in place, and fetches of cached data are slices of cached buffers. The
//! only allocations left are per chunk or per cached range (a batch that straddles two cached
//! ranges is stitched together with one copy).
//! On the mmap path appends copy straight into the mapping and fetches slice it: there are no
//! chunks or cached ranges, and each bound is chosen so that an allocation per record still
//! fails there.
//! Allocations are counted on the test's own thread only (the background flusher's do not
//! count). Both tests run on every I/O path.

mod common;

use common::{for_each_io_mode, open_log};
use ringlog::record::Record;
use ringlog::{Config, Durability, IoMode, IoPath, Log};
use ringlog_sys::alloc_count::{CountingAllocator, thread_allocations};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const RECORD_BYTES: usize = 1024;
const WARMUP_RECORDS: usize = 5_000;
const MEASURED_RECORDS: usize = 20_000;

fn append_one(log: &Log, value: &[u8], i: usize) {
    let records = [Record {
        key: None,
        value: Some(value),
        timestamp_ms: i as i64,
        headers: &[],
    }];
    log.append(&records).unwrap();
}

#[test]
fn appends_allocate_only_per_chunk_not_per_record() {
    for_each_io_mode(appends_allocate_per_chunk);
}

fn appends_allocate_per_chunk(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        durability: Durability::None,
        flush_interval_ms: None,
        ..common::config(io_mode)
    };
    let log = open_log(dir.path(), config);
    let value = vec![1u8; RECORD_BYTES];
    for i in 0..WARMUP_RECORDS {
        append_one(&log, &value, i);
    }
    let before = thread_allocations();
    for i in 0..MEASURED_RECORDS {
        append_one(&log, &value, WARMUP_RECORDS + i);
    }
    let allocations = thread_allocations() - before;
    // One 256 KiB chunk holds about 240 of these records; freezing and writing a chunk costs
    // a handful of allocations (the shared `Bytes`, the in-flight entry, a new pooled buffer).
    // The mmap path has no chunks, and the bound (one allocation per 30 records) still catches
    // an allocation per record there.
    let chunks = MEASURED_RECORDS * (RECORD_BYTES + 80) / (256 * 1024) + 1;
    assert!(
        allocations <= (chunks * 8) as u64,
        "{allocations} allocations for {MEASURED_RECORDS} appends ({chunks} chunks)"
    );
}

#[test]
fn cached_fetches_allocate_nothing() {
    for_each_io_mode(cached_fetches_allocate_per_range);
}

fn cached_fetches_allocate_per_range(io_mode: IoMode) {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path(), common::config(io_mode));
    let value = vec![2u8; RECORD_BYTES];
    for i in 0..WARMUP_RECORDS {
        append_one(&log, &value, i);
    }
    log.close().unwrap();
    drop(log);
    let log = open_log(dir.path(), common::config(io_mode));
    let end = log.next_offset();
    // The first pass reads from disk into the cache (read-ahead buffers, allocated); on the
    // mmap path it faults the pages in.
    let mut offset = 0;
    while offset < end {
        offset = log.fetch(offset, 16 * 1024).unwrap().next_fetch_offset;
    }
    let before = thread_allocations();
    let mut fetched_bytes = 0;
    let mut fetches = 0;
    let mut offset = 0;
    while offset < end {
        let batches = log.fetch(offset, 16 * 1024).unwrap();
        fetched_bytes += batches.bytes.len();
        fetches += 1;
        offset = batches.next_fetch_offset;
    }
    let allocations = thread_allocations() - before;
    assert!(
        fetched_bytes >= WARMUP_RECORDS * RECORD_BYTES,
        "everything was fetched again"
    );
    let (bound, per) = fetch_allocation_bound(&log, fetched_bytes, fetches);
    assert!(
        allocations <= bound,
        "{allocations} allocations for {fetches} cached fetches of {fetched_bytes} bytes \
         on {}: at most {bound} ({per})",
        log.io_path()
    );
}

/// The most allocations `fetches` fetches of `fetched_bytes` cached bytes may cost on `log`'s
/// path, and what the bound counts.
fn fetch_allocation_bound(log: &Log, fetched_bytes: usize, fetches: usize) -> (u64, String) {
    if log.io_path() == IoPath::Mmap {
        // A fetch is a slice of the mapping; at most one handle per fetch keeps the mapping
        // alive. Every batch here holds one record and a fetch returns about 15 of them, so an
        // allocation per batch or per record exceeds this.
        (fetches as u64, "one per fetch".to_owned())
    } else {
        // A batch that straddles two cached ranges is stitched together with one copy.
        let ranges = fetched_bytes / log.config().read_ahead_bytes + 1;
        (
            2 * ranges as u64,
            format!("two per cached range, {ranges} ranges"),
        )
    }
}
