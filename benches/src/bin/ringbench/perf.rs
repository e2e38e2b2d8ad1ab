//! `ringbench produce` and `ringbench consume`: the engine's answer to Kafka's
//! `kafka-producer-perf-test` and `kafka-consumer-perf-test`, against a topic in a directory
//! that outlives the run (so `consume` reads what `produce` left).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use benches::payload;
use benches::topic_fixtures::{check_produced, keyless_records, shared_config, topic_config};
use hdrhistogram::Histogram;
use ringlog::record::BatchHeader;
use ringlog::{Durability, TopicManager, TopicManagerConfig};

use benches::results::{Environment, Latency, RunResult, SCHEMA_VERSION, ScenarioResult};
use benches::scenarios::Profile;
use benches::timeline::Recorder;

use crate::measure::{cpu_ticks, histogram, record};

/// Nanoseconds per clock tick of `/proc/self/stat` (as in `measure.rs`).
const NANOS_PER_TICK: u64 = 10_000_000;

/// Options of `ringbench produce`.
#[derive(Clone, Debug)]
pub struct ProduceOptions {
    /// Data directory of the topic manager (unused with `bootstrap`).
    pub dir: PathBuf,
    /// A running `ringlog-server` to produce to through the wire protocol instead of the
    /// engine in this process.
    pub bootstrap: Option<std::net::SocketAddr>,
    /// Topic name.
    pub topic: String,
    /// Payload bytes per record.
    pub size: usize,
    /// Records to send (ignored with `duration`).
    pub count: u64,
    /// Run for this long instead of `count` records.
    pub duration: Option<Duration>,
    /// Records per produce call.
    pub batch: usize,
    /// Partitions of the topic when it is created.
    pub partitions: u32,
    /// Producer threads.
    pub producers: usize,
    /// Produce calls in flight per producer (1: each waits before the next is sent).
    pub in_flight: usize,
    /// Durability of the topic when it is created.
    pub durability: Durability,
    /// Records per second to aim for, over all producers.
    pub target_rate: Option<f64>,
    /// Where to write the run as a result file (one `produce` case with its timeline).
    pub out: Option<PathBuf>,
    /// Segment size, retention and spare files of the topic.
    pub retention: RetentionOptions,
}

/// How `ringbench produce` sets up segments and retention; `None` keeps the engine's default.
#[derive(Clone, Debug, Default)]
pub struct RetentionOptions {
    /// Segment size of the topic when it is created.
    pub segment_bytes: Option<u64>,
    /// Retention by size of the topic when it is created: retention then runs every
    /// [`RETENTION_CHECK_MS`], so a run reaches the steady state of a log under retention.
    pub retention_bytes: Option<u64>,
    /// Files of deleted segments kept for rolls to write over (`Config::spare_segments`).
    pub spare_segments: Option<usize>,
}

impl RetentionOptions {
    /// The settings a result records among its params (a log under retention with spares is
    /// set against the disk's overwrite figures, see `report::disk::written_space`).
    fn params(&self) -> Vec<(&'static str, u64)> {
        let mut params = Vec::new();
        if let Some(bytes) = self.segment_bytes {
            params.push(("segment_bytes", bytes));
        }
        if let Some(bytes) = self.retention_bytes {
            params.push(("retention_bytes", bytes));
            let spares = self
                .spare_segments
                .unwrap_or(ringlog::config::DEFAULT_SPARE_SEGMENTS);
            params.push(("spare_segments", spares as u64));
        }
        params
    }
}

/// How often retention runs in a produce run with `--retention-bytes` (Kafka's
/// `log.retention.check.interval.ms`, shortened so that a run of seconds reaches steady state).
pub const RETENTION_CHECK_MS: u64 = 100;

/// The topic manager of `dir`, its logs configured for `durability` and `retention`, and
/// `read_ahead_depth` if one is given.
fn open(
    dir: &Path,
    durability: Durability,
    retention: &RetentionOptions,
    read_ahead_depth: Option<usize>,
) -> Result<TopicManager, String> {
    let mut log = benches::config(durability);
    if let Some(depth) = read_ahead_depth {
        log.read_ahead_depth = depth;
    }
    if retention.retention_bytes.is_some() {
        log.retention_check_interval_ms = Some(RETENTION_CHECK_MS);
    }
    if let Some(spares) = retention.spare_segments {
        log.spare_segments = spares;
    }
    TopicManager::open(
        dir,
        TopicManagerConfig {
            shared: shared_config(),
            log,
            cleaner_io_max_bytes_per_second: None,
        },
    )
    .map_err(|e| format!("open {}: {e}", dir.display()))
}

