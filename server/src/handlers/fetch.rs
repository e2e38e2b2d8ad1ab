//! Fetch, long-polling on the high watermark: the request is answered once `min_bytes` of
//! batches are there or `max_wait_ms` has passed. Batches go out as the engine stores them.
//! Fetches run on the blocking pool (a cold read waits on the disk); between attempts the
//! request waits on [`Broker::produced`], which every produce wakes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};

use super::{blocking, name};
use crate::Broker;
use crate::errors::{code, read_code, topic_code};

/// Longest wait honoured, whatever the request asks.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Answers a Fetch request.
pub async fn handle(broker: &Arc<Broker>, request: FetchRequest, version: i16) -> FetchResponse {
    let wait = Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
    let request = Arc::new(request);
    loop {
        let notified = broker.produced.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (response, bytes, failed) = {
            let broker = Arc::clone(broker);
            let request = Arc::clone(&request);
            blocking(move || fetch_once(&broker, &request, version)).await
        };
        let now = Instant::now();
        let stopping = broker.stopping.load(std::sync::atomic::Ordering::Acquire);
        if bytes >= min_bytes.max(1) || failed || now >= deadline || stopping {
            return response;
        }
        let _ = tokio::time::timeout(deadline - now, notified).await;
    }
}

/// One pass over the requested partitions: the response, its batch bytes, and whether any
/// partition failed (answered at once).
fn fetch_once(
    broker: &Broker,
    request: &FetchRequest,
    version: i16,
) -> (FetchResponse, usize, bool) {
    let mut budget = usize::try_from(request.max_bytes).unwrap_or(0);
    if version < 3 || budget == 0 {
        budget = usize::MAX;
    }
    let mut total = 0usize;
    let mut failed = false;
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let topic_name = name(&topic.topic);
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for wanted in &topic.partitions {
            let mut p = PartitionData::default();
            p.partition_index = wanted.partition;
            p.records = None;
            let log = u32::try_from(wanted.partition)
                .ok()
                .map(|partition| broker.topics.partition(&topic_name, partition));
            let log = match log {
                Some(Ok(log)) => log,
                Some(Err(e)) => {
                    p.error_code = topic_code(&e);
                    failed = true;
                    partitions.push(p);
                    continue;
                }
                None => {
                    p.error_code = code::UNKNOWN_TOPIC_OR_PARTITION;
                    failed = true;
                    partitions.push(p);
                    continue;
                }
            };
            p.log_start_offset = log.start_offset() as i64;
            let limit = usize::try_from(wanted.partition_max_bytes)
                .unwrap_or(0)
                .min(budget - total);
            let offset = u64::try_from(wanted.fetch_offset).ok();
            let fetched = match offset {
                // Past the budget, later partitions get nothing this time (as in Kafka).
                Some(_) if limit == 0 => None,
                Some(offset) => Some(log.fetch(offset, limit).map_err(|e| read_code(&e))),
                None => Some(Err(code::OFFSET_OUT_OF_RANGE)),
            };
            // A fetch reports the high watermark it served below; otherwise the log's.
            let high_watermark = match fetched {
                Some(Ok(batches)) => {
                    total += batches.bytes.len();
                    p.records = Some(batches.bytes);
                    batches.high_watermark
                }
                Some(Err(error)) => {
                    p.error_code = error;
                    failed = true;
                    log.high_watermark()
                }
                None => log.high_watermark(),
            } as i64;
            p.high_watermark = high_watermark;
            p.last_stable_offset = high_watermark;
            partitions.push(p);
        }
        let mut t = FetchableTopicResponse::default();
        t.topic = topic.topic.clone();
        t.partitions = partitions;
        topics.push(t);
    }
    let mut response = FetchResponse::default();
    response.responses = topics;
    (response, total, failed)
}
