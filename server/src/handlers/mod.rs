//! Request parsing and dispatch: one module per Kafka API.
//!
//! [`parse`] reads the API key, version and correlation id, refuses what is not in
//! [`SUPPORTED`] (ApiVersions at an unknown version is answered, as Kafka does, with version 0
//! and `UNSUPPORTED_VERSION`; anything else closes the connection, as Kafka does for requests it
//! cannot parse) and decodes the request. [`handle`] answers it.

pub mod api_versions;
pub mod fetch;
pub mod groups;
pub mod init_producer_id;
pub mod list_offsets;
pub mod metadata;
pub mod produce;
pub mod topics;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::{Broker, logging};

/// The APIs served, with the oldest and newest version of each.
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 6),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::InitProducerId, 0, 4),
];

/// The versions of `api_key` served, if any.
pub fn versions(api_key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(key, _, _)| *key == api_key)
        .map(|&(_, min, max)| (min, max))
}

/// The versions of `api_key` decoded: those served, or for an API answered with an error
/// ([`groups::REFUSED`]) every version kafka-protocol knows.
pub fn decoded_versions(api_key: ApiKey) -> Option<(i16, i16)> {
    versions(api_key).or_else(|| {
        groups::REFUSED.contains(&api_key).then(|| {
            let range = api_key.valid_versions();
            (range.min, range.max)
        })
    })
}

/// A decoded request.
#[derive(Debug)]
pub struct Request {
    /// Its header.
    pub header: RequestHeader,
    /// Its version.
    pub version: i16,
    /// Its body.
    pub body: RequestKind,
}

/// What [`parse`] made of a frame.
#[derive(Debug)]
pub enum Parsed {
    /// A request to handle.
    Request(Box<Request>),
    /// An answer ready to send (ApiVersions at a version this server does not know).
    Answer(Bytes),
    /// The connection must close, for this reason.
    Close(String),
}

/// Decodes one request frame.
pub fn parse(mut frame: Bytes) -> Parsed {
    if frame.len() < 8 {
        return Parsed::Close(format!(
            "a request of {} bytes is shorter than a request header",
            frame.len()
        ));
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let Ok(api_key) = ApiKey::try_from(key) else {
        return Parsed::Close(format!("unknown API key {key}"));
    };
    match decoded_versions(api_key) {
        Some((min, max)) if (min..=max).contains(&version) => {}
        _ if api_key == ApiKey::ApiVersions => {
            let response = ResponseKind::ApiVersions(api_versions::unsupported());
            return match encode(correlation_id, 0, &response) {
                Ok(bytes) => Parsed::Answer(bytes),
                Err(reason) => Parsed::Close(reason),
            };
        }
        _ => {
            return Parsed::Close(format!(
                "{api_key:?} version {version} is not supported (docs/server.md lists what is)"
            ));
        }
    }
    let header = match RequestHeader::decode(&mut frame, api_key.request_header_version(version)) {
        Ok(header) => header,
        Err(e) => return Parsed::Close(format!("malformed {api_key:?} request header: {e}")),
    };
    match RequestKind::decode(api_key, &mut frame, version) {
        Ok(body) => Parsed::Request(Box::new(Request {
            header,
            version,
            body,
        })),
        Err(e) => Parsed::Close(format!("malformed {api_key:?} v{version} request: {e}")),
    }
}

/// What the connection does once a request is handled.
#[derive(Debug)]
pub enum Outcome {
    /// Send this response frame.
    Send(Bytes),
    /// Nothing is due (a produce with acks 0).
    Nothing,
    /// Close the connection, for this reason (a failed produce with acks 0, as Kafka does so
    /// the client learns of it; a response that would not encode).
    Close(String),
}

/// The rest of a request's handling, run concurrently with the connection's later requests.
pub type Reply = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// Starts handling `request`. What must happen in request order (a produce's batches going into
/// their logs) is done before this returns; the returned [`Reply`] does the rest (waiting for
/// durability, long-polling). `local` is the address the client connected to.
pub async fn start(broker: &Arc<Broker>, request: Box<Request>, local: SocketAddr) -> Reply {
    let Request {
        header,
        version,
        body,
    } = *request;
    let correlation_id = header.correlation_id;
    let broker = Arc::clone(broker);
    if let RequestKind::Produce(r) = body {
        let submitted = produce::submit(&broker, r, version).await;
        return Box::pin(async move {
            match submitted.finish(&broker).await {
                Ok(Some(response)) => {
                    reply(correlation_id, version, &ResponseKind::Produce(response))
                }
                Ok(None) => Outcome::Nothing,
                Err(reason) => Outcome::Close(reason),
            }
        });
    }
    Box::pin(async move {
        match answer(&broker, body, version, local).await {
            Some(response) => reply(correlation_id, version, &response),
            None => Outcome::Close("no handler for the request".to_string()),
        }
    })
}

async fn answer(
    broker: &Arc<Broker>,
    body: RequestKind,
    version: i16,
    local: SocketAddr,
) -> Option<ResponseKind> {
    Some(match body {
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(api_versions::response()),
        RequestKind::Metadata(r) => {
            ResponseKind::Metadata(metadata::handle(broker, r, version, local).await)
        }
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(topics::create(broker, r, version).await)
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(topics::delete(broker, r, version).await)
        }
        RequestKind::Fetch(r) => ResponseKind::Fetch(fetch::handle(broker, r, version).await),
        RequestKind::ListOffsets(r) => {
            ResponseKind::ListOffsets(list_offsets::handle(broker, r).await)
        }
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(init_producer_id::handle(broker, r).await)
        }
        other => {
            // `parse` lets through only the APIs of SUPPORTED, each handled here or in `start`,
            // and those of groups::REFUSED.
            let refusal = groups::refuse(&other, version);
            if refusal.is_none() {
                logging::info(format_args!("no handler for {other:?}"));
            }
            return refusal;
        }
    })
}

fn reply(correlation_id: i32, version: i16, response: &ResponseKind) -> Outcome {
    match encode(correlation_id, version, response) {
        Ok(bytes) => Outcome::Send(bytes),
        Err(reason) => Outcome::Close(reason),
    }
}

/// A whole response frame: size, header, body.
///
/// # Errors
/// The encoder refused the response (a field set that `version` does not have): a bug here.
pub fn encode(correlation_id: i32, version: i16, response: &ResponseKind) -> Result<Bytes, String> {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    header
        .encode(&mut buf, response.header_version(version))
        .and_then(|()| response.encode(&mut buf, version))
        .map_err(|e| format!("encoding a v{version} response failed: {e}"))?;
    let size = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}

/// A topic name from the wire as a `String`.
pub(crate) fn name(topic: &kafka_protocol::messages::TopicName) -> String {
    topic.0.to_string()
}

/// A `String` as a topic name on the wire.
pub(crate) fn topic_name(name: &str) -> kafka_protocol::messages::TopicName {
    kafka_protocol::messages::TopicName(kafka_protocol::protocol::StrBytes::from_string(
        name.to_string(),
    ))
}

/// Runs blocking engine work on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("engine work panicked")
}
