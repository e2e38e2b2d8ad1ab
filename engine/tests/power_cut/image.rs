//! One file as the simulated disk holds it: the bytes made durable by the last `fdatasync`,
//! and the operations since then, which a power cut may drop or tear (`outcome.rs` decides).

use bytes::Bytes;

use super::outcome::{Fate, Pending};

/// An operation on a file that changes what a power cut can leave.
#[derive(Clone, Debug)]
pub enum Op {
    /// `data` written at `offset`.
    Write { offset: u64, data: Bytes },
    /// `ftruncate` to the given size.
    SetLen(u64),
    /// `fallocate` mode 0 of `[offset, offset + len)`: extends the size, keeps the contents.
    Allocate { offset: u64, len: u64 },
}

/// The durable bytes of one file and the operations not yet made durable, in the order they
/// completed.
#[derive(Debug)]
pub struct FileImage {
    /// Contents (and size: `durable.len()`) as of the last `fdatasync`.
    durable: Vec<u8>,
    pending: Vec<Op>,
}

impl FileImage {
    /// A file whose current contents are durable.
    pub fn new(durable: Vec<u8>) -> FileImage {
        FileImage {
            durable,
            pending: Vec::new(),
        }
    }

    /// Notes an operation that completed.
    pub fn record(&mut self, op: Op) {
        self.pending.push(op);
    }

    /// Operations pending now: an `fdatasync` that starts now covers them.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// An `fdatasync` returned: the first `covered` pending operations (those that completed
    /// before it started) are durable, data and size. Later ones may or may not be.
    pub fn sync(&mut self, covered: usize) {
        for op in self.pending.drain(..covered) {
            apply(&mut self.durable, &op, &Fate::Kept);
        }
    }

    /// An `msync` of a mapped file returned: as [`FileImage::sync`], and `bytes`, the file's
    /// contents at `start` (whole pages) as the mapping showed them before it started, are
    /// durable.
    pub fn sync_range(&mut self, covered: usize, start: u64, bytes: &[u8]) {
        self.sync(covered);
        let start = (start as usize).min(self.durable.len());
        let end = (start + bytes.len()).min(self.durable.len());
        self.durable[start..end].copy_from_slice(&bytes[..end - start]);
    }

    /// An `fdatasync` of a mapped file returned: `contents`, read before it started (stores
    /// into the mapping included), are durable.
    pub fn sync_to(&mut self, covered: usize, contents: Vec<u8>) {
        self.pending.drain(..covered);
        self.durable = contents;
    }

    /// The pending operations, as the choice of their fates sees them.
    pub fn pending(&self) -> Vec<Pending> {
        self.pending
            .iter()
            .map(|op| match op {
                Op::Write { data, .. } => Pending::Write { len: data.len() },
                Op::SetLen(_) | Op::Allocate { .. } => Pending::Resize,
            })
            .collect()
    }

    /// The file after a power cut that gave the pending operations these `fates`.
    pub fn after_cut(&self, fates: &[Fate]) -> Vec<u8> {
        assert_eq!(fates.len(), self.pending.len(), "one fate per pending op");
        let mut bytes = self.durable.clone();
        for (op, fate) in self.pending.iter().zip(fates) {
            apply(&mut bytes, op, fate);
        }
        bytes
    }

    /// The file if everything pending reached the disk: what the page cache shows now.
    pub fn current(&self) -> Vec<u8> {
        self.after_cut(&vec![Fate::Kept; self.pending.len()])
    }
}

fn apply(bytes: &mut Vec<u8>, op: &Op, fate: &Fate) {
    match (op, fate) {
        (_, Fate::Lost) => {}
        (Op::Write { offset, data }, Fate::Kept) => put(bytes, *offset, data),
        (
            Op::Write { offset, data },
            Fate::Torn {
                sector_bytes,
                sectors,
            },
        ) => {
            for (i, chunk) in data.chunks(*sector_bytes).enumerate() {
                if sectors[i] {
                    put(bytes, offset + (i * sector_bytes) as u64, chunk);
                }
            }
        }
        (Op::SetLen(len), _) => bytes.resize(*len as usize, 0),
        (Op::Allocate { offset, len }, _) => {
            let end = (offset + len) as usize;
            if bytes.len() < end {
                bytes.resize(end, 0);
            }
        }
    }
}

/// Writes `data` at `offset`, extending the file (with zeros before `offset`) as a write past
/// the end does.
fn put(bytes: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let start = offset as usize;
    let end = start + data.len();
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[start..end].copy_from_slice(data);
}

/// Lays the parts of `data` (at `offset`) that `fate` kept over `bytes`, without growing it:
/// a dirty page of a mapping reaches the disk only inside the file's surviving size.
pub fn overlay(bytes: &mut [u8], offset: usize, data: &[u8], fate: &Fate) {
    let mut copy = |at: usize, part: &[u8]| {
        let end = (at + part.len()).min(bytes.len());
        if at < end {
            bytes[at..end].copy_from_slice(&part[..end - at]);
        }
    };
    match fate {
        Fate::Lost => {}
        Fate::Kept => copy(offset, data),
        Fate::Torn {
            sector_bytes,
            sectors,
        } => {
            for (i, part) in data.chunks(*sector_bytes).enumerate() {
                if sectors[i] {
                    copy(offset + i * sector_bytes, part);
                }
            }
        }
    }
}
