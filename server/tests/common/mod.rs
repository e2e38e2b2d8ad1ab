//! A minimal blocking Kafka client for the server's tests, built on kafka-protocol's client
//! side, and helpers to start the server in-process or as its binary.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{CreateTopicsRequest, FetchRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::{Request, StrBytes};
use ringlog::record::{BatchOptions, Header, Record, encode_batch, encoded_batch_bytes};
use ringlog_server::client::Connection;

/// One connection; every failure panics (these are tests).
pub struct Client {
    pub conn: Connection,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let mut conn = Connection::open(addr).expect("connect to the server");
        conn.stream()
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Client { conn }
    }

    /// Sends `request` at `version` without reading the answer; returns its correlation id.
    pub fn send<R: Request>(&mut self, request: &R, version: i16) -> i32 {
        self.conn.send(request, version).unwrap()
    }

    pub fn write_frame(&mut self, body: &[u8]) {
        self.conn.write_frame(body).unwrap();
    }

    /// Reads one response frame; `None` when the server closed the connection.
    pub fn read_frame(&mut self) -> Option<Bytes> {
        self.conn.read_frame()
    }

    /// Reads the answer to `correlation` (responses come in request order).
    pub fn receive<R: Request>(&mut self, correlation: i32, version: i16) -> R::Response {
        self.conn.receive::<R>(correlation, version).unwrap()
    }

    /// Sends and waits for the answer.
    pub fn call<R: Request>(&mut self, request: &R, version: i16) -> R::Response {
        self.conn.call(request, version).unwrap()
    }

    /// True when the server closed the connection (reads end).
    pub fn closed(&mut self) -> bool {
        self.conn.closed()
    }
}

pub fn topic(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

pub fn create_topics(
    names: &[&str],
    partitions: i32,
    configs: &[(&str, &str)],
) -> CreateTopicsRequest {
    let mut request = CreateTopicsRequest::default();
    request.timeout_ms = 10_000;
    for name in names {
        let mut t = CreatableTopic::default();
        t.name = topic(name);
        t.num_partitions = partitions;
        t.replication_factor = 1;
        t.configs = configs
            .iter()
            .map(|(k, v)| {
                let mut c = CreatableTopicConfig::default();
                c.name = StrBytes::from_string((*k).to_string());
                c.value = Some(StrBytes::from_string((*v).to_string()));
                c
            })
            .collect();
        request.topics.push(t);
    }
    request
}

/// One uncompressed batch of `records` as a producer sends it (base offset 0).
pub fn batch(records: &[Record<'_>]) -> Bytes {
    let mut dst = vec![0u8; encoded_batch_bytes(records).unwrap()];
    encode_batch(&mut dst, 0, records, &BatchOptions::default()).unwrap();
    Bytes::from(dst)
}

/// `count` keyed records with a header each, timestamps `base_ms + i`.
pub fn sample_batch(first: usize, count: usize, base_ms: i64) -> Bytes {
    sample_batch_with(first, count, base_ms, &BatchOptions::default())
}

/// [`sample_batch`] from an idempotent producer.
pub fn idempotent_batch(
    first: usize,
    count: usize,
    producer_id: i64,
    epoch: i16,
    sequence: i32,
) -> Bytes {
    let options = BatchOptions {
        producer_id,
        producer_epoch: epoch,
        base_sequence: sequence,
        ..BatchOptions::default()
    };
    sample_batch_with(first, count, now_ms(), &options)
}

fn sample_batch_with(first: usize, count: usize, base_ms: i64, options: &BatchOptions) -> Bytes {
    let keys: Vec<String> = (first..first + count).map(|i| format!("key-{i}")).collect();
    let values: Vec<String> = (first..first + count)
        .map(|i| format!("value-{i}"))
        .collect();
    let headers = [Header {
        key: "h",
        value: Some(b"x"),
    }];
    let records: Vec<Record<'_>> = (0..count)
        .map(|i| Record {
            key: Some(keys[i].as_bytes()),
            value: Some(values[i].as_bytes()),
            timestamp_ms: base_ms + (first + i) as i64,
            headers: &headers,
        })
        .collect();
    let mut dst = vec![0u8; encoded_batch_bytes(&records).unwrap()];
    encode_batch(&mut dst, 0, &records, options).unwrap();
    Bytes::from(dst)
}

pub fn produce(name: &str, partition: i32, acks: i16, records: Bytes) -> ProduceRequest {
    let mut data = PartitionProduceData::default();
    data.index = partition;
    data.records = Some(records);
    let mut t = TopicProduceData::default();
    t.name = topic(name);
    t.partition_data = vec![data];
    let mut request = ProduceRequest::default();
    request.acks = acks;
    request.timeout_ms = 10_000;
    request.topic_data = vec![t];
    request
}

pub fn fetch(
    name: &str,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
    min_bytes: i32,
) -> FetchRequest {
    let mut p = FetchPartition::default();
    p.partition = partition;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    let mut t = FetchTopic::default();
    t.topic = topic(name);
    t.partitions = vec![p];
    let mut request = FetchRequest::default();
    request.replica_id = kafka_protocol::messages::BrokerId(-1);
    request.max_wait_ms = max_wait_ms;
    request.min_bytes = min_bytes;
    request.max_bytes = 50 << 20;
    request.topics = vec![t];
    request
}

/// Every record of fetched batch bytes as (offset, key, value, timestamp).
pub fn records_of(bytes: &Bytes) -> Vec<(u64, String, String, i64)> {
    let mut out = Vec::new();
    let mut rest = bytes.clone();
    while !rest.is_empty() {
        let header = ringlog::record::BatchHeader::parse(&rest).unwrap();
        let batch = rest.split_to(header.total_bytes());
        for record in ringlog::record::records(&batch).unwrap() {
            let r = record.unwrap();
            out.push((
                r.offset as u64,
                String::from_utf8(r.key.unwrap().to_vec()).unwrap(),
                String::from_utf8(r.value.unwrap().to_vec()).unwrap(),
                r.timestamp_ms,
            ));
        }
    }
    out
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A server running in-process on its own runtime, on a loopback port the system chose.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<Result<(), ringlog::TopicError>>>,
}

impl Running {
    pub fn start(config: ringlog_server::ServerConfig) -> Running {
        let mut config = config;
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let server = ringlog_server::Server::bind(config).await.expect("bind");
                addr_tx.send(server.local_addr().unwrap()).unwrap();
                server.run(stopped).await
            })
        });
        let addr = addr_rx.recv().expect("the server started");
        Running {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops the server and waits until every log is closed.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap().expect("logs closed cleanly");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.shutdown();
        }
    }
}

/// Starts the `ringlog-server` binary on a free loopback port with `args`; returns it and the
/// address it printed.
pub fn spawn(data_dir: &std::path::Path, args: &[&str]) -> (std::process::Child, SocketAddr) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ringlog-server"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start ringlog-server");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("ringlog-server listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    (child, addr)
}

/// Every record of one partition, fetched from offset 0 until a fetch returns nothing.
pub fn fetch_all(
    client: &mut Client,
    topic: &str,
    partition: i32,
) -> Vec<(u64, String, String, i64)> {
    let mut all = Vec::new();
    let mut offset = 0i64;
    loop {
        let response = client.call(&fetch(topic, partition, offset, 0, 0), 12);
        let p = &response.responses[0].partitions[0];
        assert_eq!(p.error_code, ringlog_server::errors::code::NONE);
        let records = records_of(p.records.as_ref().unwrap());
        let Some(last) = records.last() else {
            return all;
        };
        offset = last.0 as i64 + 1;
        all.extend(records);
    }
}
