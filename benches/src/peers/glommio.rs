//! glommio's DMA files as a peer: io_uring and O_DIRECT like ringlog, with no engine on top,
//! the reference for what the bare substrate does. One file of `[u32 length][payload]`
//! records appended through a `DmaStreamWriter`; the offset-to-position index is a vector in
//! memory, rebuilt at reopen by scanning the file.
//!
//! A `LocalExecutor` lives on the calling thread, and every call runs to completion inside
//! `LocalExecutor::run`, so the workload times the same calls as for the other engines (no
//! channel hop to an executor thread). Background work of the writer (write-behind flushes)
//! progresses during the next call, as ringlog's does without its background flusher.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use glommio::io::{DmaFile, DmaStreamReaderBuilder, DmaStreamWriter, DmaStreamWriterBuilder};
use glommio::{LocalExecutor, LocalExecutorBuilder};

use super::{Batch, Mode, PeerEngine, PeerError, PeerResult, SharedAppend, Visit, fail};

const NAME: &str = "glommio";
/// The record file.
const FILE: &str = "glommio.log";
/// A non-empty file opened before the record file is created, so glommio's IOPOLL probe (one
/// read through the poll ring, once per device) reads real data. Probing with an empty file
/// can report poll support that the device lacks (VMs without poll queues), after which DMA
/// reads hang.
const PROBE_FILE: &str = "iopoll-probe";
/// Bytes of the probe file: one large logical block.
const PROBE_BYTES: usize = 4096;
/// Write buffers of the stream writer (glommio's default) and how many may be in flight.
const WRITE_BUFFER_BYTES: usize = 128 * 1024;
const WRITE_BEHIND: usize = 4;
/// Read buffers of the sequential reader (ringlog's read-ahead) and how many are read ahead.
const READ_BUFFER_BYTES: usize = 256 * 1024;
const READ_AHEAD: usize = 4;
/// Bytes of the length prefix.
const PREFIX_BYTES: u64 = 4;

/// glommio on one file.
pub struct GlommioPeer {
    ex: LocalExecutor,
    dir: PathBuf,
    sync: bool,
    writer: Option<DmaStreamWriter>,
    reader: Option<Rc<DmaFile>>,
    /// Position of every record's prefix, then the end of the file.
    positions: Vec<u64>,
}

impl std::fmt::Debug for GlommioPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlommioPeer")
            .field("dir", &self.dir)
            .field("sync", &self.sync)
            .field("records", &self.records())
            .finish_non_exhaustive()
    }
}

fn io_fail(operation: &'static str) -> impl FnOnce(std::io::Error) -> PeerError {
    fail(NAME, operation)
}

impl GlommioPeer {
    /// An empty record file in `dir`, and an executor on the calling thread; every batch
    /// synced in [`Mode::Sync`].
    ///
    /// # Errors
    /// The executor or file could not be made.
    pub fn open(dir: &Path, mode: Mode) -> PeerResult<GlommioPeer> {
        let ex = LocalExecutorBuilder::default()
            .make()
            .map_err(fail(NAME, "make the executor"))?;
        let probe = dir.join(PROBE_FILE);
        std::fs::File::create(&probe)
            .and_then(|mut f| f.write_all(&[0xA5; PROBE_BYTES]))
            .map_err(io_fail("write the probe file"))?;
        let path = dir.join(FILE);
        let writer = ex.run(async {
            DmaFile::open(&probe)
                .await
                .map_err(fail(NAME, "open the probe file"))?
                .close()
                .await
                .map_err(fail(NAME, "close the probe file"))?;
            let file = DmaFile::create(&path).await.map_err(fail(NAME, "create"))?;
            Ok::<_, PeerError>(
                DmaStreamWriterBuilder::new(file)
                    .with_buffer_size(WRITE_BUFFER_BYTES)
                    .with_write_behind(WRITE_BEHIND)
                    .build(),
            )
        })?;
        Ok(GlommioPeer {
            ex,
            dir: dir.to_path_buf(),
            sync: mode == Mode::Sync,
            writer: Some(writer),
            reader: None,
            positions: vec![0],
        })
    }

    fn records(&self) -> u64 {
        self.positions.len() as u64 - 1
    }

    fn reader(&self) -> PeerResult<Rc<DmaFile>> {
        self.reader.clone().ok_or(PeerError {
            engine: NAME,
            operation: "read",
            message: "the file is not open for reading (reopen first)".to_string(),
        })
    }

