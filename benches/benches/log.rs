//! Benchmarks of one partition log (`ringlog::Log`), with the naive page-cache baseline
//! (`benches::naive::NaiveLog`) measured in the same run so every figure has a ratio.
//!
//! Commands (from the workspace root):
//!
//! ```text
//! cargo bench -p benches --bench log                               # full grids, < 30 min
//! RINGLOG_BENCH_QUICK=1 cargo bench -p benches --bench log         # quick profile, ~90 s
//! cargo bench -p benches --bench log --features mmap               # the mmap I/O path
//! cargo bench -p benches --bench log -- --test                     # test mode: each case once
//! RINGLOG_BENCH_QUICK=1 cargo bench -p benches --bench log -- --test   # CI smoke run
//! cargo bench -p benches --bench log -- read::random_fetch         # one bench (regex filter)
//! ```
//!
//! The grids (scenario names, parameter lists, quick variants) live in `benches::scenarios::log`,
//! shared with `ringbench suite`, which runs the same scenarios on its own timing loops.
//!
//! Set `RINGLOG_BENCH_DIR` to a directory on the filesystem to measure (the default is the
//! system's temporary directory; on tmpfs the engine falls back to buffered I/O). The first
//! line on stderr states the directory, its filesystem, the I/O path and the profile.
//!
//! Conditions every case states: each argument prints as `path/durability/messages x size/...`,
//! e.g. `io_uring+O_DIRECT/none/1000x1KiB`: the engine's I/O path as found at run time
//! (`io_uring+O_DIRECT` by default, `mmap` with `--features mmap`, a `pread/pwrite` path if
//! io_uring is refused), or `naive:write+pread` for the baseline, then the durability of
//! appends (absent for reads), the data size and the bench's own dimension.
//!
//! Engine logs run with `benches::config`: no background flusher (`flush_interval_ms: None`,
//! `retention_check_interval_ms: None`), so writes are submitted to io_uring by the appending
//! thread itself and no engine thread works behind the timing's back. Data appended with
//! durability `none` stays in the log's 256 KiB tail chunk until the chunk fills, when the
//! appending thread writes it with one direct write; nothing is flushed at the end of an
//! iteration, so iterations smaller than a chunk mostly measure the in-memory append, and
//! Divan's *mean* column is the amortized cost including chunk writes. Because all engine work
//! happens on the benchmarked thread, Divan's `AllocProfiler` (the global allocator here)
//! counts the engine's allocations too.
//!
//! What each bench measures (records are single-record batches of an unkeyed payload unless
//! said otherwise; bytes counted are payload bytes, items are messages):
//!
//! - `write::write_throughput` (messages x size, durability none): `messages` appends of one
//!   record each to a long-lived log.
//! - `write::batch_write_throughput` (batch x size, none): one append of a `batch`-record batch.
//! - `write::produce_latency` (size x durability none/sync): one append of one record; `sync`
//!   waits for `fdatasync`.
//! - `write::concurrent_producers` (producers x size x durability sync/none): a fixed number of
//!   appends (the `messages` of the case) split across `producers` threads started before the
//!   first sample and released together for each (`benches::crew`: no thread start-up in
//!   the timed region); the time is the wall time of all of them (Divan's `threads` option
//!   would time each thread on its own, not the aggregate). `sync`
//!   shows group commit: concurrent appenders share one `fdatasync`.
//! - `write::segment_rollover` (segment size, 1 KiB records, none): the one append that finds
//!   the active segment full, so seals it (writes the tail, `fdatasync`, trims the file, writes
//!   its indexes) and creates the next; the segment is filled untimed before each sample.
//! - `read::read_throughput` (messages x size): a consumer reading the whole log from offset 0
//!   with 1 MiB fetches.
//! - `read::sequential_fetch` (messages x size x fetch): the same with fetches of `fetch`
//!   records (`max_bytes` = `fetch` x the record's batch size).
//! - `read::random_fetch` (messages x size): one fetch of one record at a random offset
//!   (fixed-seed xorshift).
//! - `read::fetch_latency` (size, none): fetching the record just appended (a consumer caught
//!   up with the producer), served from the tail not yet on disk; the append is untimed.
//! - `read::concurrent_consumers` (consumers x size): a 50 000-record log split into
//!   `consumers` contiguous ranges read by as many threads (started before the first sample,
//!   released together for each, timed together), fetches of 100 records.
//! - `maintenance::compaction` (segments x size x duplicate ratio): `Log::compact` of a freshly
//!   built log of `segments` sealed 256 KiB segments of keyed records, `dup` percent of them
//!   superseded by a later record of the same key; the log is built untimed for every
//!   iteration, the segment count and the records removed are asserted.
//! - `mixed::mixed_workload` (1 KiB, none): one append and one fetch of one record per
//!   iteration, the consumer 10 000 records behind the producer.
//! - `naive::*`: the baseline on the grids of the engine bench of the same name (minus the
//!   prefix): one buffered `write` per append (`sync`: plus `fdatasync`), one positional read
//!   pair per record read; a "fetch" of the baseline is reading one record.
//!
//! Cache: reads are warm. A filled log is flushed and read once end to end before timing, so
//! the engine serves it from its 256 MiB read cache and the baseline from the page cache. The
//! exception is the 100 000 x 10 KiB case of `random_fetch` (1 GiB): it does not fit the
//! engine's read cache, so most fetches miss and do a 256 KiB direct read, while the baseline
//! still reads the page cache (this machine's RAM holds it).
//!
//! Disk: every log lives in a `benches::bench_dir()` directory deleted when the bench is done;
//! long-lived logs are replaced by fresh ones (untimed, in `with_inputs`) once they hold
//! 512 MiB.
//!
//! Profiles: the full profile takes up to 100 samples and 3 s per case (`compaction` 10
//! samples in 10 s, `segment_rollover` 20 samples in 8 s, `produce_latency` and
//! `concurrent_producers` 5 s). `RINGLOG_BENCH_QUICK=1` trims every grid (largest values
//! dropped, 1 KiB always kept) and caps each case at 100 samples and 1.5 s (`compaction` 3 s,
//! `segment_rollover` 2 s). Divan's own
//! `--sample-count`, `--max-time` (or `DIVAN_SAMPLE_COUNT`, `DIVAN_MAX_TIME`) override both.
//! `compaction` and `segment_rollover` need one iteration per sample: do not override
//! `--sample-size` for them.

