//! Shared file mappings (`mmap(2)`, `MAP_SHARED`) with a single-writer, many-reader protocol.
//!
//! A [`Mapping`] maps the first `map_len` bytes of a file once, at a fixed address, for its
//! whole life. `map_len` may exceed the file's size: the engine maps a segment at the largest
//! size it can grow to and extends the file (`fallocate`) as appends arrive. Two lengths split
//! the mapping:
//!
//! ```text
//! 0                    published                 backed_len                    map_len
//! |--- readable, immutable ---|--- writer's scratch ---|--- past the end of the file ---|
//! ```
//!
//! - `backed_len` (kept by the [`MapWriter`]): how many bytes the file backs. It was checked
//!   against the file's size (`fstat`) when it was set.
//! - `published` (an atomic in the [`Mapping`]): bytes below it are valid and never change
//!   again through this mapping. `published <= backed_len <= map_len` always holds.
//!
//! # Why safe code cannot race
//!
//! - There is one [`MapWriter`] per mapping (it is not `Clone`). It hands out `&mut [u8]` only
//!   over `[published, backed_len)` ([`MapWriter::unpublished_mut`]), borrowed from
//!   `&mut self`, and only [`MapWriter::publish`] (also `&mut self`, so no such slice is alive)
//!   moves `published` up. `published` never moves down.
//! - [`MapReader`]s hand out bytes only below a `published` they loaded; those bytes are never
//!   written again, so shared slices of them (held by [`Bytes`] for as long as callers like)
//!   never alias a mutable one.
//! - Publishing is a `Release` store of `published` and readers load it with `Acquire`, so a
//!   reader that sees a length also sees every byte the writer wrote below it.
//! - Every [`Bytes`] keeps the [`Mapping`] alive through an `Arc`, and `munmap` runs only when
//!   the last handle drops, so no slice outlives the memory it points into.
//!
//! # Why no access raises SIGBUS
//!
//! Touching a page of a `MAP_SHARED` mapping that lies wholly past the end of the file raises
//! `SIGBUS`, which kills the process; so does writing into a *hole* of a sparse file when the
//! filesystem cannot allocate the block (`ENOSPC`), and reading a page the disk fails to read
//! (`EIO`). This module never creates a slice beyond `backed_len` (writer) or `published`
//! (readers), and both were checked against the file's size when they were set. What it
//! cannot check is that the file stays that long. So callers keep one rule:
//!
//! > **Never shrink a mapped file below its published length** (nor, while the writer lives,
//! > below its `backed_len`).
//!
//! The engine truncates a segment only before mapping it (at recovery), or, when sealing it,
//! to exactly its published length after dropping the writer. Readers only ever touch bytes
//! below the published length, which therefore stay inside the file, so `SIGBUS` cannot
//! happen in normal operation. Bytes past the new end of the file may still be mapped, but
//! nothing holds a slice of them. Backed bytes should also be allocated (`fallocate`, as the
//! engine does), not mere holes from `ftruncate`, so writes cannot hit `ENOSPC` as a signal.
//!
//! Two more rules follow from "one writer": while a [`MapWriter`] lives, the file's bytes are
//! changed only through it (no `pwrite`, `io_uring` write or second writable mapping of the
//! same range), and [`MapReader::open_read_only`] is used only for files that no longer have
//! a writer (sealed segments), since it publishes the whole current file size.
//!
//! Other processes writing or truncating the file, and disk errors, are outside this model:
//! they can change bytes a [`Bytes`] shows as immutable, or kill the process with `SIGBUS`.
//! The engine owns its data directory exclusively.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use crate::errno::cvt;

/// One `MAP_SHARED` mapping of the first `map_len` bytes of a file.
///
/// `munmap` runs when the last [`MapWriter`], [`MapReader`] or [`Bytes`] of it drops. The
/// `Arc<File>` keeps the descriptor open so the writer can `fstat` it; the mapping itself would
/// survive closing it. `Send + Sync`.
pub struct Mapping {
    /// The start of the mapping (page-aligned), or dangling when `map_len == 0` (no `mmap`).
    ptr: NonNull<u8>,
    map_len: usize,
    /// Bytes below this are valid and never written again. Stored (`Release`) only by the
    /// unique [`MapWriter`], and only upwards.
    published: AtomicUsize,
    file: Arc<File>,
    writable: bool,
}