/// Partitions of `topic`, creating it with `partitions` and `durability` if missing.
fn ensure_topic(
    manager: &TopicManager,
    topic: &str,
    partitions: u32,
    durability: Durability,
    retention: &RetentionOptions,
) -> Result<u32, String> {
    if let Ok(description) = manager.describe_topic(topic) {
        return Ok(description.config.partitions);
    }
    let mut config = topic_config(partitions, durability);
    if let Some(bytes) = retention.segment_bytes {
        config.segment_bytes = bytes;
    }
    config.retention_bytes = retention.retention_bytes;
    manager
        .create_topic(topic, config)
        .map_err(|e| format!("create topic {topic}: {e}"))?;
    Ok(partitions)
}

/// When each operation of one thread is meant to start, at a target rate: the next intended
/// start is the previous one plus the interval, however late the previous operation ran.
/// Latency measured from the intended start counts the wait a stall imposes on the
/// operations queued behind it (no coordinated omission).
#[derive(Debug)]
struct Pacer {
    interval: Option<Duration>,
    intended: Instant,
}

impl Pacer {
    /// A pacer of one operation per `interval` from now, or none (start at once).
    fn new(interval: Option<Duration>) -> Pacer {
        Pacer {
            interval,
            intended: Instant::now(),
        }
    }

    /// Sleeps until the next operation's intended start and returns it; without an interval,
    /// returns now.
    fn start(&mut self) -> Instant {
        let Some(step) = self.interval else {
            return Instant::now();
        };
        let now = Instant::now();
        if self.intended > now {
            std::thread::sleep(self.intended - now);
        }
        let at = self.intended;
        self.intended += step;
        at
    }
}

/// Kafka's perf-test summary line: records, records/s, MB/s (MB = 10^6) and latency in ms.
fn summary(
    what: &str,
    records: u64,
    bytes: u64,
    elapsed: Duration,
    hist: &Histogram<u64>,
) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let ms = |ns: u64| ns as f64 / 1e6;
    format!(
        "{records} records {what}, {:.1} records/sec ({:.2} MB/sec), {:.3} ms avg latency, \
         {:.3} ms max latency, {:.3} ms 50th, {:.3} ms 95th, {:.3} ms 99th, {:.3} ms 99.9th.",
        records as f64 / secs,
        bytes as f64 / 1e6 / secs,
        hist.mean() / 1e6,
        ms(hist.max()),
        ms(hist.value_at_quantile(0.50)),
        ms(hist.value_at_quantile(0.95)),
        ms(hist.value_at_quantile(0.99)),
        ms(hist.value_at_quantile(0.999)),
    )
}

/// What one produce run measured.
#[derive(Debug)]
pub struct Produced {
    /// Latency per produce call.
    pub hist: Histogram<u64>,
    /// Records acknowledged.
    pub records: u64,
    /// Produce calls acknowledged.
    pub calls: u64,
    /// Wall time from the first call to the last acknowledgement.
    pub elapsed: Duration,
    /// Partitions of the topic.
    pub partitions: u32,
    /// Payload bytes acknowledged, interval by interval.
    pub timeline: Recorder,
    /// Process CPU time over the run, in clock ticks, when known.
    pub cpu_ticks: Option<u64>,
}