use std::cell::RefCell;
use std::sync::Arc;

use benches::crew::with_crew;
use benches::fixtures::{
    CONSUMER_FETCH_BYTES, Case, LOG_CAP_BYTES, NaiveSink, Rotating, Sink, XorShift, batch_bytes,
    check_batches, consume, filled, record,
};
use benches::scenarios::log::{
    BIG_BATCH_BYTES, COMPACTION_SEGMENT_BYTES, CONSUMER_FETCH_RECORDS, MIXED_LAG, SEED,
};
use benches::scenarios::{self, Profile};
use benches::{config, is_quick, payload};
use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use ringlog::Durability;

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

/// Quick profile caps (see the header).
const QUICK_SAMPLES: u32 = 100;
const QUICK_MAX_SECONDS: f64 = 1.5;

/// `full` samples, capped in the quick profile.
fn samples(full: u32) -> u32 {
    if is_quick() {
        full.min(QUICK_SAMPLES)
    } else {
        full
    }
}

/// `full` seconds per case, capped in the quick profile.
fn seconds(full: f64) -> f64 {
    seconds_or(full, QUICK_MAX_SECONDS)
}

/// `full` seconds per case, `quick` in the quick profile.
fn seconds_or(full: f64, quick: f64) -> f64 {
    if is_quick() { quick } else { full }
}

fn main() {
    eprintln!("{}", benches::describe_conditions());
    eprintln!("{}", on_disk_bytes());
    divan::main();
    // The read benches' last filled log lives in a static; delete it.
    benches::fixtures::release();
}

