//! Read-ahead for sequential consumers: several aligned direct reads in flight ahead of a
//! fetch, so a cold sequential read keeps the disk busy instead of reading at queue depth 1.
//!
//! A fetch that misses the cache at a batch boundary takes the *stream* of its segment that
//! expects a miss there (the end of the whole batches the stream cached last), or starts one
//! at the first miss. A stream keeps `read_ahead_depth` reads of one chunk
//! (`read_ahead_bytes`, or the fetch's size up to [`MAX_READ_AHEAD_CHUNK_BYTES`]) in flight,
//! contiguous, and refills the window as each one is consumed, like the kernel's read-ahead
//! for the page cache. Reads never go past the bytes on disk when they were submitted.
//!
//! What a read brings goes into the cache as the sync path's reads do: only whole batches
//! whose frame and CRC passed, from the batch boundary the consumer stopped at. A batch that
//! runs from one chunk into the next is copied together from the two (the stream keeps the
//! first chunk's uncached tail, its *carry*); the rest of the chunk is cached as a slice of its
//! buffer. Ranges read ahead count against the cache's read-ahead window
//! (`SharedConfig::read_ahead_cache_bytes`), oldest out first, so a consumer streaming cold
//! data recycles the same buffers instead of filling the whole budget with fresh memory.
//!
//! Correctness never depends on a stream: a fetch that finds none, or one busy with another
//! thread, reads as before. The bytes a stream caches are checked against the segment they are
//! read for (offsets inside it, CRC), as every read from disk is, so a read that raced a
//! retention deletion (whose file a roll may reuse) or a compaction swap caches nothing wrong;
//! fetches apply the high watermark to whatever they find. Streams of a removed segment are
//! dropped, and streams idle for [`IDLE_STREAM_MS`] give their reads back.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::LogInner;
use super::reader::Checked;
use crate::buffer_pool::PooledBuf;
use crate::cache::Origin;
use crate::error::ReadError;
use crate::io::{PendingRead, finish_read};
use crate::record::{BATCH_HEADER_BYTES, BatchHeader};
use crate::segment::Segment;

/// The largest chunk one read-ahead read asks for: this machine's reads flatten at 256 KiB to
/// 1 MiB per request.
pub const MAX_READ_AHEAD_CHUNK_BYTES: usize = 1 << 20;

/// Streams one log keeps (consumers reading different segments or places at once); the least
/// recently used one goes first.
const MAX_STREAMS: usize = 4;

/// A stream whose consumer has not come back for this long gives its reads back (checked by
/// the background flusher's tick).
pub const IDLE_STREAM_MS: u64 = 1000;

/// The read-ahead streams of one log.
#[derive(Default)]
pub(super) struct ReadAhead {
    streams: Mutex<Vec<Stream>>,
}

/// One sequential consumer's reads in flight in one segment.
struct Stream {
    segment: u64,
    /// Where the consumer's next miss is expected: just past the whole batches cached last.
    expected: u64,
    /// The bytes from `expected` on that the last read held but did not cache: the start of a
    /// batch that runs into the next read.
    carry: Bytes,
    /// Reads in flight, their valid bytes contiguous; the first's start at
    /// `expected + carry.len()`.
    reads: VecDeque<Ahead>,
    /// Where the next read's valid bytes start: the end of the bytes on disk that the last one
    /// submitted read.
    next: u64,
    /// Bytes per read.
    chunk: usize,
    last_used: Instant,
}

/// One read in flight: `[start, start + len)` of the segment file, of which the first `need`
/// bytes were on disk when it was submitted; its valid bytes are `[from, start + need)` (the
/// read starts at the aligned position below `from`). Bytes past `need` may predate a write
/// and are never used: the next read reads their block again.
struct Ahead {
    from: u64,
    start: u64,
    len: usize,
    need: usize,
    /// The pooled buffer's shell while its memory is with the read.
    buf: Option<PooledBuf>,
    read: Option<PendingRead>,
    file: std::sync::Arc<std::fs::File>,
    shared: std::sync::Arc<crate::Shared>,
}

impl Ahead {
    /// Waits for the read and gives back its buffer (its length set to the bytes read).
    fn finish(mut self) -> (std::io::Result<usize>, PooledBuf) {
        let result = self
            .complete(self.need)
            .expect("a read-ahead read is finished once");
        let buf = self.buf.take().expect("a read-ahead read has its buffer");
        (result, buf)
    }

