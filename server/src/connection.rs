//! One client connection: frames are read and decoded here, each request is handled in its own
//! task (so a long-polling fetch does not hold up a produce behind it), and a writer task sends
//! the responses in request order, as Kafka's protocol requires. At most
//! [`crate::MAX_IN_FLIGHT_PER_CONNECTION`] requests of one connection are handled at once.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

use crate::frame::{FrameError, read_frame};
use crate::handlers::{self, Outcome, Parsed};
use crate::{Broker, MAX_IN_FLIGHT_PER_CONNECTION, logging};

/// Serves `stream` until the client closes it, breaks the protocol, idles past the limit, or
/// `stop` turns true. Responses of requests already read are still sent.
pub async fn serve(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    logging::info(format_args!("connection from {peer} opened"));
    let local = stream.local_addr().unwrap_or(broker.config.listen);
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let (queue, mut pending) =
        mpsc::channel::<oneshot::Receiver<Outcome>>(MAX_IN_FLIGHT_PER_CONNECTION);
    let write_task = tokio::spawn(async move {
        let mut reason = None;
        while let Some(response) = pending.recv().await {
            match response.await {
                Ok(Outcome::Send(bytes)) => {
                    if let Err(e) = writer.write_all(&bytes).await {
                        reason = Some(format!("sending a response failed: {e}"));
                        break;
                    }
                }
                Ok(Outcome::Nothing) => {}
                Ok(Outcome::Close(why)) => {
                    reason = Some(why);
                    break;
                }
                Err(_) => break,
            }
        }
        let _ = writer.shutdown().await;
        reason
    });
    let max = broker.config.max_request_bytes;
    let idle = broker.config.idle_timeout;
    let reason = loop {
        let frame = tokio::select! {
            frame = tokio::time::timeout(idle, read_frame(&mut reader, max)) => frame,
            _ = stop.changed() => break "the server is shutting down".to_string(),
        };
        let frame = match frame {
            Err(_) => break format!("idle for {} s", idle.as_secs()),
            Ok(Err(FrameError::Closed)) => break "closed by the client".to_string(),
            Ok(Err(e)) => break e.to_string(),
            Ok(Ok(frame)) => frame.freeze(),
        };
        let (response_tx, response_rx) = oneshot::channel();
        match handlers::parse(frame) {
            Parsed::Request(request) => {
                let reply = handlers::start(&broker, request, local).await;
                tokio::spawn(async move {
                    let _ = response_tx.send(reply.await);
                });
            }
            Parsed::Answer(response) => {
                let _ = response_tx.send(Outcome::Send(response));
            }
            Parsed::Close(reason) => break reason,
        }
        if queue.send(response_rx).await.is_err() {
            break "the connection's writer stopped".to_string();
        }
    };
    drop(queue);
    // The writer's reason, when it stopped first, says more than the reader's.
    let reason = match write_task.await {
        Ok(Some(writer_reason)) => writer_reason,
        _ => reason,
    };
    logging::info(format_args!("connection from {peer} closed: {reason}"));
}