/// Byte counters count payload; this line says what a record costs on disk (Kafka's batch
/// framing: a 61-byte batch header, then each record's varint lengths, attributes and deltas).
fn on_disk_bytes() -> String {
    use std::fmt::Write as _;
    let mut line = String::from("on-disk bytes per record (payload counted by the benches):");
    for size in benches::SIZES {
        let value = benches::payload(size);
        let record = ringlog::record::Record {
            key: None,
            value: Some(&value),
            timestamp_ms: 0,
            headers: &[],
        };
        let single = ringlog::record::encoded_batch_bytes(&[record]).expect("encodable");
        let hundred = ringlog::record::encoded_batch_bytes(&[record; 100]).expect("encodable");
        let _ = write!(
            line,
            " {size} B payload: {single} B alone in a batch, {:.1} B in a batch of 100;",
            hundred as f64 / 100.0
        );
    }
    line
}

/// Counters of an iteration moving `messages` records of `size` bytes.
fn counted<'a, 'b>(bencher: Bencher<'a, 'b>, messages: usize, size: usize) -> Bencher<'a, 'b> {
    bencher
        .counter(BytesCount::new(messages * size))
        .counter(ItemsCount::new(messages))
}

mod write {
    use super::{
        Arc, BIG_BATCH_BYTES, Bencher, Case, Durability, LOG_CAP_BYTES, Profile, Rotating, Sink,
        batch_bytes, config, counted, payload, record, samples, scenarios, seconds, seconds_or,
        with_crew,
    };

    fn throughput_cases() -> Vec<Case> {
        scenarios::log::write_throughput(Profile::divan())
    }

    /// `messages` single-record appends to a long-lived log (durability none).
    #[divan::bench(args = throughput_cases(), sample_count = samples(100), max_time = seconds(3.0))]
    fn write_throughput(bencher: Bencher, case: Case) {
        let value = payload(case.size);
        let mut logs = Rotating::new(config(Durability::None), LOG_CAP_BYTES, 0, case.size);
        counted(bencher, case.messages, case.size)
            .with_inputs(|| logs.current())
            .bench_local_refs(|sink| {
                for i in 0..case.messages as u64 {
                    sink.log.append(&[record(&value, i)]).expect("append");
                }
            });
    }

    fn batch_cases() -> Vec<Case> {
        scenarios::log::batch_write_throughput(Profile::divan())
    }

    /// One append of a `batch`-record batch to a long-lived log (durability none).
    #[divan::bench(args = batch_cases(), sample_count = samples(100), max_time = seconds(3.0))]
    fn batch_write_throughput(bencher: Bencher, case: Case) {
        let batch = case.extra();
        let value = payload(case.size);
        let records: Vec<_> = (0..batch as u64).map(|i| record(&value, i)).collect();
        let config = ringlog::Config {
            max_batch_bytes: BIG_BATCH_BYTES,
            ..config(Durability::None)
        };
        let mut logs = Rotating::new(config, LOG_CAP_BYTES, 0, case.size);
        counted(bencher, batch, case.size)
            .with_inputs(|| logs.current())
            .bench_local_refs(|sink| {
                let info = sink.log.append(&records).expect("append a batch");
                assert_eq!(info.last_offset - info.base_offset + 1, batch as u64);
            });
    }

    fn latency_cases() -> Vec<Case> {
        scenarios::log::produce_latency(Profile::divan())
    }

    /// One append of one record; with `sync`, acknowledged after `fdatasync`.
    #[divan::bench(args = latency_cases(), sample_count = samples(100), max_time = seconds(5.0))]
    fn produce_latency(bencher: Bencher, case: Case) {
        let value = payload(case.size);
        let durability = case.durability.expect("a durability");
        let mut logs = Rotating::new(config(durability), LOG_CAP_BYTES, 0, case.size);
        counted(bencher, 1, case.size)
            .with_inputs(|| logs.current())
            .bench_local_refs(|sink| sink.log.append(&[record(&value, 0)]).expect("append"));
    }

