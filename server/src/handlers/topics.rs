//! CreateTopics and DeleteTopics on [`ringlog::TopicManager`] topics, with Kafka's topic
//! settings (`cleanup.policy`, `retention.ms`, `retention.bytes`, `segment.bytes`,
//! `min.cleanable.dirty.ratio`, `delete.retention.ms`) and ringlog's `ringlog.durability`.

use std::sync::Arc;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
};
use kafka_protocol::protocol::StrBytes;
use ringlog::{CleanupPolicy, TopicConfig};

use super::{blocking, name, topic_name};
use crate::errors::{KafkaError, code};
use crate::{Broker, ServerConfig};

/// The settings of a topic created without any: the server's partitions and durability.
pub fn default_config(config: &ServerConfig) -> TopicConfig {
    TopicConfig {
        partitions: config.default_partitions,
        durability: config.default_durability,
        ..TopicConfig::default()
    }
}

/// Answers CreateTopics.
pub async fn create(
    broker: &Arc<Broker>,
    request: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let broker = Arc::clone(broker);
    let topics = blocking(move || {
        request
            .topics
            .iter()
            .map(|topic| {
                let outcome = settings(&broker.config, topic).and_then(|config| {
                    if request.validate_only {
                        ringlog::topic::validate_topic_name(&name(&topic.name)).map_err(|e| {
                            KafkaError::new(code::INVALID_TOPIC_EXCEPTION, e.to_string())
                        })?;
                        config
                            .validate()
                            .map_err(|e| KafkaError::new(code::INVALID_CONFIG, e))?;
                        return Ok(config);
                    }
                    broker
                        .topics
                        .create_topic(&name(&topic.name), config)
                        .map(|d| d.config)
                        .map_err(|e| KafkaError::from(&e))
                });
                let mut result = CreatableTopicResult::default();
                result.name = topic.name.clone();
                match outcome {
                    Ok(config) => {
                        if version >= 5 {
                            result.num_partitions = config.partitions as i32;
                            result.replication_factor = 1;
                        }
                    }
                    Err(e) => {
                        result.error_code = e.code;
                        result.error_message = Some(StrBytes::from_string(e.message));
                    }
                }
                result
            })
            .collect()
    })
    .await;
    let mut response = CreateTopicsResponse::default();
    response.topics = topics;
    response
}

/// A topic's settings from a CreateTopics entry.
fn settings(server: &ServerConfig, topic: &CreatableTopic) -> Result<TopicConfig, KafkaError> {
    let mut config = default_config(server);
    match topic.num_partitions {
        -1 => {}
        n if n >= 1 => config.partitions = n as u32,
        n => {
            return Err(KafkaError::new(
                code::INVALID_PARTITIONS,
                format!("num_partitions {n}: a topic needs at least one partition"),
            ));
        }
    }
    if !matches!(topic.replication_factor, -1 | 1) {
        return Err(KafkaError::new(
            code::INVALID_REPLICATION_FACTOR,
            format!(
                "replication factor {}: this single node keeps one replica",
                topic.replication_factor
            ),
        ));
    }
    if !topic.assignments.is_empty() {
        return Err(KafkaError::new(
            code::INVALID_REPLICA_ASSIGNMENT,
            "replica assignments are not supported on a single node",
        ));
    }
    for entry in &topic.configs {
        let key = entry.name.as_str();
        let value = entry.value.as_ref().map_or("", |v| v.as_str());
        apply(&mut config, key, value).map_err(|reason| {
            KafkaError::new(code::INVALID_CONFIG, format!("{key}={value:?}: {reason}"))
        })?;
    }
    Ok(config)
}

/// Sets one topic setting.
fn apply(config: &mut TopicConfig, key: &str, value: &str) -> Result<(), String> {
    let millis = |v: &str| -> Result<Option<u64>, String> {
        match v.parse::<i64>().map_err(|e| e.to_string())? {
            -1 => Ok(None),
            n if n >= 0 => Ok(Some(n as u64)),
            n => Err(format!("{n} is neither -1 nor a count")),
        }
    };
    match key {
        "cleanup.policy" => {
            config.cleanup_policy = match value {
                "delete" => CleanupPolicy::Delete,
                "compact" => CleanupPolicy::Compact,
                _ => return Err("expected delete or compact".into()),
            }
        }
        "retention.ms" => config.retention_ms = millis(value)?,
        "retention.bytes" => config.retention_bytes = millis(value)?,
        "segment.bytes" => config.segment_bytes = value.parse().map_err(|e| format!("{e}"))?,
        "min.cleanable.dirty.ratio" => {
            config.min_cleanable_dirty_ratio = value.parse().map_err(|e| format!("{e}"))?;
        }
        "delete.retention.ms" => {
            config.delete_retention_ms = value.parse().map_err(|e| format!("{e}"))?;
        }
        "ringlog.durability" => config.durability = value.parse()?,
        _ => return Err("unknown or unsupported topic setting (docs/server.md)".into()),
    }
    Ok(())
}

/// Answers DeleteTopics (by name; version 6's topic ids are answered `UNKNOWN_TOPIC_ID`).
pub async fn delete(
    broker: &Arc<Broker>,
    request: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let names: Vec<Option<String>> = if version >= 6 {
        request
            .topics
            .iter()
            .map(|t| t.name.as_ref().map(name))
            .collect()
    } else {
        request.topic_names.iter().map(|n| Some(name(n))).collect()
    };
    let broker = Arc::clone(broker);
    let responses = blocking(move || {
        names
            .into_iter()
            .map(|topic| {
                let mut result = DeletableTopicResult::default();
                let Some(topic) = topic else {
                    result.error_code = UNKNOWN_TOPIC_ID;
                    return result;
                };
                result.name = Some(topic_name(&topic));
                let deleted = broker.topics.delete_topic(&topic);
                if deleted.is_ok() {
                    broker.producers.forget(&topic);
                }
                if let Err(e) = deleted {
                    let e = KafkaError::from(&e);
                    result.error_code = e.code;
                    if version >= 5 {
                        result.error_message = Some(StrBytes::from_string(e.message));
                    }
                }
                result
            })
            .collect()
    })
    .await;
    let mut response = DeleteTopicsResponse::default();
    response.responses = responses;
    response
}

/// Kafka's `UNKNOWN_TOPIC_ID`: topics are named here, ids are not assigned yet.
const UNKNOWN_TOPIC_ID: i16 = 100;
