//! ringlog as a peer: one partition log on the engine's default I/O path (io_uring +
//! O_DIRECT where the kernel allows it), configured as every bench configures it
//! ([`crate::config`]: no background flusher).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ringlog::record::{BatchHeader, Record, records};
use ringlog::{Durability, Log};

use super::{Batch, Mode, PeerEngine, PeerError, PeerResult, SharedAppend, Text, Visit, fail};
use crate::fixtures::BASE_TIMESTAMP_MS;

const NAME: &str = "ringlog";

/// Bytes of one fetch of the sequential read (Kafka's `max.partition.fetch.bytes`).
const FETCH_BYTES: usize = 1024 * 1024;

/// How ringlog is driven and what its modes mean.
pub const DESCRIPTION: Text = Text {
    version: "this workspace",
    io_path: "io_uring + O_DIRECT (the engine's default path; the run's environment names \
              the path actually taken)",
    cheapest: "`Durability::None`: acknowledged once the batch is in the engine's memory (its \
               256 KiB tail chunk); written with one direct write when the chunk fills or at \
               flush. A crash of the process loses what was not written yet",
    sync: "`Durability::Sync`: acknowledged after the direct write and an fdatasync of the \
           segment; concurrent appenders share one fdatasync (group commit)",
    producers: "several threads call `Log::append` on one shared log",
    driven: "one `Log` (`benches::config`: default segment and cache sizes, no background \
             flusher), durability fixed at open; one `Log::append` of a 100-record batch per \
             batch (one Kafka RecordBatch v2, offsets assigned by the log); sequential reads \
             with `Log::fetch` of 1 MiB, point reads with `Log::read_record(offset)` (the \
             record's bytes in place, in the stored batch that holds it); \
             reopen = close and `Log::open` (reads the indexes; its read cache starts empty)",
};

/// A ringlog partition log.
#[derive(Debug)]
pub struct RinglogPeer {
    dir: PathBuf,
    durability: Durability,
    log: Option<Arc<Log>>,
}

fn open_log(dir: &Path, durability: Durability) -> PeerResult<Arc<Log>> {
    Log::open(dir, crate::config(durability))
        .map(Arc::new)
        .map_err(fail(NAME, "open"))
}

fn append(log: &Log, batch: &Batch) -> PeerResult<()> {
    let records: Vec<Record<'_>> = batch
        .records
        .iter()
        .enumerate()
        .map(|(i, value)| Record {
            key: None,
            value: Some(value),
            timestamp_ms: BASE_TIMESTAMP_MS + (batch.first_id + i as u64) as i64,
            headers: &[],
        })
        .collect();
    let info = log.append(&records).map_err(fail(NAME, "append"))?;
    assert_eq!(
        info.last_offset - info.base_offset + 1,
        batch.len() as u64,
        "ringlog assigned one offset per record"
    );
    Ok(())
}

/// Visits the records of the whole batches in `bytes` whose offsets are in `[from, to)`;
/// returns the offset after the last batch.
fn visit_batches(bytes: &[u8], from: u64, to: u64, visit: Visit<'_>) -> PeerResult<u64> {
    let mut rest = bytes;
    let mut next = from;
    while !rest.is_empty() {
        let header = BatchHeader::parse(rest).map_err(fail(NAME, "decode"))?;
        let (batch, tail) = rest.split_at(header.total_bytes().min(rest.len()));
        for record in records(batch).map_err(fail(NAME, "decode"))? {
            let record = record.map_err(fail(NAME, "decode"))?;
            let offset = record.offset as u64;
            if (from..to).contains(&offset) {
                visit(offset, record.value.unwrap_or_default());
            }
            next = offset + 1;
        }
        rest = tail;
    }
    Ok(next)
}

impl RinglogPeer {
    /// An empty log in `dir`: `Durability::None` for [`Mode::Cheapest`], `Durability::Sync`
    /// for [`Mode::Sync`].
    ///
    /// # Errors
    /// The engine's open error.
    pub fn open(dir: &Path, mode: Mode) -> PeerResult<RinglogPeer> {
        let durability = match mode {
            Mode::Cheapest => Durability::None,
            Mode::Sync => Durability::Sync,
        };
        Ok(RinglogPeer {
            dir: dir.to_path_buf(),
            durability,
            log: Some(open_log(dir, durability)?),
        })
    }

    fn log(&self) -> PeerResult<&Arc<Log>> {
        self.log.as_ref().ok_or(PeerError {
            engine: NAME,
            operation: "use",
            message: "the log is closed".to_string(),
        })
    }
}

impl SharedAppend for Log {
    fn append_batch(&self, _producer: usize, batch: &Batch) -> PeerResult<()> {
        append(self, batch)
    }
}

impl PeerEngine for RinglogPeer {
    fn append_batch(&mut self, batch: &Batch) -> PeerResult<()> {
        append(self.log()?, batch)
    }

    fn producers(&self) -> Option<Arc<dyn SharedAppend>> {
        self.log
            .as_ref()
            .map(|log| Arc::clone(log) as Arc<dyn SharedAppend>)
    }

    fn flush(&mut self) -> PeerResult<()> {
        self.log()?.flush().map_err(fail(NAME, "flush"))
    }

    fn close(&mut self) -> PeerResult<()> {
        if let Some(log) = self.log.take() {
            log.close().map_err(fail(NAME, "close"))?;
        }
        Ok(())
    }

    fn reopen(&mut self) -> PeerResult<()> {
        self.close()?;
        self.log = Some(open_log(&self.dir, self.durability)?);
        Ok(())
    }

    fn read_seq(&mut self, visit: Visit<'_>) -> PeerResult<u64> {
        let log = self.log()?;
        let end = log.next_offset();
        let mut offset = log.start_offset();
        let mut count = 0;
        while offset < end {
            let fetched = log
                .fetch(offset, FETCH_BYTES)
                .map_err(fail(NAME, "fetch"))?;
            let mut counting = |o: u64, v: &[u8]| {
                count += 1;
                visit(o, v);
            };
            let next = visit_batches(&fetched.bytes, offset, end, &mut counting)?;
            assert_eq!(
                next, fetched.next_fetch_offset,
                "ringlog's next fetch offset"
            );
            offset = next;
        }
        Ok(count)
    }

    fn read_point(&mut self, offset: u64, visit: Visit<'_>) -> PeerResult<()> {
        let record = self
            .log()?
            .read_record(offset)
            .map_err(fail(NAME, "read_record"))?
            .ok_or_else(|| PeerError {
                engine: NAME,
                operation: "read_record",
                message: format!("no record at offset {offset}"),
            })?;
        visit(offset, record.value().unwrap_or_default());
        Ok(())
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}