    fn producer_cases() -> Vec<Case> {
        scenarios::log::concurrent_producers(Profile::divan())
    }

    /// `messages` appends split across `producers` threads, timed together (the threads start
    /// before the first sample: `benches::crew`).
    #[divan::bench(args = producer_cases(), sample_count = samples(100), max_time = seconds(5.0))]
    fn concurrent_producers(bencher: Bencher, case: Case) {
        let producers = case.extra();
        let per_producer = case.messages / producers;
        let value = payload(case.size);
        let durability = case.durability.expect("a durability");
        let mut logs = Rotating::new(config(durability), LOG_CAP_BYTES, 0, case.size);
        let produce = |_: usize, sink: &Arc<Sink>| {
            for i in 0..per_producer as u64 {
                sink.log.append(&[record(&value, i)]).expect("append");
            }
        };
        with_crew(producers, produce, |crew| {
            counted(bencher, case.messages, case.size)
                .with_inputs(|| logs.current())
                .bench_local_refs(|sink| {
                    let before = sink.log.next_offset();
                    crew.run(Arc::clone(sink));
                    assert_eq!(sink.log.next_offset() - before, case.messages as u64);
                });
        });
    }

    fn rollover_cases() -> Vec<Case> {
        scenarios::log::segment_rollover(Profile::divan())
    }

    /// The append that seals a full segment and opens the next.
    #[divan::bench(
        args = rollover_cases(),
        sample_count = samples(20),
        sample_size = 1,
        max_time = seconds_or(8.0, 2.0)
    )]
    fn segment_rollover(bencher: Bencher, case: Case) {
        let segment_bytes = (case.extra() << 20) as u64;
        let per_segment = segment_bytes / batch_bytes(case.size) as u64;
        let value = payload(case.size);
        let config = ringlog::Config {
            segment_bytes,
            max_batch_bytes: 64 * 1024,
            ..config(Durability::None)
        };
        let cap = LOG_CAP_BYTES.max(2 * segment_bytes);
        let mut logs = Rotating::new(config, cap, 0, case.size);
        counted(bencher, 1, case.size)
            .with_inputs(|| {
                // Fill the active segment to the brim (untimed).
                let sink = logs.current();
                let active_base = *sink.log.segment_base_offsets().last().expect("a segment");
                let held = sink.log.next_offset() - active_base;
                sink.fill((per_segment - held) as usize, &value);
                let segments = sink.log.segment_count();
                (sink, segments)
            })
            .bench_local_refs(|(sink, segments)| {
                sink.log.append(&[record(&value, 0)]).expect("append");
                assert_eq!(sink.log.segment_count(), *segments + 1, "the append rolled");
            });
    }
}

mod read {
    use super::{
        Bencher, CONSUMER_FETCH_BYTES, CONSUMER_FETCH_RECORDS, Case, Durability, LOG_CAP_BYTES,
        Profile, Rotating, SEED, XorShift, batch_bytes, check_batches, config, consume, counted,
        filled, payload, record, samples, scenarios, seconds, with_crew,
    };

    fn read_cases() -> Vec<Case> {
        scenarios::log::read_throughput(Profile::divan())
    }

    /// A consumer reading the whole (warm) log with 1 MiB fetches.
    #[divan::bench(args = read_cases(), sample_count = samples(100), max_time = seconds(3.0))]
    fn read_throughput(bencher: Bencher, case: Case) {
        let data = filled(case.messages, case.size);
        let end = case.messages as u64;
        counted(bencher, case.messages, case.size).bench_local(|| {
            let read = consume(data.log(), 0, end, CONSUMER_FETCH_BYTES, data.batch_bytes);
            assert_eq!(read, end);
        });
    }

    fn sequential_cases() -> Vec<Case> {
        scenarios::log::sequential_fetch(Profile::divan())
    }

