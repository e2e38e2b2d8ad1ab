//! The naive baseline as a peer: [`crate::naive::NaiveLog`], one buffered `write` per record
//! through the page cache and two `pread`s per record read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Batch, Mode, PeerEngine, PeerError, PeerResult, SharedAppend, Text, Visit, fail};
use crate::naive::NaiveLog;

const NAME: &str = "naive";

/// How the baseline is driven and what its modes mean.
pub const DESCRIPTION: Text = Text {
    version: "this workspace (benches::naive)",
    io_path: "buffered write(2) and pread (page cache)",
    cheapest: "one write(2) per record, no sync: in the page cache when acknowledged, so it \
               survives a crash of the process, not a power loss",
    sync: "one write(2) per record, then one fdatasync per batch",
    producers: "none: `NaiveLog` has a single writer (`&mut self`)",
    driven: "one file of [u32 length][payload] records and a vector of their positions in \
             memory, rebuilt at reopen by reading every length prefix; a batch is 100 \
             `NaiveLog::append` calls; sequential and point reads are two preads per record \
             (prefix, then payload)",
};

/// The naive log.
#[derive(Debug)]
pub struct NaivePeer {
    dir: PathBuf,
    mode: Mode,
    log: Option<NaiveLog>,
}

impl NaivePeer {
    /// An empty naive log in `dir`.
    ///
    /// # Errors
    /// The operating system's error.
    pub fn open(dir: &Path, mode: Mode) -> PeerResult<NaivePeer> {
        Ok(NaivePeer {
            dir: dir.to_path_buf(),
            mode,
            log: Some(NaiveLog::create(dir, false).map_err(fail(NAME, "create"))?),
        })
    }

    fn log(&mut self) -> PeerResult<&mut NaiveLog> {
        self.log.as_mut().ok_or(PeerError {
            engine: NAME,
            operation: "use",
            message: "the log is closed".to_string(),
        })
    }
}

impl PeerEngine for NaivePeer {
    fn append_batch(&mut self, batch: &Batch) -> PeerResult<()> {
        let sync = self.mode == Mode::Sync;
        let log = self.log()?;
        for (i, record) in batch.records.iter().enumerate() {
            let offset = log.append(record).map_err(fail(NAME, "append"))?;
            assert_eq!(
                offset,
                batch.first_id + i as u64,
                "naive offsets follow ids"
            );
        }
        if sync {
            log.sync().map_err(fail(NAME, "fdatasync"))?;
        }
        Ok(())
    }

    fn producers(&self) -> Option<Arc<dyn SharedAppend>> {
        None
    }

    fn flush(&mut self) -> PeerResult<()> {
        self.log()?.sync().map_err(fail(NAME, "fdatasync"))
    }

    fn close(&mut self) -> PeerResult<()> {
        self.log = None;
        Ok(())
    }

    fn reopen(&mut self) -> PeerResult<()> {
        self.log = Some(NaiveLog::open(&self.dir, false).map_err(fail(NAME, "open"))?);
        Ok(())
    }

    fn read_seq(&mut self, visit: Visit<'_>) -> PeerResult<u64> {
        let log = self.log()?;
        let mut buf = Vec::new();
        for offset in 0..log.len() {
            log.read(offset, &mut buf).map_err(fail(NAME, "read"))?;
            visit(offset, &buf);
        }
        Ok(log.len())
    }

    fn read_point(&mut self, offset: u64, visit: Visit<'_>) -> PeerResult<()> {
        let mut buf = Vec::new();
        self.log()?
            .read(offset, &mut buf)
            .map_err(fail(NAME, "read"))?;
        visit(offset, &buf);
        Ok(())
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}
