//! The partition-log scenarios of `benches/log.rs`, on ringbench's own timing loops: same
//! grids ([`benches::scenarios::log`]), same fixtures, same checks of what is read.

use std::sync::Arc;
use std::time::Instant;

use benches::crew::with_crew;
use benches::fixtures::{
    CONSUMER_FETCH_BYTES, Case, LOG_CAP_BYTES, NaiveSink, Rotating, Sink, XorShift, batch_bytes,
    check_batches, filled, record,
};
use benches::scenarios::log::{
    BIG_BATCH_BYTES, CONSUMER_FETCH_RECORDS, MIXED_LAG, SEED, compaction_segment_bytes,
};
use benches::{config, payload};
use hdrhistogram::Histogram;
use ringlog::compaction::CompactOptions;
use ringlog::record::{Record, encoded_batch_bytes};
use ringlog::{CleanupPolicy, Durability, Log};
use ringlog_sys::alloc_count::thread_allocations;

use crate::measure::{Budget, Driver, Meter, histogram, record as record_latency};
use benches::results::CompactionFigures;

/// Operations per timed region of the latency scenarios: each operation is timed on its own,
/// the CPU clock is read around the region.
const OPS_PER_REGION: u64 = 64;

/// What a scenario returns: the meter and, for compaction, its figures.
pub type Outcome = (Meter, Option<CompactionFigures>);

fn bytes_of(messages: usize, size: usize) -> (u64, u64, Option<u64>) {
    (
        messages as u64,
        (messages * size) as u64,
        Some((messages * batch_bytes(size)) as u64),
    )
}

/// `messages` single-record appends per region to a long-lived log, each timed.
pub fn write_throughput(case: &Case, budget: Budget) -> Outcome {
    let value = payload(case.size);
    let mut logs = Rotating::new(config(Durability::None), LOG_CAP_BYTES, 0, case.size);
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let sink = logs.current();
        meter.region(|hist| {
            for i in 0..case.messages as u64 {
                let start = Instant::now();
                sink.log.append(&[record(&value, i)]).expect("append");
                record_latency(hist, start.elapsed());
            }
        });
        meter.ops += case.messages as u64;
        let (m, p, d) = bytes_of(case.messages, case.size);
        meter.moved(m, p, d);
    }
    (meter, None)
}

/// One append of a `batch`-record batch per operation.
pub fn batch_write_throughput(case: &Case, budget: Budget) -> Outcome {
    let batch = case.extra();
    let value = payload(case.size);
    let records: Vec<_> = (0..batch as u64).map(|i| record(&value, i)).collect();
    let disk = encoded_batch_bytes(&records).expect("a valid batch") as u64;
    let config = ringlog::Config {
        max_batch_bytes: BIG_BATCH_BYTES,
        ..config(Durability::None)
    };
    let mut logs = Rotating::new(config, LOG_CAP_BYTES, 0, case.size);
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let sink = logs.current();
        meter.region(|hist| {
            for _ in 0..OPS_PER_REGION.div_ceil(batch as u64) {
                let start = Instant::now();
                let info = sink.log.append(&records).expect("append a batch");
                record_latency(hist, start.elapsed());
                assert_eq!(info.last_offset - info.base_offset + 1, batch as u64);
            }
        });
        let n = OPS_PER_REGION.div_ceil(batch as u64);
        meter.ops += n;
        meter.moved(
            n * batch as u64,
            n * (batch * case.size) as u64,
            Some(n * disk),
        );
    }
    (meter, None)
}

/// One append of one record per operation; with `sync`, acknowledged after `fdatasync`.
pub fn produce_latency(case: &Case, budget: Budget) -> Outcome {
    let value = payload(case.size);
    let durability = case.durability.expect("a durability");
    let mut logs = Rotating::new(config(durability), LOG_CAP_BYTES, 0, case.size);
    let per_region = if durability == Durability::Sync {
        8
    } else {
        OPS_PER_REGION
    };
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let sink = logs.current();
        meter.region(|hist| {
            for i in 0..per_region {
                let start = Instant::now();
                sink.log.append(&[record(&value, i)]).expect("append");
                record_latency(hist, start.elapsed());
            }
        });
        meter.ops += per_region;
        let (m, p, d) = bytes_of(per_region as usize, case.size);
        meter.moved(m, p, d);
    }
    (meter, None)
}