    /// The whole (warm) log read with fetches of `fetch` records each.
    #[divan::bench(args = sequential_cases(), sample_count = samples(100), max_time = seconds(3.0))]
    fn sequential_fetch(bencher: Bencher, case: Case) {
        let data = filled(case.messages, case.size);
        let end = case.messages as u64;
        let max_bytes = case.extra() * data.batch_bytes;
        counted(bencher, case.messages, case.size).bench_local(|| {
            let read = consume(data.log(), 0, end, max_bytes, data.batch_bytes);
            assert_eq!(read, end);
        });
    }

    fn random_cases() -> Vec<Case> {
        scenarios::log::random_fetch(Profile::divan())
    }

    /// One fetch of one record at a random offset.
    #[divan::bench(args = random_cases(), sample_count = samples(100), max_time = seconds(3.0))]
    fn random_fetch(bencher: Bencher, case: Case) {
        let data = filled(case.messages, case.size);
        let mut rng = XorShift::new(SEED);
        counted(bencher, 1, case.size)
            .with_inputs(|| rng.below(case.messages as u64))
            .bench_local_values(|offset| {
                let fetched = data.log().fetch(offset, data.batch_bytes).expect("fetch");
                assert_eq!(check_batches(&fetched.bytes, offset, data.batch_bytes), 1);
            });
    }

    fn latency_cases() -> Vec<Case> {
        scenarios::log::fetch_latency(Profile::divan())
    }

    /// Fetching the record just appended (untimed append), from the log's tail.
    #[divan::bench(args = latency_cases(), sample_count = samples(100), max_time = seconds(3.0))]
    fn fetch_latency(bencher: Bencher, case: Case) {
        let value = payload(case.size);
        let batch = batch_bytes(case.size);
        let mut logs = Rotating::new(config(Durability::None), LOG_CAP_BYTES, 0, case.size);
        counted(bencher, 1, case.size)
            .with_inputs(|| {
                let sink = logs.current();
                let offset = sink
                    .log
                    .append(&[record(&value, 0)])
                    .expect("append")
                    .base_offset;
                (sink, offset)
            })
            .bench_local_refs(|(sink, offset)| {
                let fetched = sink.log.fetch(*offset, batch).expect("fetch");
                assert_eq!(check_batches(&fetched.bytes, *offset, batch), 1);
            });
    }

    fn consumer_cases() -> Vec<Case> {
        scenarios::log::concurrent_consumers(Profile::divan())
    }

    /// The (warm) log split into `consumers` ranges read by as many threads, timed together
    /// (the threads start before the first sample: `benches::crew`).
    #[divan::bench(args = consumer_cases(), sample_count = samples(100), max_time = seconds(3.0))]
    fn concurrent_consumers(bencher: Bencher, case: Case) {
        let consumers = case.extra() as u64;
        let data = filled(case.messages, case.size);
        let end = case.messages as u64;
        let per_consumer = end.div_ceil(consumers);
        let batch = data.batch_bytes;
        let max_bytes = CONSUMER_FETCH_RECORDS * batch;
        let log = data.log();
        let read = |c: usize, (): &()| {
            let c = c as u64;
            let (from, to) = (c * per_consumer, ((c + 1) * per_consumer).min(end));
            consume(log, from, to, max_bytes, batch)
        };
        with_crew(consumers as usize, read, |crew| {
            counted(bencher, case.messages, case.size).bench_local(|| {
                let read: u64 = crew.run(()).into_iter().sum();
                assert_eq!(read, end);
            });
        });
    }
}

mod maintenance {
    use super::{
        Bencher, COMPACTION_SEGMENT_BYTES, Case, Durability, Profile, SEED, Sink, XorShift, config,
        counted, payload, record, samples, scenarios, seconds_or,
    };
    use ringlog::CleanupPolicy;
    use ringlog::compaction::CompactOptions;
    use ringlog::record::Record;

    fn compaction_cases() -> Vec<Case> {
        scenarios::log::compaction(Profile::divan())
    }

