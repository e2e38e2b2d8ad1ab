//! Produce with acks 0, 1 and -1.
//!
//! The batches of one request are submitted to their logs in [`submit`], which the connection
//! runs before it reads its next request, so the batches of one connection reach each
//! partition in the order they were sent (as Kafka processes a connection's requests in order).
//! Waiting for durability happens afterwards in [`Submitted::finish`], concurrently with later
//! requests, through the engine's [`AppendHandle`] futures. On one node acks 1 and -1 wait for
//! the same thing: the topic's durability. With acks 0 nothing is answered.

use std::sync::Arc;

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use ringlog::AppendHandle;
use ringlog::record::BatchHeader;

use super::{blocking, name};
use crate::Broker;
use crate::errors::{KafkaError, append_code, code};
use crate::producers::{SeqBatch, Verdict};

/// One partition's submitted batch, or why it was refused.
struct Slot {
    partition: i32,
    outcome: Result<Appended, KafkaError>,
}

/// A batch in its log.
enum Appended {
    /// Submitted; durable once the handle resolves. With the log start offset.
    Submitted(AppendHandle, u64),
    /// A retry of an idempotent batch already in the log: answered with its first offset once
    /// the log's high watermark passes it.
    Duplicate(Arc<ringlog::Log>, SeqBatch),
}

/// Longest a retried batch waits for its original to become durable.
const DUPLICATE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A produce request whose batches are in their logs (or refused), not yet durable.
pub struct Submitted {
    acks: i16,
    version: i16,
    topics: Vec<(TopicName, Vec<Slot>)>,
}

/// Submits every batch of `request` to its partition.
pub async fn submit(broker: &Arc<Broker>, request: ProduceRequest, version: i16) -> Submitted {
    let acks = request.acks;
    let transactional = request
        .transactional_id
        .as_ref()
        .is_some_and(|id| !id.0.is_empty());
    let refusal = if transactional {
        Some(KafkaError::new(
            code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            "transactions are not supported yet",
        ))
    } else if !(-1..=1).contains(&acks) {
        Some(KafkaError::new(
            code::INVALID_REQUIRED_ACKS,
            format!("acks {acks}: expected 0, 1 or -1"),
        ))
    } else {
        None
    };
    let broker = Arc::clone(broker);
    let topics = blocking(move || {
        request
            .topic_data
            .into_iter()
            .map(|topic| {
                let topic_name = name(&topic.name);
                let slots = topic
                    .partition_data
                    .into_iter()
                    .map(|data| Slot {
                        partition: data.index,
                        outcome: match &refusal {
                            Some(e) => Err(e.clone()),
                            None => append(&broker, &topic_name, data.index, data.records),
                        },
                    })
                    .collect();
                (topic.name, slots)
            })
            .collect()
    })
    .await;
    Submitted {
        acks,
        version,
        topics,
    }
}

fn append(
    broker: &Broker,
    topic: &str,
    partition: i32,
    records: Option<bytes::Bytes>,
) -> Result<Appended, KafkaError> {
    let log = u32::try_from(partition)
        .map_err(|_| KafkaError::new(code::UNKNOWN_TOPIC_OR_PARTITION, "negative partition"))
        .and_then(|p| {
            broker
                .topics
                .partition(topic, p)
                .map_err(|e| KafkaError::from(&e))
        })?;
    let records = records.unwrap_or_default();
    let submit = |log: &ringlog::Log| {
        log.submit_batch(&records)
            .map_err(|e| KafkaError::new(append_code(&e), e.to_string()))
    };
    let idempotent = BatchHeader::parse(&records)
        .ok()
        .filter(|header| header.producer_id >= 0);
    let Some(header) = idempotent else {
        return Ok(Appended::Submitted(submit(&log)?, log.start_offset()));
    };
    // The check and the append of one partition's idempotent batches happen under its lock.
    let producers = broker.producers.partition(topic, partition as u32);
    let mut producers = producers.lock().expect("producer state poisoned");
    producers.load(&log)?;
    if let Verdict::Duplicate(original) = producers.check(&header)? {
        return Ok(Appended::Duplicate(log, original));
    }
    let handle = submit(&log)?;
    let info = handle.offsets();
    producers.record(&header, info.base_offset, info.last_offset);
    Ok(Appended::Submitted(handle, log.start_offset()))
}

/// Waits until `original` is below the high watermark of `log`.
async fn durable(
    log: &ringlog::Log,
    original: SeqBatch,
) -> Result<ringlog::AppendInfo, KafkaError> {
    let deadline = std::time::Instant::now() + DUPLICATE_WAIT;
    loop {
        if log.high_watermark() > original.last_offset {
            return Ok(ringlog::AppendInfo {
                base_offset: original.base_offset,
                last_offset: original.last_offset,
            });
        }
        if let Some(reason) = log.poisoned() {
            return Err(KafkaError::new(
                code::KAFKA_STORAGE_ERROR,
                reason.to_string(),
            ));
        }
        if std::time::Instant::now() >= deadline {
            return Err(KafkaError::new(
                code::REQUEST_TIMED_OUT,
                "the original of this retried batch is not durable yet",
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

impl Submitted {
    /// Waits for every batch's durability and builds the response; `None` for acks 0 (whose
    /// batches still become durable by the topic's rules). Wakes long-polling fetches.
    ///
    /// # Errors
    /// With acks 0, the first partition's error: the connection is then closed, as Kafka
    /// closes it, so the client learns the produce failed.
    pub async fn finish(self, broker: &Broker) -> Result<Option<ProduceResponse>, String> {
        let mut first_error = None;
        let mut responses = Vec::with_capacity(self.topics.len());
        for (topic, slots) in self.topics {
            let mut partitions = Vec::with_capacity(slots.len());
            for slot in slots {
                let mut p = PartitionProduceResponse::default();
                p.index = slot.partition;
                p.log_append_time_ms = -1;
                let outcome = match slot.outcome {
                    Ok(Appended::Submitted(handle, start)) => handle
                        .await
                        .map(|info| (info, start))
                        .map_err(|e| KafkaError::new(append_code(&e), e.to_string())),
                    Ok(Appended::Duplicate(log, original)) => durable(&log, original)
                        .await
                        .map(|info| (info, log.start_offset())),
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok((info, start)) => {
                        p.base_offset = info.base_offset as i64;
                        if self.version >= 5 {
                            p.log_start_offset = start as i64;
                        }
                    }
                    Err(e) => {
                        if first_error.is_none() {
                            first_error = Some(format!(
                                "an acks=0 produce to partition {} failed: {}",
                                slot.partition, e.message
                            ));
                        }
                        p.error_code = e.code;
                        p.base_offset = -1;
                        if self.version >= 8 {
                            p.error_message = Some(StrBytes::from_string(e.message));
                        }
                    }
                }
                partitions.push(p);
            }
            let mut t = TopicProduceResponse::default();
            t.name = topic;
            t.partition_responses = partitions;
            responses.push(t);
        }
        broker.produced.notify_waiters();
        if self.acks == 0 {
            return first_error.map_or(Ok(None), Err);
        }
        let mut response = ProduceResponse::default();
        response.responses = responses;
        Ok(Some(response))
    }
}