/// Produces as asked; returns the summary line, after writing the result to `o.out` when
/// set.
///
/// With a target rate, each producer schedules its produce calls at its share of the rate
/// and measures latency from each call's intended start, sleeping until the next intended
/// start: a stall delays the calls queued behind it and they report it (no coordinated
/// omission).
///
/// # Errors
/// A message saying what failed.
pub fn produce(o: &ProduceOptions) -> Result<String, String> {
    let p = produce_run(o)?;
    let mut text = format!(
        "{}\n(topic {} with {} partitions in {}, {} producer(s), {} records of {} B per \
         produce call, {} in flight per producer, latency per produce call{})",
        summary(
            "sent",
            p.records,
            p.records * o.size as u64,
            p.elapsed,
            &p.hist
        ),
        o.topic,
        p.partitions,
        o.dir.display(),
        o.producers,
        o.batch.max(1),
        o.size,
        o.in_flight,
        if o.target_rate.is_some() {
            ", from each call's intended start"
        } else {
            ""
        }
    );
    if let Some(out) = &o.out {
        let result = RunResult {
            schema: SCHEMA_VERSION,
            environment: Environment {
                profile: "produce".to_string(),
                ..crate::environment::gather_in(
                    Profile::Quick,
                    &o.dir,
                    &o.dir,
                    benches::topic_fixtures::io_path().to_string(),
                )
            },
            scenarios: vec![produce_result("produce", o, &p)],
            peers: None,
            disk: None,
        };
        result
            .save(out)
            .map_err(|e| format!("{}: {e}", out.display()))?;
        let _ = write!(text, "\n{}", out.display());
    }
    Ok(text)
}

/// The scenario result of a produce run: category `produce`, params `size`, `batch`,
/// `partitions`, `producers`, `in_flight`, its timeline of payload MB/s.
pub fn produce_result(name: &str, o: &ProduceOptions, p: &Produced) -> ScenarioResult {
    let secs = p.elapsed.as_secs_f64().max(1e-9);
    let payload = p.records * o.size as u64;
    ScenarioResult {
        name: name.to_string(),
        category: "produce".to_string(),
        engine: "ringlog".to_string(),
        io_path: benches::topic_fixtures::io_path().to_string(),
        durability: Some(o.durability.name().to_string()),
        params: [
            ("size", o.size as u64),
            ("batch", o.batch.max(1) as u64),
            ("partitions", u64::from(p.partitions)),
            ("producers", o.producers as u64),
            ("in_flight", o.in_flight as u64),
        ]
        .into_iter()
        .chain(o.retention.params())
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        threads: o.producers as u32,
        operations: p.calls,
        messages: p.records,
        payload_bytes: payload,
        disk_bytes: None,
        elapsed_s: secs,
        payload_mb_s: payload as f64 / 1e6 / secs,
        disk_mb_s: None,
        messages_per_s: p.records as f64 / secs,
        latency: Latency::from_histogram_ns(&p.hist),
        cpu_us_per_op: p
            .cpu_ticks
            .filter(|_| p.calls > 0)
            .map(|t| (t * NANOS_PER_TICK) as f64 / 1e3 / p.calls as f64),
        allocations_per_op: None,
        scaling: None,
        compaction: None,
        disk_write_bytes: None,
        timeline: Some(p.timeline.finish(p.elapsed)),
        spread: None,
    }
}

/// One producer thread: its latency histogram, records sent and timeline.
pub type ProducerOutcome = (Histogram<u64>, u64, Recorder);

impl Produced {
    /// The figures of a run from what each producer thread measured.
    pub fn from_outcomes(
        outcomes: &[ProducerOutcome],
        elapsed: Duration,
        partitions: u32,
        cpu_ticks: Option<u64>,
    ) -> Produced {
        let mut hist = histogram();
        let mut timeline = Recorder::default();
        let mut records = 0;
        for (h, n, t) in outcomes {
            hist.add(h).expect("same histogram bounds");
            timeline.merge(t);
            records += n;
        }
        Produced {
            calls: hist.len(),
            hist,
            records,
            elapsed,
            partitions,
            timeline,
            cpu_ticks,
        }
    }
}

