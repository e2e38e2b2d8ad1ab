//! Short reads and writes, looped to completion in one place.
//!
//! A read or a write may complete with fewer bytes than it asked for: `pread` and io_uring both
//! say so in their result, and a storage wrapper may do it on purpose. Nothing in the engine
//! takes such a result at its word:
//!
//! - Every [`Storage`] read continues until the range is full or a read returns 0 bytes (the
//!   end of the file): [`read_until`] is the loop, the portable and io_uring paths both use it.
//! - Every caller of [`Storage::read`] goes through [`read_at_least`] with the number of bytes
//!   it knows the file holds there: it continues whatever the storage left short, and fails
//!   with `UnexpectedEof` if the file ends before them, so a short read is never taken for the
//!   end of the data (recovery would otherwise cut acknowledged batches).
//! - A write on the ring that completes short is submitted again for its rest
//!   ([`WriteProgress`]); a completion of 0 bytes, or one that makes no progress, is an error
//!   and the writer poisons the log. A write that a storage reports as finished but short
//!   ([`super::PendingWrite::done`]) is an error too: that storage gave up on it.
//!
//! A continuation starts at the end of what completed, rounded down to the storage's alignment:
//! with O_DIRECT the file offset, the length and the memory must stay aligned, and reading or
//! writing the few bytes in between again is harmless (they are the same bytes).

use std::fs::File;
use std::io;
use std::sync::Arc;

use ringlog_sys::AlignedBuf;

use super::Storage;

/// Reads `[offset, offset + len)` into `buf[..len]`, where `read_from(buf, start)` reads
/// `[offset + start, offset + len)` into `buf[start..len]` (keeping `buf[..start]`) and returns
/// how many bytes it read. Calls it from `start` 0, then again after every short read, until at
/// least `need` bytes are in (`need <= len`) or a read gets no further than the one before:
/// the end of the file (a read of 0 bytes, or, with O_DIRECT, the same partial last page read
/// again from its aligned start). `start` is always a multiple of `align`. Returns the bytes
/// read, with `buf.len()` set to them; `EINTR` is retried.
///
/// # Errors
/// The first error of `read_from` other than `EINTR`.
///
/// # Panics
/// If `need > len` or `align` is 0.
pub(crate) fn read_until(
    mut buf: AlignedBuf,
    len: usize,
    need: usize,
    align: usize,
    mut read_from: impl FnMut(AlignedBuf, usize) -> (io::Result<usize>, AlignedBuf),
) -> (io::Result<usize>, AlignedBuf) {
    assert!(need <= len, "a read of {len} bytes cannot need {need}");
    assert!(align > 0, "an alignment of 0");
    let mut done = 0;
    let result = loop {
        if done >= need {
            break Ok(done);
        }
        let start = done / align * align;
        let (result, back) = read_from(buf, start);
        buf = back;
        match result {
            Ok(n) if start + n > done => done = (start + n).min(len),
            // No further than before: the file ends there. (Whether that is too early is for
            // the caller to say, who knows what the file holds: `read_at_least`.)
            Ok(_) => break Ok(done),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    // A storage whose submission failed gives back a fresh buffer, maybe smaller.
    buf.set_len(done.min(buf.capacity()));
    (result, buf)
}

/// Reads `[offset, offset + len)` of `file` into `buf[..len]` through `storage`, continuing
/// after short reads until at least `need` bytes are in, the bytes the caller knows the file
/// holds there (`need <= len`; a direct read asks for whole pages, past the end of the data).
/// Returns the bytes read (at least `need`), with `buf.len()` set to them.
///
/// # Errors
/// The storage's error; `UnexpectedEof`, saying how many bytes came back, when the storage
/// reports the end of the file before `need` bytes.
pub(crate) fn read_at_least(
    storage: &dyn Storage,
    file: &Arc<File>,
    buf: AlignedBuf,
    offset: u64,
    len: usize,
    need: usize,
) -> (io::Result<usize>, AlignedBuf) {
    let align = storage.alignment().max(1);
    let (result, buf) = read_until(buf, len, need, align, |buf, start| {
        if start == 0 {
            return storage.read(file, buf, offset, len);
        }
        read_rest(storage, file, buf, (offset, len, start))
    });
    check_enough(result, need, offset, buf)
}

/// Continues a read of `[offset, offset + len)` into `buf` whose first `start` bytes are in.
/// The seam reads into a buffer's start: this reads the rest into a scratch buffer and copies
/// it over. Only short reads get here, which the kernel gives at the end of a file.
pub(super) fn read_rest(
    storage: &dyn Storage,
    file: &Arc<File>,
    mut buf: AlignedBuf,
    (offset, len, start): (u64, usize, usize),
) -> (io::Result<usize>, AlignedBuf) {
    let rest = len - start;
    let scratch = AlignedBuf::new(rest, buf.align());
    let (result, scratch) = storage.read(file, scratch, offset + start as u64, rest);
    let result = result.map(|n| {
        let n = n.min(rest).min(scratch.len());
        buf.full_mut()[start..start + n].copy_from_slice(&scratch.as_slice()[..n]);
        n
    });
    (result, buf)
}

/// `result`, or `UnexpectedEof` when it holds fewer than the `need` bytes the file holds at
/// `offset`.
pub(super) fn check_enough(
    result: io::Result<usize>,
    need: usize,
    offset: u64,
    buf: AlignedBuf,
) -> (io::Result<usize>, AlignedBuf) {
    match result {
        Ok(read) if read < need => {
            let error = io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the file ended after {read} of the {need} bytes it holds at byte {offset} \
                     (the storage returned end of file early)"
                ),
            );
            (Err(error), buf)
        }
        result => (result, buf),
    }
}

