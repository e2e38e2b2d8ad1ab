//! The server through its wire protocol, with kafka-protocol's client side: every supported
//! API, pipelined requests answered in order, long-polling, restarts, and bad input.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Client, Running, create_topics, fetch, now_ms, produce, records_of, sample_batch};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, DeleteTopicsRequest, ListOffsetsRequest,
    MetadataRequest,
};
use kafka_protocol::protocol::Decodable;
use ringlog_server::ServerConfig;
use ringlog_server::errors::code;

fn server() -> (tempfile::TempDir, Running) {
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(ServerConfig::new(dir.path().join("data")));
    (dir, running)
}

fn list_offsets(name: &str, partition: i32, timestamp: i64) -> ListOffsetsRequest {
    let mut p = ListOffsetsPartition::default();
    p.partition_index = partition;
    p.timestamp = timestamp;
    let mut t = ListOffsetsTopic::default();
    t.name = common::topic(name);
    t.partitions = vec![p];
    let mut request = ListOffsetsRequest::default();
    request.replica_id = kafka_protocol::messages::BrokerId(-1);
    request.topics = vec![t];
    request
}

#[test]
fn api_versions_lists_every_supported_api_and_answers_an_unknown_version_with_version_0() {
    let (_dir, server) = server();
    let mut client = Client::connect(server.addr);
    let response = client.call(&ApiVersionsRequest::default(), 3);
    assert_eq!(response.error_code, code::NONE);
    for &(key, min, max) in ringlog_server::handlers::SUPPORTED {
        let listed = response
            .api_keys
            .iter()
            .find(|v| v.api_key == key as i16)
            .unwrap_or_else(|| panic!("{key:?} listed"));
        assert_eq!((listed.min_version, listed.max_version), (min, max));
    }
    // A version from the future: the answer is version 0 with UNSUPPORTED_VERSION and the list.
    let mut frame = Vec::new();
    frame.extend_from_slice(&(ApiKey::ApiVersions as i16).to_be_bytes());
    frame.extend_from_slice(&99i16.to_be_bytes());
    frame.extend_from_slice(&7i32.to_be_bytes());
    frame.extend_from_slice(&[0xff, 0xff]);
    client.write_frame(&frame);
    let mut answer = client.read_frame().unwrap();
    assert_eq!(i32::from_be_bytes(answer[..4].try_into().unwrap()), 7);
    let _ = answer.split_to(4);
    let v0 = ApiVersionsResponse::decode(&mut answer, 0).unwrap();
    assert_eq!(v0.error_code, code::UNSUPPORTED_VERSION);
    assert_eq!(v0.api_keys.len(), ringlog_server::handlers::SUPPORTED.len());
}