/// `messages` appends per region split across `producers` threads (started before the first
/// region, released together for each: [`benches::crew`]), timed together; every append is
/// timed by its thread.
pub fn concurrent_producers(case: &Case, budget: Budget) -> Outcome {
    let producers = case.extra();
    let per_producer = case.messages / producers;
    let value = payload(case.size);
    let durability = case.durability.expect("a durability");
    let mut logs = Rotating::new(config(durability), LOG_CAP_BYTES, 0, case.size);
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    let produce = |_: usize, sink: &Arc<Sink>| {
        let mut hist = histogram();
        let allocs = thread_allocations();
        for i in 0..per_producer as u64 {
            let start = Instant::now();
            sink.log.append(&[record(&value, i)]).expect("append");
            record_latency(&mut hist, start.elapsed());
        }
        (hist, thread_allocations() - allocs)
    };
    with_crew(producers, produce, |crew| {
        while driver.more(&meter) {
            let sink = logs.current();
            let before = sink.log.next_offset();
            let hists: Vec<Histogram<u64>> = meter.region_threads(|| {
                let out = crew.run(Arc::clone(&sink));
                let allocs = out.iter().map(|(_, a)| a).sum();
                (out.into_iter().map(|(h, _)| h).collect(), allocs)
            });
            let appended = sink.log.next_offset() - before;
            assert_eq!(
                appended,
                (per_producer * producers) as u64,
                "appends landed"
            );
            for hist in &hists {
                meter.hist.add(hist).expect("same histogram bounds");
            }
            meter.ops += appended;
            let (m, p, d) = bytes_of(appended as usize, case.size);
            meter.moved(m, p, d);
        }
    });
    (meter, None)
}

/// The append that finds the active segment full (filled untimed before each operation).
pub fn segment_rollover(case: &Case, budget: Budget) -> Outcome {
    let segment_bytes = (case.extra() << 20) as u64;
    let per_segment = segment_bytes / batch_bytes(case.size) as u64;
    let value = payload(case.size);
    let config = ringlog::Config {
        segment_bytes,
        max_batch_bytes: 64 * 1024,
        ..config(Durability::None)
    };
    let mut logs = Rotating::new(config, LOG_CAP_BYTES.max(2 * segment_bytes), 0, case.size);
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let sink = logs.current();
        let active_base = *sink.log.segment_base_offsets().last().expect("a segment");
        let held = sink.log.next_offset() - active_base;
        sink.fill((per_segment - held) as usize, &value);
        let segments = sink.log.segment_count();
        meter.region(|hist| {
            let start = Instant::now();
            sink.log.append(&[record(&value, 0)]).expect("append");
            record_latency(hist, start.elapsed());
        });
        assert_eq!(sink.log.segment_count(), segments + 1, "the append rolled");
        meter.ops += 1;
        let (m, p, d) = bytes_of(1, case.size);
        meter.moved(m, p, d);
    }
    (meter, None)
}

/// Reads offsets `[from, to)` with fetches of `max_bytes`, timing each fetch and checking
/// its batches; returns (records, fetched bytes, fetches).
fn timed_consume(
    log: &Log,
    (from, to): (u64, u64),
    max_bytes: usize,
    batch: usize,
    hist: &mut Histogram<u64>,
) -> (u64, u64, u64) {
    let (mut offset, mut bytes, mut fetch_count) = (from, 0, 0);
    while offset < to {
        let start = Instant::now();
        let fetched = log.fetch(offset, max_bytes).expect("fetch");
        let records = check_batches(&fetched.bytes, offset, batch);
        record_latency(hist, start.elapsed());
        assert_eq!(
            fetched.next_fetch_offset,
            offset + records,
            "next fetch offset"
        );
        offset = fetched.next_fetch_offset;
        bytes += fetched.bytes.len() as u64;
        fetch_count += 1;
    }
    (offset.min(to) - from, bytes, fetch_count)
}