// SAFETY: the mapping is plain shared memory owned by this value (unmapped once, in `Drop`).
// Which thread touches which bytes is governed by the module's protocol (writer above
// `published`, readers below, ordered by Release/Acquire on `published`), not by the thread
// that created it.
unsafe impl Send for Mapping {}
// SAFETY: `&Mapping` only allows loading `published` (atomic) and reading bytes below it,
// which nobody writes any more; writes need the unique `&mut MapWriter`.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `map_len` bytes of `file` from offset 0, shared, read-write if `writable`.
    fn map(
        file: &Arc<File>,
        map_len: usize,
        writable: bool,
        published: usize,
    ) -> io::Result<Mapping> {
        let ptr = if map_len == 0 {
            NonNull::dangling()
        } else {
            let prot = if writable {
                libc::PROT_READ | libc::PROT_WRITE
            } else {
                libc::PROT_READ
            };
            let mut raw = ptr::null_mut();
            // `mmap` returns a pointer, so its failure value is mapped to the -1 `cvt` expects.
            cvt(|| {
                // SAFETY: a new mapping at an address the kernel picks (no MAP_FIXED), so no
                // existing memory of this process is replaced; `file` is an open descriptor,
                // kept open by the borrow for the call.
                raw = unsafe {
                    libc::mmap(
                        ptr::null_mut(),
                        map_len,
                        prot,
                        libc::MAP_SHARED,
                        file.as_raw_fd(),
                        0,
                    )
                };
                if raw == libc::MAP_FAILED { -1 } else { 0 }
            })?;
            NonNull::new(raw.cast()).expect("mmap without MAP_FIXED returned address 0")
        };
        Ok(Mapping {
            ptr,
            map_len,
            published: AtomicUsize::new(published),
            file: Arc::clone(file),
            writable,
        })
    }

    /// The mapped length in bytes, fixed for the mapping's life.
    pub fn map_len(&self) -> usize {
        self.map_len
    }

    /// Whether the mapping is read-write (from [`MapWriter::create`]).
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The mapped file.
    pub fn file(&self) -> &Arc<File> {
        &self.file
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.map_len == 0 {
            return;
        }
        // SAFETY: `ptr`/`map_len` are exactly what `mmap` returned and took; this is the last
        // handle (every slice of the mapping holds an `Arc` of it), so nothing points into the
        // memory any more; it is unmapped only here, once.
        let result = cvt(|| unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.map_len) });
        debug_assert!(result.is_ok(), "munmap failed: {result:?}");
    }
}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping")
            .field("map_len", &self.map_len)
            .field("published", &self.published.load(Ordering::Relaxed))
            .field("writable", &self.writable)
            .finish_non_exhaustive()
    }
}

/// The size of `file` as `usize` (`fstat`), saturating on 32-bit targets.
fn file_len(file: &File) -> io::Result<usize> {
    Ok(usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX))
}

/// The unique writer of a [`Mapping`] (not `Clone`): it alone writes, and only above the
/// published length.
pub struct MapWriter {
    map: Arc<Mapping>,
    /// `[0, backed_len)` lies inside the file (checked with `fstat` when set);
    /// `published <= backed_len <= map_len`.
    backed_len: usize,
}

impl MapWriter {
    /// Maps `map_len` bytes of `file` read-write and shared. The first `backed_len` bytes are
    /// backed by the file; the first `published` are already valid and readable.
    ///
    /// `file` must be open for reading and writing. `map_len == 0` maps nothing.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the file (`fstat`) is shorter than `backed_len`; otherwise what
    /// `fstat` or `mmap(2)` return (`EACCES` if `file` is not open read-write, `ENOMEM`, ...).
    ///
    /// # Panics
    ///
    /// Unless `published <= backed_len <= map_len`.
    pub fn create(
        file: &Arc<File>,
        map_len: usize,
        backed_len: usize,
        published: usize,
    ) -> io::Result<(MapWriter, MapReader)> {
        assert!(
            published <= backed_len && backed_len <= map_len,
            "MapWriter::create needs published ({published}) <= backed_len ({backed_len}) <= \
             map_len ({map_len})"
        );
        check_backed(file, backed_len)?;
        let map = Arc::new(Mapping::map(file, map_len, true, published)?);
        let reader = MapReader {
            map: Arc::clone(&map),
        };
        Ok((MapWriter { map, backed_len }, reader))
    }