#[test]
fn records_produced_with_acks_all_are_fetched_listed_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new(dir.path().join("data"));
    let server = Running::start(config.clone());
    let mut client = Client::connect(server.addr);
    let created = client.call(
        &create_topics(&["orders"], 2, &[("ringlog.durability", "sync")]),
        7,
    );
    assert_eq!(created.topics[0].error_code, code::NONE, "{created:?}");
    assert_eq!(created.topics[0].num_partitions, 2);

    // Three produce requests in flight on one connection, answered in order.
    let base_ms = now_ms() - 10_000;
    let sent: Vec<i32> = (0..3)
        .map(|i| {
            client.send(
                &produce("orders", 1, -1, sample_batch(i * 10, 10, base_ms)),
                9,
            )
        })
        .collect();
    for (i, correlation) in sent.into_iter().enumerate() {
        let response = client.receive::<kafka_protocol::messages::ProduceRequest>(correlation, 9);
        let p = &response.responses[0].partition_responses[0];
        assert_eq!(p.error_code, code::NONE, "{p:?}");
        assert_eq!(p.base_offset, (i * 10) as i64);
    }

    for version in [4, 12] {
        let response = client.call(&fetch("orders", 1, 0, 0, 1), version);
        let p = &response.responses[0].partitions[0];
        assert_eq!(p.error_code, code::NONE);
        assert_eq!(p.high_watermark, 30);
        let records = records_of(p.records.as_ref().unwrap());
        assert_eq!(records.len(), 30);
        for (i, (offset, key, value, timestamp)) in records.iter().enumerate() {
            assert_eq!(*offset, i as u64);
            assert_eq!(key, &format!("key-{i}"));
            assert_eq!(value, &format!("value-{i}"));
            assert_eq!(*timestamp, base_ms + i as i64);
        }
    }
    let earliest = client.call(&list_offsets("orders", 1, -2), 6);
    assert_eq!(earliest.topics[0].partitions[0].offset, 0);
    let latest = client.call(&list_offsets("orders", 1, -1), 6);
    assert_eq!(latest.topics[0].partitions[0].offset, 30);
    let by_time = client.call(&list_offsets("orders", 1, base_ms + 17), 6);
    let p = &by_time.topics[0].partitions[0];
    assert_eq!((p.offset, p.timestamp), (17, base_ms + 17));
    let after = client.call(&list_offsets("orders", 1, base_ms + 1000), 6);
    assert_eq!(after.topics[0].partitions[0].offset, -1);
    let empty = client.call(&fetch("orders", 0, 0, 0, 0), 12);
    assert_eq!(empty.responses[0].partitions[0].high_watermark, 0);
    let beyond = client.call(&fetch("orders", 1, 31, 0, 1), 12);
    assert_eq!(
        beyond.responses[0].partitions[0].error_code,
        code::OFFSET_OUT_OF_RANGE
    );
    drop(client);
    server.stop();

    let server = Running::start(config);
    let mut client = Client::connect(server.addr);
    let records = common::fetch_all(&mut client, "orders", 1);
    assert_eq!(
        records.len(),
        30,
        "every acknowledged record is there after a restart"
    );
    let mut metadata = MetadataRequest::default();
    metadata.topics = None;
    let metadata = client.call(&metadata, 12);
    assert_eq!(metadata.brokers.len(), 1);
    assert_eq!(metadata.brokers[0].port, i32::from(server.addr.port()));
    let orders = metadata
        .topics
        .iter()
        .find(|t| t.name.as_ref().unwrap().0.as_str() == "orders");
    assert_eq!(orders.unwrap().partitions.len(), 2);
}