fn read_with(case: &Case, budget: Budget, max_bytes: impl Fn(usize) -> usize) -> Outcome {
    let data = filled(case.messages, case.size);
    let end = case.messages as u64;
    let max_bytes = max_bytes(data.batch_bytes);
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let (read, bytes, fetches) = meter
            .region(|hist| timed_consume(data.log(), (0, end), max_bytes, data.batch_bytes, hist));
        assert_eq!(read, end, "read the whole log");
        meter.ops += fetches;
        meter.moved(read, read * case.size as u64, Some(bytes));
    }
    (meter, None)
}

/// A consumer reading the whole (warm) log with 1 MiB fetches; an operation is a fetch.
pub fn read_throughput(case: &Case, budget: Budget) -> Outcome {
    read_with(case, budget, |_| CONSUMER_FETCH_BYTES)
}

/// The whole (warm) log read with fetches of `fetch` records.
pub fn sequential_fetch(case: &Case, budget: Budget) -> Outcome {
    let records = case.extra();
    read_with(case, budget, move |batch| records * batch)
}

/// One fetch of one record at a random offset per operation.
pub fn random_fetch(case: &Case, budget: Budget) -> Outcome {
    let data = filled(case.messages, case.size);
    let mut rng = XorShift::new(SEED);
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let offsets: Vec<u64> = (0..OPS_PER_REGION)
            .map(|_| rng.below(case.messages as u64))
            .collect();
        meter.region(|hist| {
            for &offset in &offsets {
                let start = Instant::now();
                let fetched = data.log().fetch(offset, data.batch_bytes).expect("fetch");
                assert_eq!(check_batches(&fetched.bytes, offset, data.batch_bytes), 1);
                record_latency(hist, start.elapsed());
            }
        });
        meter.ops += OPS_PER_REGION;
        let (m, p, d) = bytes_of(OPS_PER_REGION as usize, case.size);
        meter.moved(m, p, d);
    }
    (meter, None)
}

/// Fetching the record just appended (untimed append), from the log's tail. The untimed
/// append sits between every two fetches, so no CPU figure (see `Meter::op`).
pub fn fetch_latency(case: &Case, budget: Budget) -> Outcome {
    let value = payload(case.size);
    let batch = batch_bytes(case.size);
    let mut logs = Rotating::new(config(Durability::None), LOG_CAP_BYTES, 0, case.size);
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let sink = logs.current();
        for _ in 0..OPS_PER_REGION {
            let offset = sink.log.append(&[record(&value, 0)]).expect("append");
            let offset = offset.base_offset;
            meter.op(|| {
                let fetched = sink.log.fetch(offset, batch).expect("fetch");
                assert_eq!(check_batches(&fetched.bytes, offset, batch), 1);
            });
        }
        let (m, p, d) = bytes_of(OPS_PER_REGION as usize, case.size);
        meter.moved(m, p, d);
    }
    (meter, None)
}

/// The (warm) log split into `consumers` ranges read by as many threads (started before the
/// first region, released together for each: [`benches::crew`]), timed together.
pub fn concurrent_consumers(case: &Case, budget: Budget) -> Outcome {
    let consumers = case.extra() as u64;
    let data = filled(case.messages, case.size);
    let end = case.messages as u64;
    let per_consumer = end.div_ceil(consumers);
    let batch = data.batch_bytes;
    let max_bytes = CONSUMER_FETCH_RECORDS * batch;
    let log = data.log();
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    let read = |c: usize, (): &()| {
        let c = c as u64;
        let range = (c * per_consumer, ((c + 1) * per_consumer).min(end));
        let mut hist = histogram();
        let allocs = thread_allocations();
        let read = timed_consume(log, range, max_bytes, batch, &mut hist);
        (hist, read, thread_allocations() - allocs)
    };
    with_crew(consumers as usize, read, |crew| {
        while driver.more(&meter) {
            let out: Vec<_> = meter.region_threads(|| {
                let out = crew.run(());
                let allocs = out.iter().map(|(_, _, a)| a).sum();
                (out, allocs)
            });
            let mut read = 0;
            for (hist, (records, bytes, fetches), _) in &out {
                meter.hist.add(hist).expect("same histogram bounds");
                meter.ops += fetches;
                meter.moved(*records, records * case.size as u64, Some(*bytes));
                read += records;
            }
            assert_eq!(read, end, "consumers read every record once");
        }
    });
    (meter, None)
}