    /// Waits for the read (continued until `need` bytes are in), puts its memory back into
    /// the pooled buffer and gives back its allowance; `None` if that was done already.
    fn complete(&mut self, need: usize) -> Option<std::io::Result<usize>> {
        let read = self.read.take()?;
        let storage = self.shared.storage().as_ref();
        let (result, aligned) =
            finish_read(storage, &self.file, read, (self.start, self.len, need));
        self.buf
            .as_mut()
            .expect("a read-ahead read has its buffer")
            .restore(aligned);
        self.shared.release_read_ahead(self.len);
        Some(result)
    }
}

impl Drop for Ahead {
    /// A read dropped unconsumed (its stream went idle or its segment was removed) is waited
    /// for, so that its buffer goes back to the pool rather than being lost to it.
    fn drop(&mut self) {
        self.complete(0);
    }
}

impl ReadAhead {
    /// Takes the stream of `segment` that expects a miss at `pos`.
    fn take(&self, segment: u64, pos: u64) -> Option<Stream> {
        let mut streams = self.lock();
        let at = streams
            .iter()
            .position(|s| s.segment == segment && s.expected == pos)?;
        Some(streams.swap_remove(at))
    }

    /// Puts `stream` back, dropping the least recently used one beyond [`MAX_STREAMS`]
    /// (outside the lock: dropping waits for its reads).
    fn put(&self, stream: Stream) {
        let dropped = {
            let mut streams = self.lock();
            streams.push(stream);
            if streams.len() > MAX_STREAMS {
                let oldest = streams
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, s)| s.last_used)
                    .map(|(i, _)| i)
                    .expect("more than MAX_STREAMS streams");
                Some(streams.swap_remove(oldest))
            } else {
                None
            }
        };
        drop(dropped);
    }

    /// Drops the streams of `segment` (deleted or replaced).
    pub(super) fn forget_segment(&self, segment: u64) {
        let dropped: Vec<Stream> = {
            let mut streams = self.lock();
            let (gone, kept) = std::mem::take(&mut *streams)
                .into_iter()
                .partition(|s| s.segment == segment);
            *streams = kept;
            gone
        };
        drop(dropped);
    }

    /// Drops the streams idle for [`IDLE_STREAM_MS`] or more.
    pub(super) fn drop_idle(&self) {
        self.drop_idle_for(Duration::from_millis(IDLE_STREAM_MS));
    }

    /// Drops the streams idle for `idle` or more.
    fn drop_idle_for(&self, idle: Duration) {
        let dropped: Vec<Stream> = {
            let mut streams = self.lock();
            if streams.is_empty() {
                return;
            }
            let (gone, kept) = std::mem::take(&mut *streams)
                .into_iter()
                .partition(|s| s.last_used.elapsed() >= idle);
            *streams = kept;
            gone
        };
        drop(dropped);
    }

    /// Reads in flight over every stream (for tests).
    #[cfg(test)]
    pub(super) fn reads_in_flight(&self) -> usize {
        self.lock().iter().map(|s| s.reads.len()).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Stream>> {
        self.streams.lock().expect("read-ahead lock poisoned")
    }
}