#[test]
fn topic_requests_get_kafkas_error_codes() {
    let (_dir, server) = server();
    let mut client = Client::connect(server.addr);
    assert_eq!(
        client.call(&create_topics(&["t"], 1, &[]), 7).topics[0].error_code,
        code::NONE
    );
    let again = client.call(&create_topics(&["t"], 1, &[]), 7);
    assert_eq!(again.topics[0].error_code, code::TOPIC_ALREADY_EXISTS);
    let bad_name = client.call(&create_topics(&["a/b"], 1, &[]), 7);
    assert_eq!(bad_name.topics[0].error_code, code::INVALID_TOPIC_EXCEPTION);
    let mut replicated = create_topics(&["r"], 1, &[]);
    replicated.topics[0].replication_factor = 3;
    assert_eq!(
        client.call(&replicated, 7).topics[0].error_code,
        code::INVALID_REPLICATION_FACTOR
    );
    let bad_config = client.call(&create_topics(&["c"], 1, &[("retention.ms", "soon")]), 7);
    assert_eq!(bad_config.topics[0].error_code, code::INVALID_CONFIG);
    let unknown_config = client.call(&create_topics(&["c"], 1, &[("no.such.setting", "1")]), 7);
    assert_eq!(unknown_config.topics[0].error_code, code::INVALID_CONFIG);
    let zero = client.call(&create_topics(&["z"], 0, &[]), 7);
    assert_eq!(zero.topics[0].error_code, code::INVALID_PARTITIONS);

    let unknown = client.call(&produce("missing", 0, -1, sample_batch(0, 1, now_ms())), 9);
    assert_eq!(
        unknown.responses[0].partition_responses[0].error_code,
        code::UNKNOWN_TOPIC_OR_PARTITION
    );
    let no_partition = client.call(&produce("t", 5, -1, sample_batch(0, 1, now_ms())), 9);
    assert_eq!(
        no_partition.responses[0].partition_responses[0].error_code,
        code::UNKNOWN_TOPIC_OR_PARTITION
    );
    let bad_acks = client.call(&produce("t", 0, 2, sample_batch(0, 1, now_ms())), 9);
    assert_eq!(
        bad_acks.responses[0].partition_responses[0].error_code,
        code::INVALID_REQUIRED_ACKS
    );
    let mut corrupt = sample_batch(0, 3, now_ms()).to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let bad_crc = client.call(&produce("t", 0, -1, Bytes::from(corrupt)), 9);
    assert_eq!(
        bad_crc.responses[0].partition_responses[0].error_code,
        code::CORRUPT_MESSAGE
    );
    let mut lying = sample_batch(0, 3, now_ms()).to_vec();
    lying[8..12].copy_from_slice(&(1_000_000i32).to_be_bytes());
    let bad_length = client.call(&produce("t", 0, -1, Bytes::from(lying)), 3);
    assert_eq!(
        bad_length.responses[0].partition_responses[0].error_code,
        code::CORRUPT_MESSAGE
    );
    let fetched = client.call(&fetch("t", 0, 0, 0, 0), 12);
    assert_eq!(
        fetched.responses[0].partitions[0].high_watermark, 0,
        "nothing refused was stored"
    );

    let mut metadata = MetadataRequest::default();
    let mut wanted = MetadataRequestTopic::default();
    wanted.name = Some(common::topic("auto"));
    metadata.topics = Some(vec![wanted]);
    metadata.allow_auto_topic_creation = true;
    let created = client.call(&metadata, 12);
    assert_eq!(created.topics[0].error_code, code::NONE);
    assert_eq!(
        created.topics[0].partitions.len(),
        1,
        "auto-created with the default count"
    );

    let mut delete = DeleteTopicsRequest::default();
    delete.topic_names = vec![common::topic("t"), common::topic("missing")];
    let deleted = client.call(&delete, 5);
    assert_eq!(deleted.responses[0].error_code, code::NONE);
    assert_eq!(
        deleted.responses[1].error_code,
        code::UNKNOWN_TOPIC_OR_PARTITION
    );
}

#[test]
fn a_long_poll_returns_when_records_arrive_and_an_acks_0_produce_is_not_answered() {
    let (_dir, server) = server();
    let mut consumer = Client::connect(server.addr);
    consumer.call(&create_topics(&["events"], 1, &[]), 7);
    let started = Instant::now();
    let waiting = consumer.send(&fetch("events", 0, 0, 20_000, 1), 12);
    std::thread::sleep(Duration::from_millis(200));
    let mut producer = Client::connect(server.addr);
    // acks 0: no answer; the next request's answer comes first.
    producer.send(&produce("events", 0, 0, sample_batch(0, 5, now_ms())), 9);
    let api = producer.call(&ApiVersionsRequest::default(), 3);
    assert_eq!(api.error_code, code::NONE);
    let response = consumer.receive::<kafka_protocol::messages::FetchRequest>(waiting, 12);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the fetch was woken by the produce, not by its 20 s deadline"
    );
    let records = records_of(
        response.responses[0].partitions[0]
            .records
            .as_ref()
            .unwrap(),
    );
    assert_eq!(records.len(), 5);
    // Nothing to wait for: answered empty at its deadline.
    let empty = consumer.call(&fetch("events", 0, 5, 100, 1), 12);
    assert!(
        empty.responses[0].partitions[0]
            .records
            .as_ref()
            .is_none_or(Bytes::is_empty)
    );
}

