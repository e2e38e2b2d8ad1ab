//! Metadata: this node as the only broker, leader of every partition; unknown topics are
//! created when auto-creation is on and the client allows it.

use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
use kafka_protocol::protocol::StrBytes;
use ringlog::TopicError;
use ringlog::topic::TopicDescription;

use super::{blocking, topic_name};
use crate::Broker;
use crate::errors::{code, topic_code};

/// This node's id in every response.
pub const NODE_ID: i32 = 0;
/// The cluster id reported.
pub const CLUSTER_ID: &str = "ringlog";

/// Answers a Metadata request; `local` is the address the client connected to, advertised as
/// the broker's.
pub async fn handle(
    broker: &Arc<Broker>,
    request: MetadataRequest,
    version: i16,
    local: SocketAddr,
) -> MetadataResponse {
    // Version 0 asks for every topic with an empty list; later versions with null.
    let wanted: Option<Vec<String>> = match request.topics {
        None => None,
        Some(topics) if topics.is_empty() && version == 0 => None,
        Some(topics) => Some(
            topics
                .iter()
                .filter_map(|t| t.name.as_ref().map(super::name))
                .collect(),
        ),
    };
    let may_create =
        broker.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
    let broker = Arc::clone(broker);
    let topics = blocking(move || {
        let names = wanted.unwrap_or_else(|| broker.topics.list_topics());
        names
            .iter()
            .map(|name| describe(&broker, name, may_create))
            .collect()
    })
    .await;
    let mut response = MetadataResponse::default();
    let mut node = MetadataResponseBroker::default();
    node.node_id = BrokerId(NODE_ID);
    node.host = StrBytes::from_string(local.ip().to_string());
    node.port = i32::from(local.port());
    response.brokers = vec![node];
    if version >= 2 {
        response.cluster_id = Some(StrBytes::from_static_str(CLUSTER_ID));
    }
    response.controller_id = BrokerId(NODE_ID);
    response.topics = topics;
    response
}

fn describe(broker: &Broker, name: &str, may_create: bool) -> MetadataResponseTopic {
    let mut topic = MetadataResponseTopic::default();
    topic.name = Some(topic_name(name));
    let described = match broker.topics.describe_topic(name) {
        Err(TopicError::UnknownTopic { .. }) if may_create => broker
            .topics
            .create_topic(name, super::topics::default_config(&broker.config)),
        other => other,
    };
    match described {
        Ok(description) => topic.partitions = partitions(&description),
        Err(e) => topic.error_code = topic_code(&e),
    }
    topic
}

fn partitions(description: &TopicDescription) -> Vec<MetadataResponsePartition> {
    description
        .partitions
        .iter()
        .map(|p| {
            let mut partition = MetadataResponsePartition::default();
            partition.error_code = code::NONE;
            partition.partition_index = p.partition as i32;
            partition.leader_id = BrokerId(NODE_ID);
            partition.leader_epoch = 0;
            partition.replica_nodes = vec![BrokerId(NODE_ID)];
            partition.isr_nodes = vec![BrokerId(NODE_ID)];
            partition
        })
        .collect()
}