/// Runs the produce workload of `o` and returns what it measured.
///
/// # Errors
/// A message saying what failed.
pub fn produce_run(o: &ProduceOptions) -> Result<Produced, String> {
    if let Some(addr) = o.bootstrap {
        return crate::wire::produce_run(o, addr);
    }
    let manager = open(&o.dir, o.durability, &o.retention, None)?;
    let partitions = ensure_topic(&manager, &o.topic, o.partitions, o.durability, &o.retention)?;
    let value = payload(o.size);
    let batch = keyless_records(&value, o.batch.max(1));
    let total_batches = o.count.div_ceil(batch.len() as u64);
    let next = AtomicU64::new(0);
    let interval = o.target_rate.map(|rate| {
        Duration::from_secs_f64(batch.len() as f64 * o.producers as f64 / rate.max(1e-9))
    });
    let cpu = cpu_ticks();
    let started = Instant::now();
    let deadline = o.duration.map(|d| started + d);
    let batch_bytes = (batch.len() * o.size) as u64;
    let (manager_ref, batch_ref, next_ref) = (&manager, batch.as_slice(), &next);
    let outcomes: Vec<ProducerOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..o.producers)
            .map(|_| {
                s.spawn(move || {
                    let mut hist = histogram();
                    let mut timeline = Recorder::default();
                    let mut sent = 0u64;
                    let mut pacer = Pacer::new(interval);
                    let mut pending = std::collections::VecDeque::new();
                    loop {
                        let k = next_ref.fetch_add(1, Ordering::Relaxed);
                        let done = deadline.map_or(k >= total_batches, |d| Instant::now() >= d);
                        if done {
                            break;
                        }
                        let start = pacer.start();
                        let partition = (k % u64::from(partitions)) as u32;
                        if o.in_flight <= 1 {
                            let results = manager_ref
                                .produce(&o.topic, Some(partition), batch_ref)
                                .map_err(|e| e.to_string())?;
                            record(&mut hist, start.elapsed());
                            timeline.record(started.elapsed(), batch_bytes);
                            check_produced(&results, partition, batch_ref.len());
                            sent += batch_ref.len() as u64;
                            continue;
                        }
                        if pending.len() >= o.in_flight {
                            let n = settle(pending.pop_front(), &mut hist, batch_ref.len())?;
                            timeline.record(started.elapsed(), batch_bytes);
                            sent += n;
                        }
                        let handle = manager_ref
                            .submit(&o.topic, partition, batch_ref)
                            .map_err(|e| e.to_string())?;
                        pending.push_back((start, handle));
                    }
                    while let Some(oldest) = pending.pop_front() {
                        sent += settle(Some(oldest), &mut hist, batch_ref.len())?;
                        timeline.record(started.elapsed(), batch_bytes);
                    }
                    Ok::<_, String>((hist, sent, timeline))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("producer thread"))
            .collect::<Result<_, _>>()
    })?;
    let elapsed = started.elapsed();
    let cpu_ticks = cpu.zip(cpu_ticks()).map(|(b, a)| a.saturating_sub(b));
    manager.close().map_err(|e| format!("close: {e}"))?;
    Ok(Produced::from_outcomes(
        &outcomes, elapsed, partitions, cpu_ticks,
    ))
}

/// Waits for the oldest produce call in flight, records its latency from its start and
/// returns the records it sent.
fn settle(
    oldest: Option<(Instant, ringlog::AppendHandle)>,
    hist: &mut Histogram<u64>,
    records: usize,
) -> Result<u64, String> {
    let Some((start, handle)) = oldest else {
        return Ok(0);
    };
    let info = handle.wait().map_err(|e| e.to_string())?;
    record(hist, start.elapsed());
    assert_eq!(
        info.last_offset - info.base_offset + 1,
        records as u64,
        "one offset per record"
    );
    Ok(records as u64)
}

/// Options of `ringbench consume`.
#[derive(Clone, Debug)]
pub struct ConsumeOptions {
    /// Data directory of the topic manager (unused with `bootstrap`).
    pub dir: PathBuf,
    /// A running `ringlog-server` to consume from through the wire protocol.
    pub bootstrap: Option<std::net::SocketAddr>,
    /// Topic name.
    pub topic: String,
    /// Partitions of the topic when `consume` has to create and fill it.
    pub partitions: u32,
    /// Consumer threads; partitions are dealt to them round robin.
    pub consumers: usize,
    /// Byte budget of one fetch.
    pub fetch_bytes: usize,
    /// Fetches per second to aim for, over all consumers.
    pub target_rate: Option<f64>,
    /// `Config::read_ahead_depth` of the consumed logs, if not the engine's default.
    pub read_ahead_depth: Option<usize>,
}