impl LogInner {
    /// The bytes at `pos` (a batch boundary) of `segment` for a sequential fetch that missed
    /// the cache, through the segment's read-ahead stream: at least the whole batch at `pos`,
    /// checked and cached. `None` when the stream cannot serve it (a batch larger than what the
    /// stream holds of it); the caller then reads as without read-ahead.
    ///
    /// # Errors
    /// [`ReadError::Io`] for a failed read; [`ReadError::Corrupt`] when the batch at `pos`
    /// fails its check.
    pub(super) fn read_ahead(
        &self,
        segment: &Segment,
        pos: u64,
        want: usize,
        limit: u64,
    ) -> Result<Option<Bytes>, ReadError> {
        let on_disk = limit.min(segment.disk_bytes());
        let mut stream = self
            .read_ahead
            .take(segment.id, pos)
            .unwrap_or_else(|| self.new_stream(segment, pos, want));
        stream.last_used = Instant::now();
        let depth = self.config.read_ahead_depth;
        if stream.reads.is_empty() {
            self.refill(segment, &mut stream, on_disk, depth);
        }
        let Some(ahead) = stream.reads.pop_front() else {
            return Ok(None);
        };
        let (from, start, need) = (ahead.from, ahead.start, ahead.need);
        let (result, buf) = ahead.finish();
        let read = result.map_err(|source| ReadError::Io {
            op: "read",
            path: segment.log_path(),
            source,
        })?;
        let buffer_bytes = buf.capacity();
        let valid_end = start + (read.min(need) as u64).min(on_disk.saturating_sub(start));
        if valid_end <= from {
            return Ok(None);
        }
        let filled =
            Bytes::from_owner(buf).slice((from - start) as usize..(valid_end - start) as usize);
        // The batch at `pos`: in this read, or begun in the last one's carry.
        let (view, rest_start) = if pos < from {
            if pos + stream.carry.len() as u64 != from {
                return Ok(None);
            }
            let Some(batch) = self.stitch_carry(segment, pos, &stream.carry, &filled)? else {
                return Ok(None);
            };
            let end = pos + batch.len() as u64;
            (Some(batch), end)
        } else if pos < valid_end {
            (None, pos)
        } else {
            return Ok(None);
        };
        let rest = filled.slice((rest_start - from) as usize..);
        let checked = match self.checked_batches(segment, rest_start, &rest) {
            Ok(Checked::Batches(len)) => len,
            Ok(Checked::Larger(_)) => 0,
            // A damaged batch after the stitched one is for its own read to report.
            Err(_) if view.is_some() => 0,
            Err(e) => return Err(e),
        };
        let cached = if checked > 0 {
            self.shared.cache().insert_from_buffer(
                self.id,
                segment.id,
                rest_start,
                &rest.slice(..checked),
                buffer_bytes,
                Origin::ReadAhead,
            )
        } else {
            Bytes::new()
        };
        stream.expected = rest_start + checked as u64;
        stream.carry = rest.slice(checked..);
        let view = match view {
            Some(batch) => batch,
            None if checked > 0 => cached,
            // Not even one whole batch in this read: larger than a chunk.
            None => return Ok(None),
        };
        self.refill(segment, &mut stream, on_disk, depth);
        self.read_ahead.put(stream);
        Ok(Some(view))
    }

    /// A stream starting at `pos`, its reads not yet submitted.
    fn new_stream(&self, segment: &Segment, pos: u64, want: usize) -> Stream {
        let chunk = want
            .clamp(self.config.read_ahead_bytes, MAX_READ_AHEAD_CHUNK_BYTES)
            .next_power_of_two();
        Stream {
            segment: segment.id,
            expected: pos,
            carry: Bytes::new(),
            reads: VecDeque::new(),
            next: pos,
            chunk,
            last_used: Instant::now(),
        }
    }

    /// Submits reads until `depth` are in flight, none past `on_disk`, within the shared
    /// read-ahead allowance (a stream with none in flight always gets one).
    fn refill(&self, segment: &Segment, stream: &mut Stream, on_disk: u64, depth: usize) {
        let align = self.shared.align() as u64;
        while stream.reads.len() < depth && stream.next < on_disk {
            let from = stream.next;
            let start = from / align * align;
            let len = (stream.chunk as u64).min(on_disk.div_ceil(align) * align - start) as usize;
            if !self.shared.reserve_read_ahead(len, stream.reads.is_empty()) {
                break;
            }
            let mut buf = self.shared.pool().get_at_least(len);
            let aligned = buf.take();
            let storage = self.shared.storage();
            let read = storage.submit_read(&segment.file, aligned, start, len);
            let need = (on_disk - start).min(len as u64) as usize;
            stream.reads.push_back(Ahead {
                from,
                start,
                len,
                need,
                buf: Some(buf),
                read: Some(read),
                file: std::sync::Arc::clone(&segment.file),
                shared: std::sync::Arc::clone(&self.shared),
            });
            stream.next = start + need as u64;
        }
    }

