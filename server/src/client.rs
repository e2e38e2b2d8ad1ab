//! A minimal blocking Kafka client on kafka-protocol's client side: one connection, requests
//! pipelined, responses read in order. For the server's tests and `ringbench produce|consume
//! --bootstrap`; not a general client (no metadata refresh, no retries).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};

/// One connection to a broker.
pub struct Connection {
    stream: TcpStream,
    correlation: i32,
}

impl Connection {
    /// Connects to `addr` (no Nagle delay).
    ///
    /// # Errors
    /// The connection failed.
    pub fn open(addr: SocketAddr) -> Result<Connection, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Connection {
            stream,
            correlation: 0,
        })
    }

    /// The socket, for timeouts and shutdowns.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Sends a request whose body is already encoded at `version`; returns its correlation id.
    ///
    /// # Errors
    /// The socket failed.
    pub fn send_encoded(
        &mut self,
        key: i16,
        version: i16,
        header_version: i16,
        body: &[u8],
    ) -> Result<i32, String> {
        self.correlation += 1;
        let mut header = RequestHeader::default();
        header.request_api_key = key;
        header.request_api_version = version;
        header.correlation_id = self.correlation;
        header.client_id = Some(StrBytes::from_static_str("ringlog"));
        let mut frame = BytesMut::with_capacity(body.len() + 64);
        frame.put_i32(0);
        header
            .encode(&mut frame, header_version)
            .map_err(|e| e.to_string())?;
        frame.put_slice(body);
        let size = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&size.to_be_bytes());
        self.stream
            .write_all(&frame)
            .map_err(|e| format!("send: {e}"))?;
        Ok(self.correlation)
    }

    /// Sends `request` at `version`; returns its correlation id.
    ///
    /// # Errors
    /// The request does not encode at `version`, or the socket failed.
    pub fn send<R: Request>(&mut self, request: &R, version: i16) -> Result<i32, String> {
        let mut body = BytesMut::new();
        request
            .encode(&mut body, version)
            .map_err(|e| e.to_string())?;
        self.send_encoded(R::KEY, version, R::header_version(version), &body)
    }

    /// Writes `body` as one frame, whatever it holds.
    ///
    /// # Errors
    /// The socket failed.
    pub fn write_frame(&mut self, body: &[u8]) -> Result<(), String> {
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_i32(body.len() as i32);
        frame.put_slice(body);
        self.stream
            .write_all(&frame)
            .map_err(|e| format!("send: {e}"))
    }

    /// Reads one frame; `None` once the broker closed the connection.
    pub fn read_frame(&mut self) -> Option<Bytes> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).ok()?;
        let mut body = vec![0u8; usize::try_from(i32::from_be_bytes(size)).ok()?];
        self.stream.read_exact(&mut body).ok()?;
        Some(Bytes::from(body))
    }

    /// Reads the next response, which must answer `correlation`, as `R`'s response at
    /// `version`.
    ///
    /// # Errors
    /// The connection closed, the response answers another request, or it does not decode.
    pub fn receive<R: Request>(
        &mut self,
        correlation: i32,
        version: i16,
    ) -> Result<R::Response, String> {
        let mut frame = self
            .read_frame()
            .ok_or_else(|| "the broker closed the connection".to_string())?;
        let key = ApiKey::try_from(R::KEY).map_err(|()| "unknown API key".to_string())?;
        let header = ResponseHeader::decode(&mut frame, key.response_header_version(version))
            .map_err(|e| e.to_string())?;
        if header.correlation_id != correlation {
            return Err(format!(
                "response to request {} where {correlation} was expected",
                header.correlation_id
            ));
        }
        let response = R::Response::decode(&mut frame, version).map_err(|e| e.to_string())?;
        if !frame.is_empty() {
            return Err(format!("{} bytes after the response", frame.len()));
        }
        Ok(response)
    }

    /// Sends `request` and waits for its response.
    ///
    /// # Errors
    /// As [`Connection::send`] and [`Connection::receive`].
    pub fn call<R: Request>(&mut self, request: &R, version: i16) -> Result<R::Response, String> {
        let correlation = self.send(request, version)?;
        self.receive::<R>(correlation, version)
    }

    /// True once the broker closed the connection (a read ends or fails).
    pub fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte), Ok(0) | Err(_))
    }
}
