//! `ringbench produce` and `ringbench consume`: the engine's answer to Kafka's
//! `kafka-producer-perf-test` and `kafka-consumer-perf-test`, against a topic in a directory
//! that outlives the run (so `consume` reads what `produce` left).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use benches::payload;
use benches::topic_fixtures::{check_produced, keyless_records, shared_config, topic_config};
use hdrhistogram::Histogram;
use ringlog::record::BatchHeader;
use ringlog::{Durability, TopicManager, TopicManagerConfig};

use crate::measure::{histogram, record};

/// Options of `ringbench produce`.
#[derive(Clone, Debug)]
pub struct ProduceOptions {
    /// Data directory of the topic manager.
    pub dir: PathBuf,
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
}

fn open(dir: &Path, durability: Durability) -> Result<TopicManager, String> {
    TopicManager::open(
        dir,
        TopicManagerConfig {
            shared: shared_config(),
            log: benches::config(durability),
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
) -> Result<u32, String> {
    if let Ok(description) = manager.describe_topic(topic) {
        return Ok(description.config.partitions);
    }
    manager
        .create_topic(topic, topic_config(partitions, durability))
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

/// Produces as asked; returns the summary line.
///
/// With a target rate, each producer schedules its produce calls at its share of the rate
/// and measures latency from each call's intended start, sleeping until the next intended
/// start: a stall delays the calls queued behind it and they report it (no coordinated
/// omission).
///
/// # Errors
/// A message saying what failed.
pub fn produce(o: &ProduceOptions) -> Result<String, String> {
    let manager = open(&o.dir, o.durability)?;
    let partitions = ensure_topic(&manager, &o.topic, o.partitions, o.durability)?;
    let value = payload(o.size);
    let batch = keyless_records(&value, o.batch.max(1));
    let total_batches = o.count.div_ceil(batch.len() as u64);
    let next = AtomicU64::new(0);
    let interval = o.target_rate.map(|rate| {
        Duration::from_secs_f64(batch.len() as f64 * o.producers as f64 / rate.max(1e-9))
    });
    let started = Instant::now();
    let deadline = o.duration.map(|d| started + d);
    let (manager_ref, batch_ref, next_ref) = (&manager, batch.as_slice(), &next);
    let hists: Vec<(Histogram<u64>, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..o.producers)
            .map(|_| {
                s.spawn(move || {
                    let mut hist = histogram();
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
                            check_produced(&results, partition, batch_ref.len());
                            sent += batch_ref.len() as u64;
                            continue;
                        }
                        if pending.len() >= o.in_flight {
                            sent += settle(pending.pop_front(), &mut hist, batch_ref.len())?;
                        }
                        let handle = manager_ref
                            .submit(&o.topic, partition, batch_ref)
                            .map_err(|e| e.to_string())?;
                        pending.push_back((start, handle));
                    }
                    while let Some(oldest) = pending.pop_front() {
                        sent += settle(Some(oldest), &mut hist, batch_ref.len())?;
                    }
                    Ok::<_, String>((hist, sent))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("producer thread"))
            .collect::<Result<_, _>>()
    })?;
    let elapsed = started.elapsed();
    manager.close().map_err(|e| format!("close: {e}"))?;
    let mut hist = histogram();
    let mut sent = 0;
    for (h, n) in &hists {
        hist.add(h).expect("same histogram bounds");
        sent += n;
    }
    Ok(format!(
        "{}\n(topic {} with {partitions} partitions in {}, {} producer(s), {} records of {} B per \
         produce call, {} in flight per producer, latency per produce call{})",
        summary("sent", sent, sent * o.size as u64, elapsed, &hist),
        o.topic,
        o.dir.display(),
        o.producers,
        batch.len(),
        o.size,
        o.in_flight,
        if interval.is_some() {
            ", from each call's intended start"
        } else {
            ""
        }
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
    /// Data directory of the topic manager.
    pub dir: PathBuf,
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
        let mut rest = &fetched.bytes[..];
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
    let empty = {
        let manager = open(&o.dir, Durability::None)?;
        let partitions = ensure_topic(&manager, &o.topic, o.partitions, Durability::None)?;
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
        })?;
        preface = format!("(the topic was empty; produced first)\n{preface}\n");
    }
    let manager = open(&o.dir, Durability::None)?;
    let partitions = ensure_topic(&manager, &o.topic, o.partitions, Durability::None)?;
    let consumers = o.consumers.clamp(1, partitions as usize);
    let interval = o
        .target_rate
        .map(|rate| Duration::from_secs_f64(consumers as f64 / rate.max(1e-9)));
    let started = Instant::now();
    let manager_ref = &manager;
    let results: Vec<(Histogram<u64>, u64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..consumers)
            .map(|c| {
                s.spawn(move || {
                    let mut hist = histogram();
                    let mut pacer = Pacer::new(interval);
                    let (mut records, mut bytes) = (0, 0);
                    for p in (c as u32..partitions).step_by(consumers) {
                        let (r, b) = consume_partition(
                            manager_ref,
                            &o.topic,
                            p,
                            o.fetch_bytes,
                            (&mut pacer, &mut hist),
                        )?;
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
    let elapsed = started.elapsed();
    let mut hist = histogram();
    let (mut records, mut bytes) = (0, 0);
    for (h, r, b) in &results {
        hist.add(h).expect("same histogram bounds");
        records += r;
        bytes += b;
    }
    Ok(format!(
        "{preface}{}\n(topic {} with {partitions} partitions in {}, {consumers} consumer(s), \
         fetches of {} bytes; MB/sec counts fetched batch bytes; latency per fetch{})",
        summary("consumed", records, bytes, elapsed, &hist),
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
