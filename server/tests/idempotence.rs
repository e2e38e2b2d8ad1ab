//! Idempotent produce through the wire: InitProducerId, retries answered with their original
//! offsets and stored once, gaps and old epochs refused, and the state rebuilt from the log
//! after a restart.

mod common;

use common::{Client, Running, create_topics, idempotent_batch, produce};
use kafka_protocol::messages::{InitProducerIdRequest, ProducerId};
use ringlog_server::ServerConfig;
use ringlog_server::errors::code;

fn produced(client: &mut Client, batch: bytes::Bytes) -> (i16, i64) {
    let response = client.call(&produce("idem", 0, -1, batch), 9);
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

#[test]
fn retried_batches_are_stored_once_and_out_of_order_ones_refused_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new(dir.path().join("data"));
    let server = Running::start(config.clone());
    let mut client = Client::connect(server.addr);
    client.call(&create_topics(&["idem"], 1, &[]), 7);
    let mut init = InitProducerIdRequest::default();
    init.transactional_id = None;
    init.producer_id = ProducerId(-1);
    init.producer_epoch = -1;
    init.transaction_timeout_ms = -1;
    let id = client.call(&init, 4);
    assert_eq!(id.error_code, code::NONE);
    let (pid, epoch) = (id.producer_id.0, id.producer_epoch);
    let second = client.call(&init, 4);
    assert_ne!(second.producer_id.0, pid, "every producer gets its own id");

    assert_eq!(
        produced(&mut client, idempotent_batch(0, 5, pid, epoch, 0)),
        (code::NONE, 0)
    );
    assert_eq!(
        produced(&mut client, idempotent_batch(5, 5, pid, epoch, 5)),
        (code::NONE, 5)
    );
    // A retry of the first batch: its original offset, nothing appended.
    assert_eq!(
        produced(&mut client, idempotent_batch(0, 5, pid, epoch, 0)),
        (code::NONE, 0)
    );
    let gap = produced(&mut client, idempotent_batch(10, 5, pid, epoch, 12));
    assert_eq!(gap.0, code::OUT_OF_ORDER_SEQUENCE_NUMBER);
    drop(client);
    server.stop();

    let server = Running::start(config);
    let mut client = Client::connect(server.addr);
    // Rebuilt from the log: the second batch is still known as a retry.
    assert_eq!(
        produced(&mut client, idempotent_batch(5, 5, pid, epoch, 5)),
        (code::NONE, 5)
    );
    assert_eq!(
        produced(&mut client, idempotent_batch(10, 5, pid, epoch, 10)),
        (code::NONE, 10)
    );
    let mut bump = InitProducerIdRequest::default();
    bump.transactional_id = None;
    bump.producer_id = ProducerId(pid);
    bump.producer_epoch = epoch;
    bump.transaction_timeout_ms = -1;
    let bumped = client.call(&bump, 4);
    assert_eq!(
        (bumped.producer_id.0, bumped.producer_epoch),
        (pid, epoch + 1)
    );
    assert_eq!(
        produced(&mut client, idempotent_batch(15, 1, pid, epoch + 1, 0)),
        (code::NONE, 15)
    );
    let fenced = produced(&mut client, idempotent_batch(16, 1, pid, epoch, 15));
    assert_eq!(fenced.0, code::INVALID_PRODUCER_EPOCH);

    let records = common::fetch_all(&mut client, "idem", 0);
    let keys: Vec<String> = records.iter().map(|r| r.1.clone()).collect();
    let expected: Vec<String> = (0..16).map(|i| format!("key-{i}")).collect();
    assert_eq!(keys, expected, "each batch once, in order");

    let mut transactional = InitProducerIdRequest::default();
    transactional.transactional_id = Some(kafka_protocol::messages::TransactionalId(
        kafka_protocol::protocol::StrBytes::from_static_str("tx"),
    ));
    transactional.transaction_timeout_ms = 1000;
    assert_eq!(
        client.call(&transactional, 4).error_code,
        code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    );
}