    /// Records that the caller extended the file (`fallocate`) so its first `len` bytes are
    /// backed.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the file (`fstat`) is shorter than `len`; `backed_len` is unchanged.
    ///
    /// # Panics
    ///
    /// If `len` exceeds the mapped length or is below the published length.
    pub fn set_backed_len(&mut self, len: usize) -> io::Result<()> {
        assert!(
            len <= self.map.map_len,
            "set_backed_len({len}) exceeds the mapped length {}",
            self.map.map_len
        );
        assert!(
            len >= self.published(),
            "set_backed_len({len}) is below the published length {}",
            self.published()
        );
        check_backed(&self.map.file, len)?;
        self.backed_len = len;
        Ok(())
    }

    /// How many bytes from the start the file backs.
    pub fn backed_len(&self) -> usize {
        self.backed_len
    }

    /// How many bytes from the start readers may read.
    pub fn published(&self) -> usize {
        // Relaxed: this writer is the only one that stores `published`, so it reads its own
        // latest store.
        self.map.published.load(Ordering::Relaxed)
    }

    /// The mapped length in bytes.
    pub fn map_len(&self) -> usize {
        self.map.map_len
    }

    /// Mutable access to the unpublished bytes `[offset, offset + len)`. They hold whatever
    /// the file holds there (zeros after `fallocate`, or earlier unpublished writes).
    ///
    /// # Panics
    ///
    /// Unless `published() <= offset` and `offset + len <= backed_len()`.
    pub fn unpublished_mut(&mut self, offset: usize, len: usize) -> &mut [u8] {
        let published = self.published();
        let end = offset.checked_add(len);
        assert!(
            published <= offset && end.is_some_and(|end| end <= self.backed_len),
            "unpublished_mut({offset}, {len}) is outside the unpublished range [{published}, {})",
            self.backed_len
        );
        // SAFETY: `[offset, offset + len)` lies in `[published, backed_len)`: inside the
        // mapping (`backed_len <= map_len`) and inside the file (checked with `fstat`, and
        // callers never shrink the file below `backed_len` while the writer lives; module
        // docs). No reader reads at or above `published`, and
        // `&mut self` makes this the only writer's only live slice, so nothing aliases it.
        unsafe { std::slice::from_raw_parts_mut(self.map.ptr.as_ptr().add(offset), len) }
    }

    /// Makes `[0, len)` readable by every [`MapReader`] of this mapping.
    ///
    /// # Panics
    ///
    /// If `len < published()` (published bytes cannot be taken back) or `len > backed_len()`.
    pub fn publish(&mut self, len: usize) {
        let published = self.published();
        assert!(
            published <= len && len <= self.backed_len,
            "publish({len}) is outside [published {published}, backed_len {}]",
            self.backed_len
        );
        // Release: pairs with the readers' Acquire load, so a reader that sees `len` also sees
        // every write made through `unpublished_mut` before this call.
        self.map.published.store(len, Ordering::Release);
    }

    /// A new reader of this mapping.
    pub fn reader(&self) -> MapReader {
        MapReader {
            map: Arc::clone(&self.map),
        }
    }
}

impl fmt::Debug for MapWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapWriter")
            .field("map_len", &self.map.map_len)
            .field("backed_len", &self.backed_len)
            .field("published", &self.published())
            .finish()
    }
}

/// Fails with `InvalidInput` unless `file` is at least `len` bytes long (`fstat`).
fn check_backed(file: &File, len: usize) -> io::Result<()> {
    let file_len = file_len(file)?;
    if file_len < len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the file is {file_len} bytes long, shorter than the {len} bytes the mapping \
                 was told are backed; extend it (fallocate) first"
            ),
        ));
    }
    Ok(())
}

/// A reader of a [`Mapping`]: sees the bytes below the published length. `Clone`, `Send`,
/// `Sync`.
#[derive(Clone)]
pub struct MapReader {
    map: Arc<Mapping>,
}