    /// A keyed record: 8-byte big-endian key `key`.
    fn keyed<'a>(key: &'a [u8; 8], value: &'a [u8], i: u64) -> Record<'a> {
        Record {
            key: Some(key),
            ..record(value, i)
        }
    }

    /// Compaction of a freshly built log of `segments` sealed segments, `dup` % superseded.
    #[divan::bench(
        args = compaction_cases(),
        sample_count = samples(10),
        sample_size = 1,
        max_time = seconds_or(10.0, 3.0)
    )]
    fn compaction(bencher: Bencher, case: Case) {
        let (segments, dup) = (case.extra(), case.extra2());
        let value = payload(case.size);
        let batch = ringlog::record::encoded_batch_bytes(&[keyed(&[0; 8], &value, 0)])
            .expect("a valid record");
        let per_segment = COMPACTION_SEGMENT_BYTES as usize / batch;
        let total = segments * per_segment;
        let distinct = total - total * dup / 100;
        // Every key once, then random repeats, shuffled: exactly `total - distinct` records
        // are superseded, spread over the whole log.
        let mut rng = XorShift::new(SEED);
        let mut keys: Vec<u64> = (0..distinct as u64).collect();
        keys.extend((distinct..total).map(|_| rng.below(distinct as u64)));
        for i in (1..keys.len()).rev() {
            keys.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let config = ringlog::Config {
            segment_bytes: COMPACTION_SEGMENT_BYTES,
            max_batch_bytes: COMPACTION_SEGMENT_BYTES as usize,
            cleanup_policy: CleanupPolicy::Compact,
            ..config(Durability::None)
        };
        let options = CompactOptions {
            delete_retention_ms: u64::MAX / 4,
            ..CompactOptions::default()
        };
        counted(bencher, total, case.size)
            .with_inputs(|| {
                let sink = Sink::open(config.clone());
                for (i, key) in keys.iter().enumerate() {
                    let key = key.to_be_bytes();
                    sink.log
                        .append(&[keyed(&key, &value, i as u64)])
                        .expect("append");
                }
                // One more record, with a key of its own, rolls the last full segment.
                let last = (distinct as u64).to_be_bytes();
                sink.log
                    .append(&[keyed(&last, &value, total as u64)])
                    .expect("append");
                assert_eq!(sink.log.segment_count(), segments + 1, "sealed segments");
                sink
            })
            .bench_local_values(|sink| {
                let report = sink.log.compact(&options).expect("compact");
                let report = report.expect("something to clean");
                assert_eq!(
                    report.records_removed(),
                    (total - distinct) as u64,
                    "{report}"
                );
                sink
            });
    }
}

mod mixed {
    use super::{
        Arc, Bencher, BytesCount, Case, Durability, ItemsCount, LOG_CAP_BYTES, MIXED_LAG, Profile,
        RefCell, Rotating, Sink, batch_bytes, check_batches, config, payload, record, samples,
        scenarios, seconds,
    };

    fn mixed_cases() -> Vec<Case> {
        scenarios::log::mixed_workload(Profile::divan())
    }

    /// One append and one fetch of one record, the consumer `MIXED_LAG` records behind.
    #[divan::bench(args = mixed_cases(), sample_count = samples(100), max_time = seconds(3.0))]
    fn mixed_workload(bencher: Bencher, case: Case) {
        let value = payload(case.size);
        let batch = batch_bytes(case.size);
        let logs = RefCell::new(Rotating::new(
            config(Durability::None),
            LOG_CAP_BYTES,
            MIXED_LAG,
            case.size,
        ));
        let mut cursor = (0usize, 0u64);
        bencher
            .counter(BytesCount::new(2 * case.size))
            .counter(ItemsCount::new(2usize))
            .with_inputs(|| {
                let mut logs = logs.borrow_mut();
                let sink = logs.current();
                if cursor.0 != logs.opened {
                    cursor = (logs.opened, 0);
                }
                let offset = cursor.1;
                cursor.1 += 1;
                (sink, offset)
            })
            .bench_local_refs(|(sink, offset): &mut (Arc<Sink>, u64)| {
                sink.log.append(&[record(&value, 0)]).expect("append");
                let fetched = sink.log.fetch(*offset, batch).expect("fetch");
                assert_eq!(check_batches(&fetched.bytes, *offset, batch), 1);
            });
    }
}