#[test]
fn hostile_frames_close_only_their_own_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(dir.path().join("data"));
    config.max_request_bytes = 1 << 20;
    let server = Running::start(config);
    let mut healthy = Client::connect(server.addr);
    healthy.call(&create_topics(&["t"], 1, &[]), 7);

    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "over --max-request-bytes",
            (2i32 << 20).to_be_bytes().to_vec(),
        ),
        ("negative size", (-5i32).to_be_bytes().to_vec()),
        ("shorter than a header", [0, 0, 0, 3, 0, 3, 0].to_vec()),
        (
            "unknown API key",
            [0, 0, 0, 8, 0x7f, 0x00, 0, 0, 0, 0, 0, 1].to_vec(),
        ),
        (
            "unsupported version",
            [0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 1].to_vec(),
        ),
        // Metadata v0 whose topic array claims 2^31 entries in 5 bytes (kafka-protocol 0.18.0
        // unpatched sizes a vector of about 150 GB from it and aborts).
        (
            "array length beyond the frame",
            [
                0, 0, 0, 15, 0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xb6,
            ]
            .to_vec(),
        ),
        (
            "truncated body",
            [0, 0, 0, 12, 0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 9].to_vec(),
        ),
    ];
    for (what, bytes) in cases {
        let mut client = Client::connect(server.addr);
        std::io::Write::write_all(client.conn.stream(), &bytes).unwrap();
        if what == "truncated body" {
            // The server may have closed the connection already (it reads 12 bytes of the 14).
            let _ = client.conn.stream().shutdown(std::net::Shutdown::Write);
        }
        assert!(client.closed(), "{what}: the connection is closed");
        let alive = healthy.call(&ApiVersionsRequest::default(), 3);
        assert_eq!(
            alive.error_code,
            code::NONE,
            "{what}: other connections are served"
        );
    }
    let produced = healthy.call(&produce("t", 0, -1, sample_batch(0, 2, now_ms())), 9);
    assert_eq!(
        produced.responses[0].partition_responses[0].error_code,
        code::NONE
    );
}

#[test]
fn the_fuzz_seeds_are_requests_the_server_accepts() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/request_decode");
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("seed-")
        {
            continue;
        }
        let bytes = Bytes::from(std::fs::read(&path).unwrap());
        let parsed = ringlog_server::handlers::parse(bytes);
        assert!(
            matches!(parsed, ringlog_server::handlers::Parsed::Request(_)),
            "{}: {parsed:?}",
            path.display()
        );
        seeds += 1;
    }
    assert!(seeds >= 4);
}

#[test]
fn consumer_group_requests_are_answered_with_coordinator_not_available() {
    use kafka_protocol::messages::{FindCoordinatorRequest, HeartbeatRequest};
    let (_dir, server) = server();
    let mut client = Client::connect(server.addr);
    let mut find = FindCoordinatorRequest::default();
    find.key = kafka_protocol::protocol::StrBytes::from_static_str("group");
    assert_eq!(
        client.call(&find, 3).error_code,
        code::COORDINATOR_NOT_AVAILABLE
    );
    let mut find_v4 = FindCoordinatorRequest::default();
    find_v4.coordinator_keys = vec![find.key.clone()];
    let v4 = client.call(&find_v4, 4);
    assert_eq!(
        v4.coordinators[0].error_code,
        code::COORDINATOR_NOT_AVAILABLE
    );
    let heartbeat = client.call(&HeartbeatRequest::default(), 4);
    assert_eq!(heartbeat.error_code, code::COORDINATOR_NOT_AVAILABLE);
    assert_eq!(
        client.call(&ApiVersionsRequest::default(), 3).error_code,
        code::NONE
    );
}

#[test]
fn stopping_the_server_answers_a_long_poll_at_once() {
    let (_dir, server) = server();
    let mut consumer = Client::connect(server.addr);
    consumer.call(&create_topics(&["quiet"], 1, &[]), 7);
    let waiting = consumer.send(&fetch("quiet", 0, 0, 25_000, 1), 12);
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    server.stop();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the stop did not wait out the fetch's 25 s"
    );
    let answer = consumer.receive::<kafka_protocol::messages::FetchRequest>(waiting, 12);
    assert_eq!(answer.responses[0].partitions[0].error_code, code::NONE);
}

#[test]
fn a_failed_acks_0_produce_closes_the_connection_as_kafka_does() {
    let (_dir, server) = server();
    let mut client = Client::connect(server.addr);
    client.send(
        &produce("no-such-topic", 0, 0, sample_batch(0, 1, now_ms())),
        9,
    );
    assert!(
        client.closed(),
        "the client learns of the failure by the close"
    );
    let mut other = Client::connect(server.addr);
    assert_eq!(
        other.call(&ApiVersionsRequest::default(), 3).error_code,
        code::NONE
    );
}