impl MapReader {
    /// Maps all of `file` read-only at its current size, all of it published. For files that
    /// no longer have a writer (sealed segments). A zero-length file gives an empty reader
    /// without calling `mmap`.
    ///
    /// # Errors
    ///
    /// What `fstat` or `mmap(2)` return (`EACCES` if `file` is not open for reading, ...).
    pub fn open_read_only(file: &Arc<File>) -> io::Result<MapReader> {
        let len = file_len(file)?;
        let map = Mapping::map(file, len, false, len)?;
        Ok(MapReader { map: Arc::new(map) })
    }

    /// How many bytes from the start may be read. Only grows.
    pub fn published(&self) -> usize {
        // Acquire: pairs with `MapWriter::publish`'s Release store, so the bytes below the
        // loaded length are the ones the writer wrote (see `bytes`).
        self.map.published.load(Ordering::Acquire)
    }

    /// The mapped length in bytes.
    pub fn map_len(&self) -> usize {
        self.map.map_len
    }

    /// The bytes `[offset, offset + len)`, without copying, if they lie below the published
    /// length; `None` otherwise. The [`Bytes`] keeps the mapping alive.
    pub fn bytes(&self, offset: usize, len: usize) -> Option<Bytes> {
        let end = offset.checked_add(len)?;
        if end > self.published() {
            return None;
        }
        Some(Bytes::from_owner(MappedRange {
            map: Arc::clone(&self.map),
            offset,
            len,
        }))
    }

    /// Writes the dirty pages covering `[offset, offset + len)` back to the file and waits
    /// (`msync(MS_SYNC)`), making them durable. The range is widened to whole pages and
    /// clipped to the mapping; an empty range does nothing.
    ///
    /// # Errors
    ///
    /// What `msync(2)` returns (`EIO` if writeback failed: the data may be lost, do not retry
    /// and assume it durable).
    pub fn sync(&self, offset: usize, len: usize) -> io::Result<()> {
        let page = page_size();
        let map_end = self.map.map_len.next_multiple_of(page);
        let start = (offset / page * page).min(map_end);
        let end = offset
            .saturating_add(len)
            .checked_next_multiple_of(page)
            .unwrap_or(usize::MAX)
            .min(map_end);
        if len == 0 || start >= end {
            return Ok(());
        }
        // `wrapping_add`: the address is only handed to the kernel, never dereferenced.
        let addr = self.map.ptr.as_ptr().wrapping_add(start);
        // SAFETY: `[start, end)` is page-aligned and inside the mapping's pages (`end` is
        // clipped to `map_len` rounded up to a page, which the kernel mapped whole); `msync`
        // only writes dirty pages back to the file and changes no memory of this process.
        cvt(|| unsafe { libc::msync(addr.cast(), end - start, libc::MS_SYNC) })?;
        Ok(())
    }
}

impl fmt::Debug for MapReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapReader")
            .field("map_len", &self.map.map_len)
            .field("published", &self.published())
            .finish()
    }
}

/// The owner behind a [`Bytes`] from [`MapReader::bytes`]: the mapping and one published
/// range of it. `as_ref` shows only that range, never the whole mapping, parts of which may
/// lie past the end of the file.
struct MappedRange {
    map: Arc<Mapping>,
    offset: usize,
    len: usize,
}

impl AsRef<[u8]> for MappedRange {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `offset + len` was at most `published` when this was built (in
        // `MapReader::bytes`, after an Acquire load that makes the writer's bytes visible);
        // `published` only grows and the writer never writes below it, so the bytes are
        // initialized and immutable. They lie inside the mapping (`published <= map_len`),
        // which `self.map` keeps mapped, and inside the file by the callers' rule (never
        // shrink a mapped file below its published length; module docs).
        unsafe { std::slice::from_raw_parts(self.map.ptr.as_ptr().add(self.offset), self.len) }
    }
}

