//! ringlog-server: a single-node broker front that speaks Kafka's wire protocol on the ringlog
//! engine, so Kafka clients written by others produce to and fetch from it.
//!
//! - [`frame`]: length-prefixed request frames, read as their bytes arrive, never sized from an
//!   untrusted length beyond [`ServerConfig::max_request_bytes`].
//! - [`connection`]: one task per connection; requests are handled concurrently and their
//!   responses written in request order, as Kafka requires.
//! - [`handlers`]: one module per Kafka API; [`handlers::SUPPORTED`] lists the versions.
//! - [`errors`]: engine errors as Kafka error codes.
//! - [`client`]: a minimal blocking client, for tests and `ringbench --bootstrap`.
//!
//! Disk work (appends, fetches that may read the disk, topic creation) runs on tokio's blocking
//! pool; durability is awaited through the engine's [`ringlog::AppendHandle`] futures, so no
//! async worker waits on a write or an `fdatasync`. See `docs/server.md`.

pub mod client;
pub mod connection;
pub mod errors;
pub mod frame;
pub mod handlers;
pub mod logging;
pub mod producers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ringlog::{Durability, TopicManager, TopicManagerConfig};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};

/// Kafka's `socket.request.max.bytes` default: 100 MiB.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 100 * 1024 * 1024;
/// Kafka's `connections.max.idle.ms` default: 10 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_mins(10);
/// Connections served at once by default; one more waits for a free slot.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Requests of one connection handled at once; the next is read once the oldest is answered.
pub const MAX_IN_FLIGHT_PER_CONNECTION: usize = 64;

/// Settings of a server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The data directory (created if missing; locked while the server runs).
    pub data_dir: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Partitions of a topic created without a count (CreateTopics with -1, auto-creation).
    pub default_partitions: u32,
    /// Durability of topics created here (acks 1 and -1 are answered once it is met).
    pub default_durability: Durability,
    /// Whether a Metadata request for an unknown topic creates it (Kafka's
    /// `auto.create.topics.enable`, on by default).
    pub auto_create_topics: bool,
    /// Largest request frame; a larger one closes its connection.
    pub max_request_bytes: usize,
    /// Most connections served at once.
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Engine settings.
    pub engine: TopicManagerConfig,
}

impl ServerConfig {
    /// Defaults for `data_dir`: loopback port 9092, one partition, `write` durability,
    /// auto-creation on, Kafka's limits.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 9092)),
            default_partitions: 1,
            default_durability: Durability::Write,
            auto_create_topics: true,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            engine: TopicManagerConfig::default(),
        }
    }
}

/// Starting the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory could not be opened (another process holds it, or it is damaged).
    #[error("opening {dir}: {source}")]
    Open {
        /// The data directory.
        dir: PathBuf,
        /// Why.
        source: ringlog::TopicError,
    },
    /// The producer id counter under the data directory could not be read.
    #[error("reading the producer id counter in {dir}: {source}")]
    ProducerIds {
        /// The data directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The listening socket could not be bound.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// State shared by every connection.
pub struct Broker {
    /// The topics.
    pub topics: Arc<TopicManager>,
    /// The settings.
    pub config: ServerConfig,
    /// Woken whenever a produce raised a high watermark: long-polling fetches wait on it.
    pub produced: Notify,
    /// Idempotent producers' sequence state, per partition.
    pub producers: producers::Registry,
    /// Producer ids for InitProducerId.
    pub producer_ids: producers::IdAllocator,
    /// Set when the server stops: long-polling fetches answer at once instead of waiting out
    /// their `max_wait_ms`.
    pub stopping: std::sync::atomic::AtomicBool,
}

/// A bound server, not yet serving.
pub struct Server {
    broker: Arc<Broker>,
    listener: TcpListener,
}

impl Server {
    /// Opens the data directory and binds the listening socket.
    ///
    /// # Errors
    /// [`ServerError::Open`], [`ServerError::ProducerIds`] or [`ServerError::Bind`].
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let dir = config.data_dir.clone();
        let engine = config.engine.clone();
        let topics = tokio::task::spawn_blocking(move || TopicManager::open(&dir, engine))
            .await
            .expect("opening the topics panicked")
            .map_err(|source| ServerError::Open {
                dir: config.data_dir.clone(),
                source,
            })?;
        let producer_ids = producers::IdAllocator::open(&config.data_dir).map_err(|source| {
            ServerError::ProducerIds {
                dir: config.data_dir.clone(),
                source,
            }
        })?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        Ok(Server {
            broker: Arc::new(Broker {
                topics: Arc::new(topics),
                config,
                produced: Notify::new(),
                producers: producers::Registry::default(),
                producer_ids,
                stopping: std::sync::atomic::AtomicBool::new(false),
            }),
            listener,
        })
    }

    /// The address it listens on (with the port the system chose for port 0).
    ///
    /// # Errors
    /// The socket's error.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves connections until `shutdown` turns true, then stops accepting, ends every
    /// connection, waits for their requests' appends and closes every log.
    ///
    /// # Errors
    /// Closing a log failed (it is then recovered at the next open).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), ringlog::TopicError> {
        let slots = Arc::new(Semaphore::new(self.broker.config.max_connections));
        let maintenance = self
            .broker
            .topics
            .start_maintenance(Duration::from_secs(30));
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                accepted = self.listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(e) => {
                            logging::info(format_args!("accept failed: {e}"));
                            continue;
                        }
                    };
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        logging::info(format_args!(
                            "connection from {peer} refused: {} connections open (--max-connections)",
                            self.broker.config.max_connections
                        ));
                        continue;
                    };
                    let broker = Arc::clone(&self.broker);
                    let stop = shutdown.clone();
                    connections.spawn(async move {
                        connection::serve(broker, stream, peer, stop).await;
                        drop(slot);
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        logging::info(format_args!("shutting down: closing connections"));
        self.broker
            .stopping
            .store(true, std::sync::atomic::Ordering::Release);
        self.broker.produced.notify_waiters();
        while connections.join_next().await.is_some() {}
        drop(maintenance);
        let topics = Arc::clone(&self.broker.topics);
        let closed = tokio::task::spawn_blocking(move || topics.close())
            .await
            .expect("closing the topics panicked");
        logging::info(format_args!("every log closed"));
        closed
    }
}