/// A keyed record with an 8-byte key.
fn keyed<'a>(key: &'a [u8; 8], value: &'a [u8], i: u64) -> Record<'a> {
    Record {
        key: Some(key),
        ..record(value, i)
    }
}

/// Compaction of a freshly built (untimed) log of `segments` sealed segments, `dup_percent`
/// of the records superseded; an operation is one `Log::compact`.
pub fn compaction(case: &Case, budget: Budget) -> Outcome {
    let (segments, dup) = (case.extra(), case.extra2());
    let value = payload(case.size);
    let batch = encoded_batch_bytes(&[keyed(&[0; 8], &value, 0)]).expect("a valid record");
    let segment_bytes = compaction_segment_bytes(case);
    let per_segment = segment_bytes as usize / batch;
    let total = segments * per_segment;
    let distinct = total - total * dup / 100;
    let mut rng = XorShift::new(SEED);
    let mut keys: Vec<u64> = (0..distinct as u64).collect();
    keys.extend((distinct..total).map(|_| rng.below(distinct as u64)));
    for i in (1..keys.len()).rev() {
        keys.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let config = ringlog::Config {
        segment_bytes,
        max_batch_bytes: segment_bytes as usize,
        cleanup_policy: CleanupPolicy::Compact,
        ..config(Durability::None)
    };
    let options = CompactOptions {
        delete_retention_ms: u64::MAX / 4,
        ..CompactOptions::default()
    };
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    let mut figures = None;
    while driver.more(&meter) {
        let sink = Sink::open(config.clone());
        for (i, key) in keys.iter().enumerate() {
            let key = key.to_be_bytes();
            sink.log
                .append(&[keyed(&key, &value, i as u64)])
                .expect("append");
        }
        let last = (distinct as u64).to_be_bytes();
        sink.log
            .append(&[keyed(&last, &value, total as u64)])
            .expect("append");
        assert_eq!(sink.log.segment_count(), segments + 1, "sealed segments");
        let report = meter.region(|hist| {
            let start = Instant::now();
            let report = sink.log.compact(&options).expect("compact");
            record_latency(hist, start.elapsed());
            report.expect("something to clean")
        });
        assert_eq!(
            report.records_removed(),
            (total - distinct) as u64,
            "{report}"
        );
        meter.ops += 1;
        meter.moved(
            total as u64,
            (total * case.size) as u64,
            Some(report.bytes_before),
        );
        figures = Some(CompactionFigures {
            mb_before: report.bytes_before as f64 / 1e6,
            mb_after: report.bytes_after as f64 / 1e6,
            mb_reclaimed: report.bytes_reclaimed() as f64 / 1e6,
            records_removed: report.records_removed(),
            keys: report.keys,
            duration_s: report.duration.as_secs_f64(),
        });
    }
    (meter, figures)
}

/// One append and one fetch of one record per operation, the consumer `MIXED_LAG` behind.
pub fn mixed_workload(case: &Case, budget: Budget) -> Outcome {
    let value = payload(case.size);
    let batch = batch_bytes(case.size);
    let mut logs = Rotating::new(
        config(Durability::None),
        LOG_CAP_BYTES,
        MIXED_LAG,
        case.size,
    );
    let mut cursor = (0usize, 0u64);
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let sink = logs.current();
        if cursor.0 != logs.opened {
            cursor = (logs.opened, 0);
        }
        let from = cursor.1;
        cursor.1 += OPS_PER_REGION;
        meter.region(|hist| {
            for offset in from..from + OPS_PER_REGION {
                let start = Instant::now();
                sink.log.append(&[record(&value, 0)]).expect("append");
                let fetched = sink.log.fetch(offset, batch).expect("fetch");
                assert_eq!(check_batches(&fetched.bytes, offset, batch), 1);
                record_latency(hist, start.elapsed());
            }
        });
        meter.ops += OPS_PER_REGION;
        let (m, p, d) = bytes_of(2 * OPS_PER_REGION as usize, case.size);
        meter.moved(m, p, d);
    }
    (meter, None)
}