/// Reads one partition from its start to its end, each fetch started by `pacer` and timed
/// from that start; returns (records, bytes).
fn consume_partition(
    manager: &TopicManager,
    topic: &str,
    partition: u32,
    fetch_bytes: usize,
    (pacer, hist): (&mut Pacer, &mut Histogram<u64>),
) -> Result<(u64, u64), String> {
    let log = manager
        .partition(topic, partition)
        .map_err(|e| e.to_string())?;
    let (mut offset, end) = (log.start_offset(), log.next_offset());
    let (mut records, mut bytes) = (0, 0);
    while offset < end {
        let start = pacer.start();
        let fetched = log.fetch(offset, fetch_bytes).map_err(|e| e.to_string())?;
        record(hist, start.elapsed());
        let expected = walk_batches(partition, &fetched.bytes, offset)?;
        if fetched.next_fetch_offset != expected || expected == offset {
            return Err(format!(
                "partition {partition}: fetch at {offset} read to {expected}, next fetch offset {}",
                fetched.next_fetch_offset
            ));
        }
        records += expected - offset;
        bytes += fetched.bytes.len() as u64;
        offset = expected;
    }
    Ok((records, bytes))
}

/// Checks that `bytes` are whole batches from `offset` on, each at the offset the previous one
/// ends; returns the offset after the last.
///
/// # Errors
/// A batch at the wrong offset or cut short.
pub fn walk_batches(partition: u32, bytes: &[u8], offset: u64) -> Result<u64, String> {
    let mut rest = bytes;
    let mut expected = offset;
    while !rest.is_empty() {
        let header = BatchHeader::parse(rest).map_err(|e| e.to_string())?;
        let len = header.total_bytes();
        if header.base_offset as u64 != expected || len > rest.len() {
            return Err(format!(
                "partition {partition}: batch at {} ({len} bytes) where offset {expected} \
                 was expected ({} bytes left)",
                header.base_offset,
                rest.len()
            ));
        }
        expected += u64::from(header.last_offset_delta as u32) + 1;
        rest = &rest[len..];
    }
    Ok(expected)
}

/// What one consume run measured.
#[derive(Debug)]
pub struct Consumed {
    /// Latency per fetch.
    pub hist: Histogram<u64>,
    /// Records read.
    pub records: u64,
    /// Batch bytes read.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Partitions of the topic.
    pub partitions: u32,
    /// Consumer threads.
    pub consumers: usize,
}

/// The topic `consume` reads, created if missing, and its partition count.
fn open_consumed(o: &ConsumeOptions) -> Result<(TopicManager, u32), String> {
    let none = RetentionOptions::default();
    let manager = open(&o.dir, Durability::None, &none, o.read_ahead_depth)?;
    let partitions = ensure_topic(&manager, &o.topic, o.partitions, Durability::None, &none)?;
    Ok((manager, partitions))
}

/// Consumes the topic (producing 100 000 records of 1 KiB first if it is empty); returns
/// the summary line.
///
/// With a target rate, each consumer schedules its fetches at its share of the rate and
/// measures latency from each fetch's intended start, sleeping until the next intended start
/// (no coordinated omission), as `produce` does.
///
/// # Errors
/// A message saying what failed, including a batch at the wrong offset.
pub fn consume(o: &ConsumeOptions) -> Result<String, String> {
    if let Some(addr) = o.bootstrap {
        let c = crate::wire::consume_run(o, addr)?;
        return Ok(format!(
            "{}\n(topic {} with {} partitions through ringlog-server at {addr}, {} consumer(s), \
             fetches of {} bytes; MB/sec counts fetched batch bytes; latency per fetch)",
            summary("consumed", c.records, c.bytes, c.elapsed, &c.hist),
            o.topic,
            c.partitions,
            c.consumers,
            o.fetch_bytes,
        ));
    }
    let empty = {
        let (manager, partitions) = open_consumed(o)?;
        let mut total = 0;
        for p in 0..partitions {
            let log = manager.partition(&o.topic, p).map_err(|e| e.to_string())?;
            total += log.next_offset() - log.start_offset();
        }
        manager.close().map_err(|e| format!("close: {e}"))?;
        total == 0
    };
    let mut preface = String::new();
    if empty {
        preface = produce(&ProduceOptions {
            dir: o.dir.clone(),
            bootstrap: None,
            topic: o.topic.clone(),
            size: 1024,
            count: 100_000,
            duration: None,
            batch: 16,
            partitions: o.partitions,
            producers: 1,
            in_flight: 1,
            durability: Durability::None,
            target_rate: None,
            out: None,
            retention: RetentionOptions::default(),
        })?;
        preface = format!("(the topic was empty; produced first)\n{preface}\n");
    }
    let c = consume_in_process(o)?;
    let (partitions, consumers, hist, records, bytes, elapsed) = (
        c.partitions,
        c.consumers,
        &c.hist,
        c.records,
        c.bytes,
        c.elapsed,
    );
    Ok(format!(
        "{preface}{}\n(topic {} with {partitions} partitions in {}, {consumers} consumer(s), \
         fetches of {} bytes; MB/sec counts fetched batch bytes; latency per fetch{})",
        summary("consumed", records, bytes, elapsed, hist),
        o.topic,
        o.dir.display(),
        o.fetch_bytes,
        match o.target_rate {
            Some(rate) =>
                format!(", from each fetch's intended start at a target of {rate} fetches/sec"),
            None => String::new(),
        }
    ))
}

