//! Kafka's framing: a big-endian `int32` size, then that many bytes of request.
//!
//! The size is checked against the limit before anything is read, and the buffer grows as
//! bytes arrive (by at most [`READ_CHUNK`] per read), so a client that declares a large frame
//! and sends little costs little.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Most bytes added to a frame's buffer per read.
pub const READ_CHUNK: usize = 64 * 1024;

/// Reading a frame failed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the connection between frames.
    #[error("connection closed")]
    Closed,
    /// The peer closed the connection inside a frame.
    #[error("connection closed {received} bytes into a {size}-byte frame")]
    Truncated {
        /// Declared size.
        size: usize,
        /// Bytes received.
        received: usize,
    },
    /// The declared size is negative or over the limit.
    #[error("frame of {size} bytes is over the limit of {max} bytes (--max-request-bytes)")]
    TooLarge {
        /// Declared size.
        size: i64,
        /// The limit.
        max: usize,
    },
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads one frame's bytes (without the size prefix).
///
/// # Errors
/// See [`FrameError`].
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> Result<BytesMut, FrameError> {
    let mut size = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = reader.read(&mut size[got..]).await?;
        if n == 0 {
            return if got == 0 {
                Err(FrameError::Closed)
            } else {
                Err(FrameError::Truncated {
                    size: 4,
                    received: got,
                })
            };
        }
        got += n;
    }
    let declared = i32::from_be_bytes(size);
    let size =
        usize::try_from(declared)
            .ok()
            .filter(|&s| s <= max)
            .ok_or(FrameError::TooLarge {
                size: i64::from(declared),
                max,
            })?;
    let mut buf = BytesMut::with_capacity(size.min(READ_CHUNK));
    while buf.len() < size {
        let want = (size - buf.len()).min(READ_CHUNK);
        buf.reserve(want);
        let n = (&mut *reader).take(want as u64).read_buf(&mut buf).await?;
        if n == 0 {
            return Err(FrameError::Truncated {
                size,
                received: buf.len(),
            });
        }
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_frame_is_read_whole() {
        let mut bytes: &[u8] = &[0, 0, 0, 3, b'a', b'b', b'c', 0, 0, 0, 0];
        assert_eq!(&read_frame(&mut bytes, 10).await.unwrap()[..], b"abc");
        assert!(read_frame(&mut bytes, 10).await.unwrap().is_empty());
        assert!(matches!(
            read_frame(&mut bytes, 10).await,
            Err(FrameError::Closed)
        ));
    }

    #[tokio::test]
    async fn oversized_negative_and_truncated_frames_are_refused() {
        let mut big: &[u8] = &[0, 0, 0, 11];
        assert!(matches!(
            read_frame(&mut big, 10).await,
            Err(FrameError::TooLarge { size: 11, max: 10 })
        ));
        let mut negative: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame(&mut negative, 10).await,
            Err(FrameError::TooLarge { size: -1, .. })
        ));
        let mut short: &[u8] = &[0, 0, 0, 5, 1, 2];
        assert!(matches!(
            read_frame(&mut short, 10).await,
            Err(FrameError::Truncated {
                size: 5,
                received: 2
            })
        ));
        let mut half_size: &[u8] = &[0, 0];
        assert!(matches!(
            read_frame(&mut half_size, 10).await,
            Err(FrameError::Truncated { size: 4, .. })
        ));
    }
}
