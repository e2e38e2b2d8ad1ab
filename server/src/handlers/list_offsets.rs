//! ListOffsets: earliest (-2), latest (-1, the high watermark, as Kafka answers consumers) and
//! by timestamp through the time index (the first offset whose record timestamp is at least
//! the one asked for, with that record's timestamp; -1 and -1 when there is none).

use std::sync::Arc;

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use ringlog::Log;

use super::{blocking, name};
use crate::Broker;
use crate::errors::{code, read_code, topic_code};

/// Kafka's `LATEST_TIMESTAMP`.
pub const LATEST: i64 = -1;
/// Kafka's `EARLIEST_TIMESTAMP`.
pub const EARLIEST: i64 = -2;

/// Answers a ListOffsets request.
pub async fn handle(broker: &Arc<Broker>, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let broker = Arc::clone(broker);
    blocking(move || {
        let mut response = ListOffsetsResponse::default();
        for topic in &request.topics {
            let topic_name = name(&topic.name);
            let mut t = ListOffsetsTopicResponse::default();
            t.name = topic.name.clone();
            for wanted in &topic.partitions {
                let mut p = ListOffsetsPartitionResponse::default();
                p.partition_index = wanted.partition_index;
                let log = u32::try_from(wanted.partition_index)
                    .map_err(|_| code::UNKNOWN_TOPIC_OR_PARTITION)
                    .and_then(|partition| {
                        broker
                            .topics
                            .partition(&topic_name, partition)
                            .map_err(|e| topic_code(&e))
                    });
                match log.and_then(|log| lookup(&log, wanted.timestamp)) {
                    Ok((offset, timestamp)) => {
                        p.offset = offset;
                        p.timestamp = timestamp;
                        p.leader_epoch = 0;
                    }
                    Err(error) => {
                        p.error_code = error;
                        p.offset = -1;
                        p.timestamp = -1;
                    }
                }
                t.partitions.push(p);
            }
            response.topics.push(t);
        }
        response
    })
    .await
}

/// The offset and timestamp answered for `timestamp`.
fn lookup(log: &Log, timestamp: i64) -> Result<(i64, i64), i16> {
    match timestamp {
        LATEST => Ok((log.high_watermark() as i64, -1)),
        EARLIEST => Ok((log.start_offset() as i64, -1)),
        t if t < 0 => Err(code::INVALID_REQUEST),
        t => match log.offset_for_timestamp(t).map_err(|e| read_code(&e))? {
            None => Ok((-1, -1)),
            Some(offset) => {
                let record = log.read_record(offset).map_err(|e| read_code(&e))?;
                Ok((offset as i64, record.map_or(t, |r| r.timestamp_ms())))
            }
        },
    }
}