/// Reads every partition of the topic in this process, from its start to its end.
///
/// # Errors
/// A message saying what failed.
pub fn consume_in_process(o: &ConsumeOptions) -> Result<Consumed, String> {
    let (manager, partitions) = open_consumed(o)?;
    let consumers = o.consumers.clamp(1, partitions as usize);
    let interval = o
        .target_rate
        .map(|rate| Duration::from_secs_f64(consumers as f64 / rate.max(1e-9)));
    let manager_ref = &manager;
    let consumed = consume_threads(
        partitions,
        consumers,
        || Ok(Pacer::new(interval)),
        |pacer, p, hist| consume_partition(manager_ref, &o.topic, p, o.fetch_bytes, (pacer, hist)),
    )?;
    manager.close().map_err(|e| format!("close: {e}"))?;
    Ok(consumed)
}

/// Runs `consumers` threads, each with its own state from `setup` reading its share of the
/// `partitions` (dealt round robin) with `read`, which returns (records, bytes); sums them up.
///
/// # Errors
/// The first error of a thread.
pub fn consume_threads<S>(
    partitions: u32,
    consumers: usize,
    setup: impl Fn() -> Result<S, String> + Sync,
    read: impl Fn(&mut S, u32, &mut Histogram<u64>) -> Result<(u64, u64), String> + Sync,
) -> Result<Consumed, String> {
    let started = Instant::now();
    let (setup, read) = (&setup, &read);
    let results: Vec<(Histogram<u64>, u64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..consumers)
            .map(|c| {
                s.spawn(move || {
                    let mut state = setup()?;
                    let mut hist = histogram();
                    let (mut records, mut bytes) = (0, 0);
                    for p in (c as u32..partitions).step_by(consumers) {
                        let (r, b) = read(&mut state, p, &mut hist)?;
                        records += r;
                        bytes += b;
                    }
                    Ok::<_, String>((hist, records, bytes))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("consumer thread"))
            .collect::<Result<_, _>>()
    })?;
    let mut consumed = Consumed {
        hist: histogram(),
        records: 0,
        bytes: 0,
        elapsed: started.elapsed(),
        partitions,
        consumers,
    };
    for (h, r, b) in &results {
        consumed.hist.add(h).expect("same histogram bounds");
        consumed.records += r;
        consumed.bytes += b;
    }
    Ok(consumed)
}

/// The scenario result of a consume run: category `fetch`, params `fetch_bytes`,
/// `partitions`, `consumers`; payload is the fetched batch bytes.
pub fn consume_result(name: &str, o: &ConsumeOptions, c: &Consumed) -> ScenarioResult {
    let secs = c.elapsed.as_secs_f64().max(1e-9);
    ScenarioResult {
        name: name.to_string(),
        category: "fetch".to_string(),
        engine: "ringlog".to_string(),
        io_path: benches::topic_fixtures::io_path().to_string(),
        durability: None,
        params: [
            ("fetch_bytes", o.fetch_bytes as u64),
            ("partitions", u64::from(c.partitions)),
            ("consumers", c.consumers as u64),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        threads: c.consumers as u32,
        operations: c.hist.len(),
        messages: c.records,
        payload_bytes: c.bytes,
        disk_bytes: None,
        elapsed_s: secs,
        payload_mb_s: c.bytes as f64 / 1e6 / secs,
        disk_mb_s: None,
        messages_per_s: c.records as f64 / secs,
        latency: Latency::from_histogram_ns(&c.hist),
        cpu_us_per_op: None,
        allocations_per_op: None,
        scaling: None,
        compaction: None,
        disk_write_bytes: None,
        timeline: None,
        spread: None,
    }
}
