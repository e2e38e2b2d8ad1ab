//! `ringlog-server`: a single-node Kafka wire-protocol broker on the ringlog engine.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ringlog::Durability;
use ringlog_server::{Server, ServerConfig, logging};

/// Serves Kafka clients from a ringlog data directory (see docs/server.md).
#[derive(Debug, Parser)]
#[command(name = "ringlog-server", version)]
struct Args {
    /// Data directory (created if missing; locked while the server runs).
    #[arg(long)]
    data_dir: PathBuf,
    /// Address to listen on (loopback unless said otherwise).
    #[arg(long, default_value = "127.0.0.1:9092")]
    listen: SocketAddr,
    /// Partitions of topics created without a count.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=i64::from(ringlog::topic::MAX_PARTITIONS)))]
    default_partitions: u32,
    /// Durability of topics created here: none, write or sync (acks 1 and -1 wait for it).
    #[arg(long, default_value = "write")]
    default_durability: Durability,
    /// Whether Metadata requests for unknown topics create them.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    auto_create_topics: bool,
    /// Largest request accepted, in bytes; a larger one closes its connection.
    #[arg(long, default_value_t = ringlog_server::DEFAULT_MAX_REQUEST_BYTES as u64, value_parser = clap::value_parser!(u64).range(64..=i32::MAX as u64))]
    max_request_bytes: u64,
    /// Most connections served at once.
    #[arg(long, default_value_t = ringlog_server::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Seconds a connection may stay silent before it is closed.
    #[arg(long, default_value_t = ringlog_server::DEFAULT_IDLE_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_secs: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = ServerConfig::new(args.data_dir);
    config.listen = args.listen;
    config.default_partitions = args.default_partitions;
    config.default_durability = args.default_durability;
    config.auto_create_topics = args.auto_create_topics;
    config.max_request_bytes = args.max_request_bytes as usize;
    config.max_connections = args.max_connections;
    config.idle_timeout = Duration::from_secs(args.idle_timeout_secs);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the tokio runtime");
    runtime.block_on(async move {
        let server = match Server::bind(config).await {
            Ok(server) => server,
            Err(e) => {
                eprintln!("ringlog-server: {e}");
                return ExitCode::FAILURE;
            }
        };
        match server.local_addr() {
            Ok(addr) => println!("ringlog-server listening on {addr}"),
            Err(e) => {
                eprintln!("ringlog-server: {e}");
                return ExitCode::FAILURE;
            }
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            logging::info(format_args!("signal received"));
            let _ = stop.send(true);
        });
        match server.run(stopped).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ringlog-server: closing the logs: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
