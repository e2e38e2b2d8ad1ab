//! `ringbench produce --bootstrap` and `ringbench consume --bootstrap`: the same workloads
//! through Kafka's wire protocol against a running `ringlog-server`, with a client written on
//! kafka-protocol's client side. Each producer keeps `--in-flight` produce requests in flight
//! on its own connection (Kafka's `max.in.flight.requests.per.connection`), acks -1; each
//! consumer fetches its partitions from their start to the end they had when it began.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, FetchRequest, ListOffsetsRequest, MetadataRequest,
    ProduceRequest, TopicName,
};
use kafka_protocol::protocol::{Encodable, HeaderVersion, Request, StrBytes};
use ringlog::record::{BatchOptions, encode_batch, encoded_batch_bytes};
use ringlog_server::client::Connection;

use benches::payload;
use benches::timeline::Recorder;
use benches::topic_fixtures::keyless_records;

use crate::measure::{cpu_ticks, histogram, record};
use crate::perf::{
    ConsumeOptions, Consumed, ProduceOptions, Produced, ProducerOutcome, consume_threads,
    walk_batches,
};

const PRODUCE_VERSION: i16 = 9;
const FETCH_VERSION: i16 = 12;
/// Kafka's `TOPIC_ALREADY_EXISTS`.
const TOPIC_ALREADY_EXISTS: i16 = 36;

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// Creates the topic if it does not exist and returns its partition count.
fn ensure_topic(conn: &mut Connection, o: &ProduceOptions) -> Result<u32, String> {
    let mut topic = CreatableTopic::default();
    topic.name = topic_name(&o.topic);
    topic.num_partitions = o.partitions as i32;
    topic.replication_factor = 1;
    let mut durability = CreatableTopicConfig::default();
    durability.name = StrBytes::from_static_str("ringlog.durability");
    durability.value = Some(StrBytes::from_string(o.durability.name().to_string()));
    topic.configs = vec![durability];
    let mut create = CreateTopicsRequest::default();
    create.topics = vec![topic];
    create.timeout_ms = 30_000;
    let created = conn.call(&create, 7)?;
    let code = created.topics.first().map_or(0, |t| t.error_code);
    if code != 0 && code != TOPIC_ALREADY_EXISTS {
        return Err(format!("CreateTopics {}: error {code}", o.topic));
    }
    partitions_of(conn, &o.topic)
}

fn partitions_of(conn: &mut Connection, topic: &str) -> Result<u32, String> {
    let mut wanted = MetadataRequestTopic::default();
    wanted.name = Some(topic_name(topic));
    let mut metadata = MetadataRequest::default();
    metadata.topics = Some(vec![wanted]);
    let response = conn.call(&metadata, 12)?;
    let t = response
        .topics
        .first()
        .ok_or_else(|| format!("Metadata for {topic}: no topic"))?;
    if t.error_code != 0 || t.partitions.is_empty() {
        return Err(format!("Metadata for {topic}: error {}", t.error_code));
    }
    Ok(t.partitions.len() as u32)
}

/// The encoded body of a produce request of `batch` to `partition`, acks -1.
fn produce_body(topic: &str, partition: u32, batch: &Bytes) -> Result<Bytes, String> {
    let mut data = PartitionProduceData::default();
    data.index = partition as i32;
    data.records = Some(batch.clone());
    let mut t = TopicProduceData::default();
    t.name = topic_name(topic);
    t.partition_data = vec![data];
    let mut request = ProduceRequest::default();
    request.transactional_id = None;
    request.acks = -1;
    request.timeout_ms = 30_000;
    request.topic_data = vec![t];
    let mut body = BytesMut::new();
    request
        .encode(&mut body, PRODUCE_VERSION)
        .map_err(|e| e.to_string())?;
    Ok(body.freeze())
}

/// Reads one produce response and checks it.
fn settle(conn: &mut Connection, correlation: i32) -> Result<(), String> {
    let response = conn.receive::<ProduceRequest>(correlation, PRODUCE_VERSION)?;
    for t in &response.responses {
        for p in &t.partition_responses {
            if p.error_code != 0 {
                return Err(format!(
                    "produce to partition {}: error {}",
                    p.index, p.error_code
                ));
            }
        }
    }
    Ok(())
}