    /// The positions of every record of the file, by reading each prefix in order.
    fn scan(&self, file: &Rc<DmaFile>) -> PeerResult<Vec<u64>> {
        self.ex.run(async {
            let size = file.file_size().await.map_err(fail(NAME, "stat"))?;
            let mut reader = DmaStreamReaderBuilder::from_rc(Rc::clone(file))
                .with_buffer_size(READ_BUFFER_BYTES)
                .with_read_ahead(READ_AHEAD)
                .build();
            let mut positions = vec![0];
            let mut position = 0;
            let mut prefix = [0u8; PREFIX_BYTES as usize];
            while position < size {
                reader
                    .read_exact(&mut prefix)
                    .await
                    .map_err(io_fail("scan"))?;
                let len = u64::from(u32::from_be_bytes(prefix));
                reader.skip(len);
                position += PREFIX_BYTES + len;
                positions.push(position);
            }
            reader.close().await.map_err(fail(NAME, "close the scan"))?;
            if position == size {
                Ok(positions)
            } else {
                Err(PeerError {
                    engine: NAME,
                    operation: "scan",
                    message: format!("the file ends inside record {}", positions.len() - 2),
                })
            }
        })
    }
}

impl PeerEngine for GlommioPeer {
    fn append_batch(&mut self, batch: &Batch) -> PeerResult<()> {
        let Self {
            ex,
            writer,
            positions,
            sync,
            ..
        } = self;
        let writer = writer.as_mut().ok_or(PeerError {
            engine: NAME,
            operation: "append",
            message: "the writer is closed".to_string(),
        })?;
        assert_eq!(
            batch.first_id,
            positions.len() as u64 - 1,
            "glommio appends in offset order"
        );
        ex.run(async {
            let mut end = *positions.last().expect("the end position");
            for record in &batch.records {
                let len = u32::try_from(record.len()).expect("records are small");
                writer
                    .write_all(&len.to_be_bytes())
                    .await
                    .map_err(io_fail("write"))?;
                writer.write_all(record).await.map_err(io_fail("write"))?;
                end += PREFIX_BYTES + u64::from(len);
                positions.push(end);
            }
            if *sync {
                writer.sync().await.map_err(fail(NAME, "sync"))?;
            }
            Ok(())
        })
    }

    fn producers(&self) -> Option<Arc<dyn SharedAppend>> {
        None
    }

    fn flush(&mut self) -> PeerResult<()> {
        let Self { ex, writer, .. } = self;
        match writer {
            Some(w) => ex.run(w.sync()).map(drop).map_err(fail(NAME, "sync")),
            None => Ok(()),
        }
    }

    fn close(&mut self) -> PeerResult<()> {
        let Self {
            ex, writer, reader, ..
        } = self;
        let (writer, reader) = (writer.take(), reader.take());
        ex.run(async {
            if let Some(mut w) = writer {
                // Flushes the partial buffer, syncs and truncates the padding.
                w.close().await.map_err(io_fail("close the writer"))?;
            }
            if let Some(r) = reader {
                r.close_rc().await.map_err(fail(NAME, "close the file"))?;
            }
            Ok(())
        })
    }

    fn reopen(&mut self) -> PeerResult<()> {
        self.close()?;
        let path = self.dir.join(FILE);
        let file = self
            .ex
            .run(DmaFile::open(&path))
            .map_err(fail(NAME, "open"))?;
        let file = Rc::new(file);
        self.positions = self.scan(&file)?;
        self.reader = Some(file);
        Ok(())
    }

    fn read_seq(&mut self, visit: Visit<'_>) -> PeerResult<u64> {
        let file = self.reader()?;
        let records = self.records();
        self.ex.run(async {
            let mut reader = DmaStreamReaderBuilder::from_rc(file)
                .with_buffer_size(READ_BUFFER_BYTES)
                .with_read_ahead(READ_AHEAD)
                .build();
            let mut prefix = [0u8; PREFIX_BYTES as usize];
            let mut payload = Vec::new();
            for offset in 0..records {
                reader
                    .read_exact(&mut prefix)
                    .await
                    .map_err(io_fail("read"))?;
                payload.resize(u32::from_be_bytes(prefix) as usize, 0);
                reader
                    .read_exact(&mut payload)
                    .await
                    .map_err(io_fail("read"))?;
                visit(offset, &payload);
            }
            reader
                .close()
                .await
                .map_err(fail(NAME, "close the reader"))?;
            Ok(records)
        })
    }

    fn read_point(&mut self, offset: u64, visit: Visit<'_>) -> PeerResult<()> {
        let file = self.reader()?;
        let (Some(&start), Some(&end)) = (
            self.positions.get(offset as usize),
            self.positions.get(offset as usize + 1),
        ) else {
            return Err(PeerError {
                engine: NAME,
                operation: "read",
                message: format!("no record {offset}"),
            });
        };
        let len = (end - start - PREFIX_BYTES) as usize;
        self.ex.run(async {
            let read = file
                .read_at(start + PREFIX_BYTES, len)
                .await
                .map_err(fail(NAME, "read_at"))?;
            visit(offset, &read);
            Ok(())
        })
    }

    fn dir(&self) -> &Path {
        &self.dir
    }

    fn files(&self) -> Vec<PathBuf> {
        // O_DIRECT leaves nothing in the page cache; the probe file is not the engine's.
        vec![self.dir.join(FILE)]
    }
}

impl Drop for GlommioPeer {
    fn drop(&mut self) {
        // The writer and file must be closed inside the executor that owns them.
        let _ = self.close();
    }
}