/// The naive baseline's on-disk bytes of `messages` records: a 4-byte prefix each.
fn naive_disk(messages: usize, size: usize) -> u64 {
    (messages * (4 + size)) as u64
}

/// `messages` naive appends per region (no fsync), each timed.
pub fn naive_write_throughput(case: &Case, budget: Budget) -> Outcome {
    naive_appends(case, budget, false, case.messages as u64)
}

/// One naive append per operation; with `sync`, followed by `fdatasync`.
pub fn naive_produce_latency(case: &Case, budget: Budget) -> Outcome {
    let sync = case.durability == Some(Durability::Sync);
    naive_appends(case, budget, sync, if sync { 8 } else { OPS_PER_REGION })
}

fn naive_appends(case: &Case, budget: Budget, sync: bool, per_region: u64) -> Outcome {
    let value = payload(case.size);
    let mut log = NaiveSink::create(sync);
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        if log.bytes >= LOG_CAP_BYTES {
            log = NaiveSink::create(sync);
        }
        meter.region(|hist| {
            for _ in 0..per_region {
                let start = Instant::now();
                log.append(&value);
                record_latency(hist, start.elapsed());
            }
        });
        meter.ops += per_region;
        meter.moved(
            per_region,
            per_region * case.size as u64,
            Some(naive_disk(per_region as usize, case.size)),
        );
    }
    (meter, None)
}

/// Every record of a warm naive log read in order, each read timed and its length checked.
pub fn naive_read_throughput(case: &Case, budget: Budget) -> Outcome {
    let data = NaiveSink::filled(case.messages, &payload(case.size));
    let mut buf = Vec::new();
    for offset in 0..case.messages as u64 {
        data.log.read(offset, &mut buf).expect("naive read");
    }
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        meter.region(|hist| {
            for offset in 0..case.messages as u64 {
                let start = Instant::now();
                data.log.read(offset, &mut buf).expect("naive read");
                assert_eq!(buf.len(), case.size);
                record_latency(hist, start.elapsed());
            }
        });
        meter.ops += case.messages as u64;
        meter.moved(
            case.messages as u64,
            case.payload_bytes() as u64,
            Some(naive_disk(case.messages, case.size)),
        );
    }
    (meter, None)
}

/// One naive read at a random offset per operation (same seed as `random_fetch`).
pub fn naive_random_fetch(case: &Case, budget: Budget) -> Outcome {
    let data = NaiveSink::filled(case.messages, &payload(case.size));
    let mut buf = Vec::new();
    for offset in 0..case.messages as u64 {
        data.log.read(offset, &mut buf).expect("naive read");
    }
    let mut rng = XorShift::new(SEED);
    let (mut meter, mut driver) = (Meter::default(), Driver::new(case.to_string(), budget));
    while driver.more(&meter) {
        let offsets: Vec<u64> = (0..OPS_PER_REGION)
            .map(|_| rng.below(case.messages as u64))
            .collect();
        meter.region(|hist| {
            for &offset in &offsets {
                let start = Instant::now();
                data.log.read(offset, &mut buf).expect("naive read");
                assert_eq!(buf.len(), case.size);
                record_latency(hist, start.elapsed());
            }
        });
        meter.ops += OPS_PER_REGION;
        meter.moved(
            OPS_PER_REGION,
            OPS_PER_REGION * case.size as u64,
            Some(naive_disk(OPS_PER_REGION as usize, case.size)),
        );
    }
    (meter, None)
}