mod naive {
    use super::{
        Bencher, Case, Durability, LOG_CAP_BYTES, NaiveSink, Profile, RefCell, SEED, XorShift,
        counted, payload, samples, scenarios, seconds,
    };

    /// Replaces the naive log with a fresh one once it holds `LOG_CAP_BYTES`.
    fn rotate(log: &RefCell<NaiveSink>, sync: bool) {
        if log.borrow().bytes >= LOG_CAP_BYTES {
            *log.borrow_mut() = NaiveSink::create(sync);
        }
    }

    fn throughput_cases() -> Vec<Case> {
        scenarios::log::naive_write_throughput(Profile::divan())
    }

    /// `messages` appends, one `write` each, to a long-lived file (no fsync).
    #[divan::bench(args = throughput_cases(), sample_count = samples(100), max_time = seconds(3.0))]
    fn naive_write_throughput(bencher: Bencher, case: Case) {
        let value = payload(case.size);
        let log = RefCell::new(NaiveSink::create(false));
        counted(bencher, case.messages, case.size)
            .with_inputs(|| rotate(&log, false))
            .bench_local_values(|()| {
                let mut log = log.borrow_mut();
                for _ in 0..case.messages {
                    log.append(&value);
                }
            });
    }

    fn latency_cases() -> Vec<Case> {
        scenarios::log::naive_produce_latency(Profile::divan())
    }

    /// One append; with `sync`, followed by `fdatasync`.
    #[divan::bench(args = latency_cases(), sample_count = samples(100), max_time = seconds(5.0))]
    fn naive_produce_latency(bencher: Bencher, case: Case) {
        let value = payload(case.size);
        let sync = case.durability == Some(Durability::Sync);
        let log = RefCell::new(NaiveSink::create(sync));
        counted(bencher, 1, case.size)
            .with_inputs(|| rotate(&log, sync))
            .bench_local_values(|()| log.borrow_mut().append(&value));
    }

    fn read_cases() -> Vec<Case> {
        scenarios::log::naive_read_throughput(Profile::divan())
    }

    /// Every record read in order, two positional reads each (page cache warm).
    #[divan::bench(args = read_cases(), sample_count = samples(100), max_time = seconds(3.0))]
    fn naive_read_throughput(bencher: Bencher, case: Case) {
        let data = NaiveSink::filled(case.messages, &payload(case.size));
        let mut buf = Vec::new();
        let mut read_all = move || {
            for offset in 0..case.messages as u64 {
                data.log.read(offset, &mut buf).expect("naive read");
                assert_eq!(buf.len(), case.size);
            }
        };
        read_all(); // warm the page cache
        counted(bencher, case.messages, case.size).bench_local(read_all);
    }

    fn random_cases() -> Vec<Case> {
        scenarios::log::naive_random_fetch(Profile::divan())
    }

    /// One record read at a random offset (same seed as the engine's `random_fetch`).
    #[divan::bench(args = random_cases(), sample_count = samples(100), max_time = seconds(3.0))]
    fn naive_random_fetch(bencher: Bencher, case: Case) {
        let data = NaiveSink::filled(case.messages, &payload(case.size));
        let mut buf = Vec::new();
        for offset in 0..case.messages as u64 {
            data.log.read(offset, &mut buf).expect("naive read");
        }
        let mut rng = XorShift::new(SEED);
        counted(bencher, 1, case.size)
            .with_inputs(|| rng.below(case.messages as u64))
            .bench_local_values(|offset| {
                data.log.read(offset, &mut buf).expect("naive read");
                assert_eq!(buf.len(), case.size);
            });
    }
}