/// How far a write of `len` bytes at file offset `offset` has got: the part in flight starts
/// at byte [`WriteProgress::from`], and bytes below `done` are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteProgress {
    offset: u64,
    len: usize,
    align: usize,
    done: usize,
    from: usize,
}

impl WriteProgress {
    /// A write of `len` bytes at `offset`, submitted whole; continuations stay multiples of
    /// `align`.
    ///
    /// # Panics
    /// If `align` is 0.
    pub(crate) fn new(offset: u64, len: usize, align: usize) -> Self {
        assert!(align > 0, "an alignment of 0");
        WriteProgress {
            offset,
            len,
            align,
            done: 0,
            from: 0,
        }
    }

    /// Where the part in flight starts, in bytes from the start of the write.
    pub(crate) fn from(&self) -> usize {
        self.from
    }

    /// The file offset of byte `from` of the write.
    pub(crate) fn offset_of(&self, from: usize) -> u64 {
        self.offset + from as u64
    }

    /// Takes the result of the part in flight: `Ok(None)` when the whole write is done,
    /// `Ok(Some(from))` when the rest must be submitted from byte `from` (after a short
    /// completion or `EINTR`).
    ///
    /// # Errors
    /// The write's error; `WriteZero` for a completion of 0 bytes or one that ends before
    /// bytes already written (no progress).
    pub(crate) fn on_completion(&mut self, result: io::Result<usize>) -> io::Result<Option<usize>> {
        let written = match result {
            Ok(written) => written,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(Some(self.from)),
            Err(e) => return Err(e),
        };
        let end = (self.from + written).min(self.len);
        if written == 0 || end <= self.done {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!(
                    "short write: {written} of {} bytes at file offset {}, after {} of {} were \
                     written",
                    self.len - self.from,
                    self.offset + self.from as u64,
                    self.done,
                    self.len
                ),
            ));
        }
        self.done = end;
        if self.done == self.len {
            return Ok(None);
        }
        self.from = self.done / self.align * self.align;
        Ok(Some(self.from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of a pretend file: byte `i` is `i % 251`.
    fn file_bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    /// `read_until` over a pretend file of `file_len` bytes at `offset` whose reads return at
    /// most `cap(asked)` bytes, as a storage that completes short.
    fn read_with(
        file_len: usize,
        offset: usize,
        len: usize,
        need: usize,
        align: usize,
        cap: impl Fn(usize) -> usize,
    ) -> (io::Result<usize>, AlignedBuf, usize) {
        let file = file_bytes(file_len);
        let mut calls = 0;
        let (result, buf) = read_until(
            AlignedBuf::new(len, 4096),
            len,
            need,
            align,
            |mut buf, start| {
                calls += 1;
                let at = offset + start;
                let available = file.len().saturating_sub(at).min(len - start);
                let n = available.min(cap(len - start));
                buf.full_mut()[start..start + n].copy_from_slice(&file[at..at + n]);
                (Ok(n), buf)
            },
        );
        (result, buf, calls)
    }

    #[test]
    fn halved_reads_are_continued_until_the_range_is_full() {
        let (result, buf, calls) = read_with(100_000, 4096, 65_536, 65_536, 4096, |asked| {
            (asked / 2 / 4096 * 4096).max(4096)
        });
        assert_eq!(result.unwrap(), 65_536);
        assert_eq!(buf.as_slice(), &file_bytes(100_000)[4096..4096 + 65_536]);
        assert!(calls > 2, "{calls} reads");
    }

    #[test]
    fn unaligned_short_reads_continue_from_an_aligned_start() {
        // Every read stops 100 bytes past a 512-byte boundary: continuations start 100 bytes
        // back and still make progress.
        let (result, buf, _) = read_with(10_000, 0, 8192, 8192, 512, |asked| {
            if asked > 612 { 612 } else { asked }
        });
        assert_eq!(result.unwrap(), 8192);
        assert_eq!(buf.as_slice(), &file_bytes(10_000)[..8192]);
    }

    #[test]
    fn a_read_stops_at_the_end_of_the_file() {
        let (result, buf, calls) = read_with(5000, 0, 8192, 8192, 1, |asked| asked / 2 + 1);
        assert_eq!(result.unwrap(), 5000);
        assert_eq!(buf.as_slice(), &file_bytes(5000)[..]);
        assert!(calls >= 3, "continued to the end, then one read of 0 bytes");
    }

    #[test]
    fn a_read_stops_once_it_has_what_it_needs() {
        let (result, _, calls) = read_with(100_000, 0, 8192, 4096, 4096, |_| 4096);
        assert_eq!(result.unwrap(), 4096);
        assert_eq!(calls, 1);
    }

    #[test]
    fn a_direct_read_ends_at_a_partial_last_page() {
        // The file ends 2947 bytes into a page: the continuation from the page's start reads
        // the same bytes again, which is the end of the file, not an error.
        let (result, buf, calls) = read_with(4096 + 2947, 0, 8192, 8192, 4096, |asked| asked);
        assert_eq!(result.unwrap(), 4096 + 2947);
        assert_eq!(buf.as_slice(), &file_bytes(4096 + 2947)[..]);
        assert_eq!(calls, 2);
    }

    #[test]
    fn a_read_that_gets_no_further_ends() {
        let (result, _, calls) = read_with(100_000, 0, 8192, 8192, 4096, |_| 100);
        assert_eq!(
            result.unwrap(),
            100,
            "short: read_at_least makes that an error"
        );
        assert_eq!(calls, 2);
    }

    /// Writes `data` at `offset` into a pretend file through `WriteProgress`, each completion
    /// taking at most `cap(asked)` bytes; returns the file and the number of submissions.
    fn write_with(
        data: &[u8],
        offset: usize,
        align: usize,
        cap: impl Fn(usize) -> usize,
    ) -> (io::Result<()>, Vec<u8>, usize) {
        let mut file = vec![0u8; offset + data.len()];
        let mut progress = WriteProgress::new(offset as u64, data.len(), align);
        let mut submissions = 0;
        let result = loop {
            submissions += 1;
            let part = &data[progress.from()..];
            let n = cap(part.len()).min(part.len());
            let at = offset + progress.from();
            file[at..at + n].copy_from_slice(&part[..n]);
            match progress.on_completion(Ok(n)) {
                Ok(None) => break Ok(()),
                Ok(Some(from)) => assert_eq!(from, progress.from()),
                Err(e) => break Err(e),
            }
        };
        (result, file, submissions)
    }

    #[test]
    fn halved_writes_are_continued_until_every_byte_is_written() {
        let data = file_bytes(64 * 1024);
        let (result, file, submissions) = write_with(&data, 8192, 4096, |asked| {
            (asked / 2 / 4096 * 4096).max(4096)
        });
        result.unwrap();
        assert_eq!(&file[8192..], &data[..]);
        assert!(submissions > 2, "{submissions} submissions");
    }

    #[test]
    fn unaligned_short_writes_continue_from_an_aligned_start() {
        let data = file_bytes(8192);
        let (result, file, _) = write_with(&data, 0, 512, |asked| asked.min(700));
        result.unwrap();
        assert_eq!(file, data);
    }

    #[test]
    fn a_write_of_nothing_is_an_error() {
        let data = file_bytes(4096);
        let (result, _, submissions) = write_with(&data, 0, 4096, |_| 0);
        let error = result.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WriteZero);
        assert!(error.to_string().contains("short write"), "{error}");
        assert_eq!(submissions, 1);
    }

    #[test]
    fn a_write_that_makes_no_progress_is_an_error() {
        // 100 bytes past each 4096-byte boundary: the continuation starts 100 bytes back and
        // writes only those again.
        let data = file_bytes(8192);
        let (result, _, _) = write_with(&data, 0, 4096, |_| 100);
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::WriteZero);
    }

    #[test]
    fn an_interrupted_write_is_submitted_again() {
        let mut progress = WriteProgress::new(0, 4096, 4096);
        let interrupted = io::Error::from(io::ErrorKind::Interrupted);
        assert_eq!(progress.on_completion(Err(interrupted)).unwrap(), Some(0));
        assert_eq!(progress.on_completion(Ok(4096)).unwrap(), None);
    }
}