    /// The batch at `pos`, which begins in `carry` (the bytes from `pos` to the start of
    /// `filled`) and ends in `filled`, copied together and checked; `None` when it ends past
    /// `filled` too.
    ///
    /// # Errors
    /// [`ReadError::Corrupt`] when it is not a sound batch.
    fn stitch_carry(
        &self,
        segment: &Segment,
        pos: u64,
        carry: &Bytes,
        filled: &Bytes,
    ) -> Result<Option<Bytes>, ReadError> {
        let mut head = [0u8; BATCH_HEADER_BYTES];
        let from_carry = carry.len().min(BATCH_HEADER_BYTES);
        head[..from_carry].copy_from_slice(&carry[..from_carry]);
        let from_filled = (BATCH_HEADER_BYTES - from_carry).min(filled.len());
        head[from_carry..from_carry + from_filled].copy_from_slice(&filled[..from_filled]);
        if from_carry + from_filled < BATCH_HEADER_BYTES {
            return Ok(None);
        }
        let header: BatchHeader = self.header_in(segment, pos, &head)?;
        let total = header.total_bytes();
        if total > carry.len() + filled.len() || total < carry.len() {
            return Ok(None);
        }
        let mut batch = BytesMut::with_capacity(total);
        batch.extend_from_slice(carry);
        batch.extend_from_slice(&filled[..total - carry.len()]);
        let batch = batch.freeze();
        match self.checked_batches(segment, pos, &batch)? {
            Checked::Batches(len) if len == total => {}
            _ => return Ok(None),
        }
        self.shared.cache().insert_held(
            self.id,
            segment.id,
            pos,
            batch.clone(),
            total,
            Origin::ReadAhead,
        );
        Ok(Some(batch))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::{Config, IoMode};
    use crate::io::IoPath;
    use crate::record::Record;
    use crate::{Log, Shared, SharedConfig};

    /// A log of 8 MiB in 1 KiB records, closed, and opened again cold (a new [`Shared`]); `None`
    /// where io_uring is not available (read-ahead is io_uring's).
    fn cold_log(dir: &std::path::Path) -> Option<Log> {
        let config = Config {
            io_mode: IoMode::Uring,
            ..Config::default()
        };
        let shared_config = SharedConfig {
            io_mode: IoMode::Uring,
            cache_bytes: 64 << 20,
            ..SharedConfig::default()
        };
        let shared = Shared::new(dir, &shared_config).ok()?;
        let log = Log::open_with(dir.join("log"), config.clone(), &shared).ok()?;
        if !matches!(log.io_path(), IoPath::UringDirect | IoPath::UringBuffered) {
            return None;
        }
        let value = vec![7u8; 1024];
        let records: Vec<Record<'_>> = (0..100)
            .map(|_| Record {
                key: None,
                value: Some(&value),
                timestamp_ms: super::super::now_ms(),
                headers: &[],
            })
            .collect();
        for _ in 0..80 {
            log.append(&records).expect("append");
        }
        log.close().expect("close");
        drop(log);
        let shared = Shared::new(dir, &shared_config).expect("shared");
        Some(Log::open_with(dir.join("log"), config, &shared).expect("reopen"))
    }

    #[test]
    fn streams_give_their_reads_back_when_forgotten_or_idle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(log) = cold_log(dir.path()) else {
            return;
        };
        let inner = &log.inner;
        let segment = inner.segment_for(0).expect("a segment").id;
        log.fetch(0, 64 * 1024).expect("fetch");
        assert!(
            inner.read_ahead.reads_in_flight() > 0,
            "a stream reads ahead"
        );
        assert!(
            inner.shared.read_ahead_in_flight() > 0,
            "and counts its reads"
        );
        inner.read_ahead.forget_segment(segment);
        assert_eq!(
            inner.read_ahead.reads_in_flight(),
            0,
            "forgotten with its segment"
        );
        assert_eq!(
            inner.shared.read_ahead_in_flight(),
            0,
            "its reads given back"
        );

        // A new stream, from where the cached data ends; dropped once idle.
        let fetched = log.fetch(0, 64 * 1024).expect("fetch");
        let mut offset = fetched.next_fetch_offset;
        while inner.read_ahead.reads_in_flight() == 0 {
            offset = log
                .fetch(offset, 64 * 1024)
                .expect("fetch")
                .next_fetch_offset;
        }
        inner.read_ahead.drop_idle_for(Duration::from_mins(10));
        assert!(
            inner.read_ahead.reads_in_flight() > 0,
            "a stream in use stays"
        );
        inner.read_ahead.drop_idle_for(Duration::ZERO);
        assert_eq!(inner.read_ahead.reads_in_flight(), 0, "an idle stream goes");
        assert_eq!(inner.shared.read_ahead_in_flight(), 0);
        log.close().expect("close");
    }

    #[test]
    fn the_background_flusher_drops_idle_streams() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(log) = cold_log(dir.path()) else {
            return;
        };
        log.fetch(0, 64 * 1024).expect("fetch");
        assert!(
            log.inner.read_ahead.reads_in_flight() > 0,
            "a stream reads ahead"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while log.inner.read_ahead.reads_in_flight() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the idle stream was never dropped"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(log.inner.shared.read_ahead_in_flight(), 0);
        log.close().expect("close");
    }
}