/// The produce workload of `o` through the server at `addr`.
///
/// # Errors
/// A message saying what failed (connection, a produce error code).
pub fn produce_run(o: &ProduceOptions, addr: SocketAddr) -> Result<Produced, String> {
    let mut admin = Connection::open(addr)?;
    let partitions = ensure_topic(&mut admin, o)?;
    let value = payload(o.size);
    let records = keyless_records(&value, o.batch.max(1));
    let mut batch = vec![0u8; encoded_batch_bytes(&records).map_err(|e| e.to_string())?];
    encode_batch(&mut batch, 0, &records, &BatchOptions::default()).map_err(|e| e.to_string())?;
    let batch = Bytes::from(batch);
    let bodies = (0..partitions)
        .map(|p| produce_body(&o.topic, p, &batch))
        .collect::<Result<Vec<_>, _>>()?;
    let header_version = ProduceRequest::header_version(PRODUCE_VERSION);
    let per_batch = records.len() as u64;
    let total_batches = o.count.div_ceil(per_batch);
    let batch_bytes = per_batch * o.size as u64;
    let next = AtomicU64::new(0);
    let cpu = cpu_ticks();
    let started = Instant::now();
    let deadline = o.duration.map(|d| started + d);
    let (bodies, next) = (&bodies, &next);
    let outcomes: Vec<ProducerOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..o.producers)
            .map(|_| {
                s.spawn(move || {
                    let mut conn = Connection::open(addr)?;
                    let mut hist = histogram();
                    let mut timeline = Recorder::default();
                    let mut sent = 0u64;
                    let mut pending = std::collections::VecDeque::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if deadline.map_or(k >= total_batches, |d| Instant::now() >= d) {
                            break;
                        }
                        if pending.len() >= o.in_flight {
                            let (start, correlation): (Instant, i32) =
                                pending.pop_front().expect("in flight");
                            settle(&mut conn, correlation)?;
                            record(&mut hist, start.elapsed());
                            timeline.record(started.elapsed(), batch_bytes);
                            sent += per_batch;
                        }
                        let body = &bodies[(k % u64::from(partitions)) as usize];
                        let start = Instant::now();
                        let correlation = conn.send_encoded(
                            ProduceRequest::KEY,
                            PRODUCE_VERSION,
                            header_version,
                            body,
                        )?;
                        pending.push_back((start, correlation));
                    }
                    while let Some((start, correlation)) = pending.pop_front() {
                        settle(&mut conn, correlation)?;
                        record(&mut hist, start.elapsed());
                        timeline.record(started.elapsed(), batch_bytes);
                        sent += per_batch;
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
    Ok(Produced::from_outcomes(
        &outcomes, elapsed, partitions, cpu_ticks,
    ))
}

/// The earliest and latest offsets of one partition.
fn offsets(conn: &mut Connection, topic: &str, partition: u32) -> Result<(i64, i64), String> {
    let mut ends = [0i64; 2];
    for (i, timestamp) in [-2i64, -1].into_iter().enumerate() {
        let mut p = ListOffsetsPartition::default();
        p.partition_index = partition as i32;
        p.timestamp = timestamp;
        let mut t = ListOffsetsTopic::default();
        t.name = topic_name(topic);
        t.partitions = vec![p];
        let mut request = ListOffsetsRequest::default();
        request.replica_id = BrokerId(-1);
        request.topics = vec![t];
        let response = conn.call(&request, 6)?;
        let answer = &response.topics[0].partitions[0];
        if answer.error_code != 0 {
            return Err(format!(
                "ListOffsets partition {partition}: error {}",
                answer.error_code
            ));
        }
        ends[i] = answer.offset;
    }
    Ok((ends[0], ends[1]))
}

/// Reads one partition from its start to the end it had when the read began.
fn consume_partition(
    conn: &mut Connection,
    o: &ConsumeOptions,
    partition: u32,
    hist: &mut Histogram<u64>,
) -> Result<(u64, u64), String> {
    let (mut offset, end) = offsets(conn, &o.topic, partition)?;
    let (mut records, mut bytes) = (0, 0);
    while offset < end {
        let mut p = FetchPartition::default();
        p.partition = partition as i32;
        p.fetch_offset = offset;
        p.partition_max_bytes = o.fetch_bytes as i32;
        let mut t = FetchTopic::default();
        t.topic = topic_name(&o.topic);
        t.partitions = vec![p];
        let mut request = FetchRequest::default();
        request.replica_id = BrokerId(-1);
        request.max_wait_ms = 0;
        request.min_bytes = 1;
        request.max_bytes = i32::MAX;
        request.topics = vec![t];
        let start = Instant::now();
        let response = conn.call(&request, FETCH_VERSION)?;
        record(hist, start.elapsed());
        let answer = &response.responses[0].partitions[0];
        if answer.error_code != 0 {
            return Err(format!(
                "fetch partition {partition} at {offset}: error {}",
                answer.error_code
            ));
        }
        let fetched = answer.records.clone().unwrap_or_default();
        let next = walk_batches(partition, &fetched, offset as u64)? as i64;
        if next == offset {
            return Err(format!(
                "fetch partition {partition} at {offset} returned nothing"
            ));
        }
        records += (next - offset) as u64;
        bytes += fetched.len() as u64;
        offset = next;
    }
    Ok((records, bytes))
}

/// The consume workload of `o` through the server at `addr`.
///
/// # Errors
/// A message saying what failed.
pub fn consume_run(o: &ConsumeOptions, addr: SocketAddr) -> Result<Consumed, String> {
    let partitions = partitions_of(&mut Connection::open(addr)?, &o.topic)?;
    let consumers = o.consumers.clamp(1, partitions as usize);
    consume_threads(
        partitions,
        consumers,
        || Connection::open(addr),
        |conn, p, hist| consume_partition(conn, o, p, hist),
    )
}

/// A `ringlog-server` on a free loopback port, on its own tokio runtime in a thread of this
/// process; stopped (every log closed) when dropped.
pub struct InProcessServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcessServer {
    /// Opens `data_dir` and starts serving.
    ///
    /// # Errors
    /// The server could not start.
    pub fn start(data_dir: std::path::PathBuf) -> Result<InProcessServer, String> {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("start a tokio runtime");
            runtime.block_on(async move {
                let mut config = ringlog_server::ServerConfig::new(data_dir);
                config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
                let server = match ringlog_server::Server::bind(config).await {
                    Ok(server) => server,
                    Err(e) => {
                        let _ = addr_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = addr_tx.send(server.local_addr().map_err(|e| e.to_string()));
                if let Err(e) = server.run(stopped).await {
                    eprintln!("ringlog-server: {e}");
                }
            });
        });
        let addr = addr_rx
            .recv()
            .map_err(|_| "the server thread ended".to_string())??;
        Ok(InProcessServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use ringlog::Durability;

    use super::*;
    use crate::perf::RetentionOptions;

    #[test]
    fn what_is_produced_through_the_server_is_consumed_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let server = InProcessServer::start(dir.path().join("data")).unwrap();
        let addr = server.addr;
        let produce = ProduceOptions {
            dir: PathBuf::new(),
            bootstrap: Some(addr),
            topic: "wire".to_string(),
            size: 100,
            count: 3000,
            duration: None,
            batch: 10,
            partitions: 3,
            producers: 2,
            in_flight: 4,
            durability: Durability::Sync,
            target_rate: None,
            out: None,
            retention: RetentionOptions::default(),
        };
        let produced = produce_run(&produce, addr).unwrap();
        assert_eq!(produced.records, 3000);
        assert_eq!(produced.calls, 300);
        assert_eq!(produced.partitions, 3);
        let consume = ConsumeOptions {
            dir: PathBuf::new(),
            bootstrap: Some(addr),
            topic: "wire".to_string(),
            partitions: 3,
            consumers: 2,
            fetch_bytes: 4096,
            target_rate: None,
            read_ahead_depth: None,
        };
        let consumed = consume_run(&consume, addr).unwrap();
        assert_eq!(consumed.records, 3000, "every record produced is read back");
        assert!(consumed.bytes > 3000 * 100);
    }
}
