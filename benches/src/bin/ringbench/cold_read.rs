//! `sequential_fetch_cold`: a consumer reading a log nobody has read, end to end with 1 MiB
//! fetches: the engine's cache empty (a fresh `Shared`, so a fresh buffer pool too, as in a
//! new process, though the allocator may hand out memory the last pass freed) and the page
//! cache emptied (`drop_caches` as root, else `fadvise` of the log's
//! files). The log (1 KiB records in batches of 100, as a producer sends them) is written
//! untimed; each pass reopens it, so passes are repetitions and the result carries their
//! spread. The figure the fetch target is judged on (`report::targets`), beside the warm
//! `sequential_fetch`.

use std::time::Instant;

use benches::fixtures::{CONSUMER_FETCH_BYTES, Case, record};
use benches::peers::os::{CacheDrop, files_under};
use benches::scenarios::log::COLD_PASSES;
use benches::{bench_dir, config, payload};
use hdrhistogram::Histogram;
use ringlog::record::{BatchHeader, Record};
use ringlog::{Durability, Log, Shared, SharedConfig};

use crate::log_scenarios::Outcome;
use crate::measure::{Budget, Meter, record as record_latency};

/// Writes the case's log, then reads it cold [`COLD_PASSES`] times; an operation is a fetch.
///
/// # Panics
/// If the log cannot be written, reopened or read back whole and in order, or the page cache
/// cannot be emptied.
pub fn sequential_fetch_cold(case: &Case, _budget: Budget) -> Outcome {
    let dir = bench_dir();
    let path = dir.path().join("log");
    let batch = case.extra();
    {
        let log = Log::open(&path, config(Durability::None)).expect("open the log");
        let value = payload(case.size);
        let records: Vec<Record<'_>> = (0..batch as u64).map(|i| record(&value, i)).collect();
        for _ in 0..case.messages / batch {
            log.append(&records).expect("fill the log");
        }
        log.close().expect("close the log");
    }
    let end = (case.messages / batch * batch) as u64;
    let drop = CacheDrop::Auto.resolve();
    let mut meter = Meter::default();
    for _ in 0..COLD_PASSES {
        let files = files_under(&path);
        // `drop_caches` can be refused even to root (a container's read-only /proc/sys):
        // the log's own pages are all a cold pass needs gone.
        drop.drop_cache(&files)
            .or_else(|_| CacheDrop::Fadvise.drop_cache(&files))
            .expect("empty the page cache");
        let shared = Shared::new(&path, &SharedConfig::default()).expect("shared resources");
        let log = Log::open_with(&path, config(Durability::None), &shared).expect("reopen");
        let started = Instant::now();
        let (bytes, fetches) = meter.region(|hist| consume(&log, end, hist));
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        meter
            .passes
            .push((end * case.size as u64) as f64 / 1e6 / secs);
        meter.ops += fetches;
        meter.moved(end, end * case.size as u64, Some(bytes));
        log.close().expect("close");
    }
    (meter, None)
}

/// Fetches `[0, end)` in order, each fetch timed, checking that batches follow each other;
/// returns (bytes, fetches).
fn consume(log: &Log, end: u64, hist: &mut Histogram<u64>) -> (u64, u64) {
    let (mut offset, mut bytes, mut count) = (0, 0, 0);
    while offset < end {
        let start = Instant::now();
        let fetched = log.fetch(offset, CONSUMER_FETCH_BYTES).expect("fetch");
        record_latency(hist, start.elapsed());
        let mut rest = &fetched.bytes[..];
        while !rest.is_empty() {
            let header = BatchHeader::parse(rest).expect("a batch header");
            assert_eq!(header.base_offset as u64, offset, "batches in order");
            offset = header.last_offset() as u64 + 1;
            rest = &rest[header.total_bytes()..];
        }
        assert_eq!(fetched.next_fetch_offset, offset, "next fetch offset");
        bytes += fetched.bytes.len() as u64;
        count += 1;
    }
    (bytes, count)
}