/// The size of a memory page (`sysconf(_SC_PAGESIZE)`).
fn page_size() -> usize {
    // SAFETY: `sysconf` only reads a system value.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).expect("sysconf(_SC_PAGESIZE) failed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    const fn assert_send_sync<T: Send + Sync>() {}
    const _: () = assert_send_sync::<Mapping>();
    const _: () = assert_send_sync::<MapWriter>();
    const _: () = assert_send_sync::<MapReader>();

    /// A read-write temporary file of `len` bytes, allocated with `fallocate`.
    fn file_of(len: u64) -> Arc<File> {
        let file = tempfile::tempfile_in("/tmp").expect("create a temp file in /tmp");
        if len > 0 {
            crate::file::fallocate(&file, 0, len).expect("fallocate");
        }
        Arc::new(file)
    }

    #[test]
    fn published_bytes_match_the_file() {
        let file = file_of(8192);
        let (mut writer, reader) = MapWriter::create(&file, 65536, 8192, 0).unwrap();
        writer.unpublished_mut(0, 5).copy_from_slice(b"hello");
        writer.unpublished_mut(5, 6).copy_from_slice(b" world");
        writer.publish(11);
        assert_eq!(reader.published(), 11);
        assert_eq!(&reader.bytes(0, 11).unwrap()[..], b"hello world");
        assert_eq!(&reader.bytes(6, 5).unwrap()[..], b"world");
        let mut read_back = [0; 11];
        file.read_exact_at(&mut read_back, 0).unwrap();
        assert_eq!(&read_back, b"hello world");
    }

    #[test]
    fn unpublished_bytes_are_invisible() {
        let file = file_of(4096);
        let (mut writer, reader) = MapWriter::create(&file, 4096, 4096, 0).unwrap();
        writer.unpublished_mut(0, 8).copy_from_slice(b"12345678");
        assert!(reader.bytes(0, 1).is_none());
        writer.publish(4);
        assert_eq!(&reader.bytes(0, 4).unwrap()[..], b"1234");
        assert!(reader.bytes(0, 5).is_none());
        assert!(reader.bytes(4, 1).is_none());
        assert!(reader.bytes(usize::MAX, 2).is_none());
        assert_eq!(reader.bytes(4, 0).unwrap().len(), 0);
    }

    #[test]
    fn create_starts_with_the_published_prefix() {
        let file = file_of(4096);
        file.write_all_at(b"persisted", 0).unwrap();
        let (writer, reader) = MapWriter::create(&file, 8192, 4096, 9).unwrap();
        assert_eq!((writer.published(), writer.backed_len()), (9, 4096));
        assert_eq!(&reader.bytes(0, 9).unwrap()[..], b"persisted");
    }

    #[test]
    fn create_rejects_a_file_shorter_than_backed_len() {
        let file = file_of(4096);
        let err = MapWriter::create(&file, 8192, 8192, 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("fallocate"), "{err}");
    }

    #[test]
    #[should_panic(expected = "published (5) <= backed_len (4)")]
    fn create_panics_when_published_exceeds_backed() {
        let _ = MapWriter::create(&file_of(4096), 4096, 4, 5);
    }

    #[test]
    fn set_backed_len_follows_the_file() {
        let file = file_of(4096);
        let (mut writer, _reader) = MapWriter::create(&file, 16384, 4096, 0).unwrap();
        let err = writer.set_backed_len(8192).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(writer.backed_len(), 4096);
        crate::file::fallocate(&file, 4096, 4096).unwrap();
        writer.set_backed_len(8192).unwrap();
        writer.unpublished_mut(8000, 192).fill(7);
        writer.publish(8192);
    }

    #[test]
    #[should_panic(expected = "exceeds the mapped length")]
    fn set_backed_len_beyond_the_mapping_panics() {
        let file = file_of(8192);
        let (mut writer, _reader) = MapWriter::create(&file, 4096, 4096, 0).unwrap();
        let _ = writer.set_backed_len(8192);
    }

    #[test]
    #[should_panic(expected = "outside the unpublished range")]
    fn unpublished_mut_below_published_panics() {
        let (mut writer, _reader) = MapWriter::create(&file_of(4096), 4096, 4096, 0).unwrap();
        writer.publish(100);
        let _ = writer.unpublished_mut(99, 2);
    }

    #[test]
    #[should_panic(expected = "outside the unpublished range")]
    fn unpublished_mut_past_backed_len_panics() {
        let (mut writer, _reader) = MapWriter::create(&file_of(4096), 8192, 4096, 0).unwrap();
        let _ = writer.unpublished_mut(4000, 97);
    }

    #[test]
    #[should_panic(expected = "outside the unpublished range")]
    fn unpublished_mut_overflowing_end_panics() {
        let (mut writer, _reader) = MapWriter::create(&file_of(4096), 4096, 4096, 0).unwrap();
        let _ = writer.unpublished_mut(1, usize::MAX);
    }

    #[test]
    #[should_panic(expected = "publish(10) is outside")]
    fn publish_backwards_panics() {
        let (mut writer, _reader) = MapWriter::create(&file_of(4096), 4096, 4096, 0).unwrap();
        writer.publish(20);
        writer.publish(10);
    }

    #[test]
    #[should_panic(expected = "publish(4097) is outside")]
    fn publish_past_backed_len_panics() {
        let (mut writer, _reader) = MapWriter::create(&file_of(4096), 8192, 4096, 0).unwrap();
        writer.publish(4097);
    }

    #[test]
    fn bytes_outlive_writer_and_reader() {
        let file = file_of(4096);
        let (mut writer, reader) = MapWriter::create(&file, 4096, 4096, 0).unwrap();
        writer.unpublished_mut(0, 4).copy_from_slice(b"keep");
        writer.publish(4);
        let bytes = reader.bytes(0, 4).unwrap();
        let clone = reader.clone().bytes(1, 3).unwrap();
        drop((writer, reader, file));
        assert_eq!(&bytes[..], b"keep");
        assert_eq!(&clone[..], b"eep");
        let sliced = bytes.slice(2..);
        drop(bytes);
        assert_eq!(&sliced[..], b"ep");
    }

    #[test]
    fn read_only_open_publishes_the_whole_file() {
        let file = file_of(0);
        file.write_all_at(b"sealed segment", 0).unwrap();
        let reader = MapReader::open_read_only(&file).unwrap();
        assert_eq!((reader.published(), reader.map_len()), (14, 14));
        assert_eq!(&reader.bytes(0, 14).unwrap()[..], b"sealed segment");
        assert!(reader.bytes(0, 15).is_none());
        reader.sync(0, 14).unwrap();
    }

    #[test]
    fn read_only_open_of_an_empty_file_maps_nothing() {
        let reader = MapReader::open_read_only(&file_of(0)).unwrap();
        assert_eq!((reader.published(), reader.map_len()), (0, 0));
        assert_eq!(reader.bytes(0, 0).unwrap().len(), 0);
        assert!(reader.bytes(0, 1).is_none());
        reader.sync(0, 100).unwrap();
    }

    #[test]
    fn zero_length_writable_mapping() {
        let (mut writer, reader) = MapWriter::create(&file_of(0), 0, 0, 0).unwrap();
        assert!(writer.unpublished_mut(0, 0).is_empty());
        writer.publish(0);
        assert_eq!(reader.bytes(0, 0).unwrap().len(), 0);
        reader.sync(0, 0).unwrap();
    }

    #[test]
    fn read_only_file_cannot_be_mapped_writable() {
        let dir = tempfile::tempdir_in("/tmp").unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [0; 4096]).unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        let err = MapWriter::create(&file, 4096, 4096, 0).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EACCES));
        MapReader::open_read_only(&file).unwrap();
    }

    #[test]
    fn sync_clips_and_aligns() {
        let file = file_of(12288);
        let (mut writer, reader) = MapWriter::create(&file, 1 << 20, 12288, 0).unwrap();
        writer.unpublished_mut(0, 12288).fill(0xAB);
        writer.publish(12288);
        reader.sync(0, 12288).unwrap();
        reader.sync(4097, 1).unwrap();
        reader.sync(100, 0).unwrap();
        // Past the file's end but inside the mapping, and past the mapping: clipped, no error.
        reader.sync(8192, 1 << 21).unwrap();
        reader.sync(usize::MAX - 10, 100).unwrap();
    }

    #[test]
    fn debug_shows_lengths() {
        let (writer, reader) = MapWriter::create(&file_of(4096), 8192, 4096, 3).unwrap();
        let text = format!("{writer:?} {reader:?} {:?}", writer.map);
        assert!(
            text.contains("backed_len: 4096") && text.contains("published: 3"),
            "{text}"
        );
    }
}
