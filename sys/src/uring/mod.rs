//! [`Ring`]: one `io_uring` shared by many threads, for `O_DIRECT` reads, writes and syncs.
//!
//! # Buffer ownership (why safe code cannot corrupt memory)
//!
//! A buffer handed to the kernel is owned by the operation until its completion is reaped:
//!
//! 1. `submit_*` takes the buffer **by value** and moves it, together with a clone of the
//!    `Arc<File>` that keeps the descriptor open, into the ring's in-flight table, in a slot
//!    whose key becomes the SQE's `user_data`. Only then is the SQE pushed. The pointer in the
//!    SQE stays valid because the bytes live on the heap and do not move with the value
//!    ([`IoBuf`]'s contract; [`AlignedBuf`] for reads).
//! 2. The caller gets a [`Ticket`], which only *names* the slot. It holds no reference to the
//!    buffer, so nothing can read, write or free the buffer through it.
//! 3. The slot leaves the in-flight state only when the CQE carrying its key is reaped. Only
//!    then can [`Ring::wait`] or [`Ring::try_wait`] move the buffer back out (downcasting it to
//!    the ticket's type).
//! 4. Dropping a ticket early **detaches** the operation: the slot is marked, and the buffer
//!    and file handle are dropped when the CQE is reaped, never before.
//! 5. `Drop for Ring` blocks until every in-flight operation has completed, before the ring
//!    and the table can be freed. If the ring breaks so that completions can no longer be
//!    reaped, the table is leaked instead: a leak is safe, a premature free is not.
//!
//! `mem::forget` of a ticket only leaks the slot; it cannot free the buffer early.
//!
//! # Concurrency
//!
//! - **Submission queue**: `IoUring::submission_shared` is only called while holding
//!   `Ring::sq_lock`, so at most one `SubmissionQueue` exists at a time. Submitting holds that
//!   lock only to push and to call a non-waiting `io_uring_enter`, so it never waits behind a
//!   thread blocked for completions.
//! - **Completion queue**: `IoUring::completion_shared` is only called while holding the table
//!   lock (`Shared::state`), so at most one `CompletionQueue` exists at a time.
//! - **Leader/follower reaping**: at most one thread, the *reaper*, blocks in `io_uring_enter`
//!   waiting for at least one completion, without holding any lock. When it returns, it takes
//!   the table lock, drains **all** CQEs into the table, gives up the role and notifies the
//!   condition variable; then it re-checks its own operation and, if still pending, competes
//!   for the role again. Other waiters sleep on the condition variable.
//! - **No lost wakeups**: a waiter checks "is my operation done?" and "is there a reaper?"
//!   under the table lock and sleeps atomically with releasing it; the reaper drains and
//!   clears its flag under the same lock and notifies afterwards. So a waiter whose CQE was
//!   drained by another thread is either told by the check or woken by the notification.
//! - **No stolen CQEs**: while a reaper is active, no other thread drains the completion
//!   queue (`try_wait` and `in_flight` drain only when no reaper is active). Otherwise another
//!   thread could consume the very CQE the reaper is sleeping for, and the reaper would sleep
//!   until some unrelated completion, possibly forever.
//! - **No CQ overflow**: at most `cq_entries` operations are in flight at once; `submit_*`
//!   waits (taking part in reaping) while the table is full.
//!
//! Lock order: the table lock and `sq_lock` are never held together. No thread holds a lock
//! while blocked in the kernel waiting for completions.

mod error;
mod io_buf;
mod table;

pub use error::UringError;
pub use io_buf::IoBuf;

use std::fmt;
use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::unix::io::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use io_uring::{IoUring, Probe, opcode, squeue, types};

use crate::buf::AlignedBuf;
use table::{OpKind, Owner, Shared, Table};

/// Which flush [`Ring::submit_sync`] performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// `fdatasync`: the data and the metadata needed to read it back.
    Data,
    /// `fsync`: the data and all metadata.
    All,
}

/// An `io_uring` instance shared by many threads (`Send + Sync`).
///
/// Set up without `SQPOLL` or `IOPOLL`. See the [module docs](self) for the ownership and
/// concurrency argument.
pub struct Ring {
    uring: IoUring,
    /// Guards the only `SubmissionQueue` borrow of `uring`.
    sq_lock: Mutex<()>,
    shared: Arc<Shared>,
    /// The most operations in flight at once: the completion queue's size, so it cannot
    /// overflow.
    in_flight_max: usize,
}

/// Proof of an operation in flight, redeemed with [`Ring::wait`] or [`Ring::try_wait`].
///
/// Dropping it without waiting **detaches** the operation: its buffer and file handle are freed
/// only when its completion is reaped, never before.
#[must_use = "dropping a Ticket detaches the operation and discards its result"]
pub struct Ticket<B> {
    shared: Arc<Shared>,
    key: usize,
    /// False once `wait` took the result: the slot is then already free.
    armed: bool,
    _buf: PhantomData<fn() -> B>,
}

impl<B> Drop for Ticket<B> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.lock().detach(self.key);
        }
    }
}

impl<B> fmt::Debug for Ticket<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("in_flight_max", &self.in_flight_max)
            .finish_non_exhaustive()
    }
}

/// Opcodes ringlog needs, with the names [`UringError::MissingOpcodes`] reports.
const REQUIRED_OPCODES: [(u8, &str); 3] = [
    (opcode::Read::CODE, "Read"),
    (opcode::Write::CODE, "Write"),
    (opcode::Fsync::CODE, "Fsync"),
];

impl Ring {
    /// Sets up an `io_uring` with `entries` submission queue entries (rounded up to a power of
    /// two by the kernel; the completion queue gets twice as many) and checks that the kernel
    /// supports the Read, Write and Fsync opcodes.
    ///
    /// # Errors
    ///
    /// [`UringError::DisabledBySysctl`], [`UringError::BlockedBySeccomp`] or
    /// [`UringError::NotSupported`] when the kernel refuses `io_uring`;
    /// [`UringError::MissingOpcodes`] when it is too old; [`UringError::Setup`] otherwise
    /// (e.g. `entries` is 0 or too large).
    pub fn new(entries: u32) -> Result<Ring, UringError> {
        let uring = IoUring::new(entries).map_err(UringError::from_setup)?;
        let mut probe = Probe::new();
        uring
            .submitter()
            .register_probe(&mut probe)
            .map_err(UringError::Setup)?;
        let names: Vec<&'static str> = REQUIRED_OPCODES
            .iter()
            .filter(|&&(code, _)| !probe.is_supported(code))
            .map(|&(_, name)| name)
            .collect();
        if !names.is_empty() {
            return Err(UringError::MissingOpcodes { names });
        }
        let in_flight_max = uring.params().cq_entries() as usize;
        Ok(Ring {
            uring,
            sq_lock: Mutex::new(()),
            shared: Arc::new(Shared::new()),
            in_flight_max,
        })
    }

    /// Submits a write of the whole of `buf` to `file` at `offset`. The ring owns `buf` until
    /// the write completes; [`Ring::wait`] gives it back.
    ///
    /// With `O_DIRECT`, the address, length and offset must be aligned as
    /// [`crate::direct::dio_alignment`] says; otherwise the completion carries `EINVAL`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `buf` is longer than `u32::MAX` bytes (nothing was submitted). An
    /// error of `io_uring_enter` (the ring is broken); the operation is then detached and may
    /// still be carried out by a later submission, so the caller must treat the write's outcome
    /// as unknown.
    ///
    /// # Panics
    ///
    /// If the ring breaks while waiting for room in a full in-flight table.
    pub fn submit_write<B: IoBuf>(
        &self,
        file: &Arc<File>,
        buf: B,
        offset: u64,
    ) -> io::Result<Ticket<B>> {
        let len = u32::try_from(buf.io_len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "an io_uring write is limited to u32::MAX bytes",
            )
        })?;
        let entry = opcode::Write::new(types::Fd(file.as_raw_fd()), buf.io_ptr(), len)
            .offset(offset)
            .build();
        self.submit(file, Box::new(buf), OpKind::Other, entry)
    }

    /// Submits a read of up to `len` bytes of `file` at `offset` into `buf[0..len]`. When it
    /// completes, `buf.len()` is the number of bytes read, which may be short: 0 at end of file,
    /// and fewer than asked wherever the kernel stops early. Callers that need the whole range
    /// continue with [`Ring::submit_read_from`].
    ///
    /// # Errors
    ///
    /// An error of `io_uring_enter`, as for [`Ring::submit_write`].
    ///
    /// # Panics
    ///
    /// If `len > buf.capacity()` or `len > u32::MAX`, or if the ring breaks while waiting for
    /// room in a full in-flight table.
    pub fn submit_read(
        &self,
        file: &Arc<File>,
        buf: AlignedBuf,
        offset: u64,
        len: usize,
    ) -> io::Result<Ticket<AlignedBuf>> {
        self.submit_read_from(file, buf, 0, offset, len)
    }

    /// Continues a read of `[offset, offset + len)` of `file` into `buf[0..len]` whose first
    /// `start` bytes are already in `buf`: reads up to `len - start` bytes at `offset + start`
    /// into `buf[start..len]` and leaves `buf[..start]` as it is. When it completes, `buf.len()`
    /// is `start` plus the bytes read (short, or 0 at end of file, as for
    /// [`Ring::submit_read`]).
    ///
    /// With `O_DIRECT`, `start` must keep the address and the file offset aligned as
    /// [`crate::direct::dio_alignment`] says; otherwise the completion carries `EINVAL`.
    ///
    /// # Errors
    ///
    /// An error of `io_uring_enter`, as for [`Ring::submit_write`].
    ///
    /// # Panics
    ///
    /// If `start > len`, `len > buf.capacity()` or `len - start > u32::MAX`, or if the ring
    /// breaks while waiting for room in a full in-flight table.
    pub fn submit_read_from(
        &self,
        file: &Arc<File>,
        mut buf: AlignedBuf,
        start: usize,
        offset: u64,
        len: usize,
    ) -> io::Result<Ticket<AlignedBuf>> {
        assert!(
            len <= buf.capacity(),
            "read of {len} bytes into a buffer of capacity {}",
            buf.capacity()
        );
        assert!(
            start <= len,
            "read continued at {start}, past its end {len}"
        );
        let count =
            u32::try_from(len - start).expect("an io_uring read is limited to u32::MAX bytes");
        // In bounds (start <= len <= capacity), and the heap bytes do not move with `buf`.
        let into = buf.as_mut_ptr().wrapping_add(start);
        let entry = opcode::Read::new(types::Fd(file.as_raw_fd()), into, count)
            .offset(offset + start as u64)
            .build();
        self.submit(file, Box::new(buf), OpKind::Read { start }, entry)
    }

    /// Submits an `fdatasync` ([`SyncKind::Data`]) or `fsync` ([`SyncKind::All`]) of `file`.
    /// It covers writes that completed before it was submitted, not writes still in flight.
    ///
    /// # Errors
    ///
    /// An error of `io_uring_enter`, as for [`Ring::submit_write`].
    ///
    /// # Panics
    ///
    /// If the ring breaks while waiting for room in a full in-flight table.
    pub fn submit_sync(&self, file: &Arc<File>, kind: SyncKind) -> io::Result<Ticket<()>> {
        let flags = match kind {
            SyncKind::Data => types::FsyncFlags::DATASYNC,
            SyncKind::All => types::FsyncFlags::empty(),
        };
        let entry = opcode::Fsync::new(types::Fd(file.as_raw_fd()))
            .flags(flags)
            .build();
        self.submit(file, Box::new(()), OpKind::Other, entry)
    }

    /// Blocks until the operation of `ticket` completed; returns its result (bytes
    /// transferred; 0 for a sync) and gives the buffer back. A negative kernel result becomes
    /// the `io::Error` of that errno.
    ///
    /// # Panics
    ///
    /// If `ticket` belongs to another ring, or if `io_uring_enter` fails with an error other
    /// than `EINTR`, `EAGAIN` or `EBUSY` (the ring is broken: whether the kernel still uses the
    /// buffer is then unknown, so it stays in the ring and is never freed).
    pub fn wait<B: 'static>(&self, mut ticket: Ticket<B>) -> (io::Result<usize>, B) {
        self.check_owner(&ticket);
        let key = ticket.key;
        let mut table = self
            .block_until(|table| table.is_done(key))
            .unwrap_or_else(|err| panic!("io_uring_enter failed while waiting: {err}"));
        let (result, owner) = table.take_done(key).expect("block_until saw it done");
        ticket.armed = false;
        drop(table);
        (cqe_result(result), downcast(owner))
    }

    /// The result and buffer if the operation of `ticket` already completed, else the ticket
    /// back. Never enters the kernel: it only collects completions already posted, so an
    /// entry the kernel refused earlier with `EAGAIN`/`EBUSY` is resubmitted by the next
    /// `submit_*`, `wait` or drop of the ring, not by polling.
    ///
    /// # Errors
    ///
    /// The ticket itself, while the operation is still in flight.
    ///
    /// # Panics
    ///
    /// If `ticket` belongs to another ring.
    pub fn try_wait<B: 'static>(
        &self,
        mut ticket: Ticket<B>,
    ) -> Result<(io::Result<usize>, B), Ticket<B>> {
        self.check_owner(&ticket);
        let mut table = self.shared.lock();
        if !table.is_done(ticket.key) {
            self.drain_unless_reaping(&mut table);
        }
        let Some((result, owner)) = table.take_done(ticket.key) else {
            drop(table);
            return Err(ticket);
        };
        ticket.armed = false;
        drop(table);
        Ok((cqe_result(result), downcast(owner)))
    }

    /// The number of operations whose completion has not been reaped yet, detached ones
    /// included.
    pub fn in_flight(&self) -> usize {
        let mut table = self.shared.lock();
        self.drain_unless_reaping(&mut table);
        table.in_flight_count()
    }

    fn check_owner<B>(&self, ticket: &Ticket<B>) {
        assert!(
            Arc::ptr_eq(&ticket.shared, &self.shared),
            "ticket redeemed on a ring that did not issue it"
        );
    }

    /// Moves `owner` and a clone of `file` into the in-flight table, then queues `entry`
    /// tagged with the slot's key and submits it.
    fn submit<B>(
        &self,
        file: &Arc<File>,
        owner: Owner,
        kind: OpKind,
        entry: squeue::Entry,
    ) -> io::Result<Ticket<B>> {
        let key = {
            let mut table = self
                .block_until(|table| table.in_flight_count() < self.in_flight_max)
                .unwrap_or_else(|err| panic!("io_uring_enter failed while waiting: {err}"));
            table.insert(owner, Arc::clone(file), kind)
        };
        let ticket = Ticket {
            shared: Arc::clone(&self.shared),
            key,
            armed: true,
            _buf: PhantomData,
        };
        // On error `ticket` is dropped, which detaches the operation: its SQE may already be
        // queued, so the buffer must stay in the table until a completion shows up.
        self.push_and_submit(&entry.user_data(key as u64))?;
        Ok(ticket)
    }

    /// Pushes `entry` onto the submission queue and submits everything queued.
    fn push_and_submit(&self, entry: &squeue::Entry) -> io::Result<()> {
        let _sq_guard = self.sq_lock.lock().unwrap_or_else(PoisonError::into_inner);
        // SAFETY: `sq_lock` is held for the lifetime of `sq`, and this is the only place that
        // borrows the submission queue, so no other `SubmissionQueue` exists.
        let mut sq = unsafe { self.uring.submission_shared() };
        loop {
            // SAFETY: the entry's buffer and descriptor are owned by the in-flight table slot
            // named by its `user_data` (moved there by `submit` before this call) and are
            // released only when that slot's CQE is reaped, so they outlive the operation.
            if unsafe { sq.push(entry) }.is_ok() {
                break;
            }
            // Full: earlier entries were left queued because the kernel answered EAGAIN or
            // EBUSY. Submit them and try again.
            self.flush(&mut sq)?;
            if sq.is_full() {
                std::thread::yield_now();
            }
        }
        self.flush(&mut sq)
    }

    /// Publishes the queued entries and submits them until the queue is empty. `EAGAIN` and
    /// `EBUSY` leave them queued for the next submission or the reaper's `io_uring_enter`.
    fn flush(&self, sq: &mut squeue::SubmissionQueue<'_>) -> io::Result<()> {
        sq.sync();
        while !sq.is_empty() {
            match enter_outcome(self.uring.submit()) {
                EnterOutcome::Done(0) | EnterOutcome::Busy => return Ok(()),
                EnterOutcome::Done(_) | EnterOutcome::Interrupted => {}
                EnterOutcome::Failed(err) => return Err(err),
            }
            sq.sync();
        }
        Ok(())
    }

    /// Returns the locked table once `ready(table)` holds, taking part in leader/follower
    /// reaping meanwhile (see the module docs).
    ///
    /// # Errors
    ///
    /// An `io_uring_enter` error other than `EINTR`, `EAGAIN` or `EBUSY`: the ring is broken.
    fn block_until(
        &self,
        mut ready: impl FnMut(&Table) -> bool,
    ) -> io::Result<MutexGuard<'_, Table>> {
        let mut table = self.shared.lock();
        loop {
            if ready(&table) {
                return Ok(table);
            }
            if table.reaper_active {
                table = self.shared.wait(table);
                continue;
            }
            // Nobody reaps, so the completion queue is ours to drain: maybe it is done already.
            if self.drain(&mut table) > 0 && ready(&table) {
                return Ok(table);
            }
            table.reaper_active = true;
            drop(table);
            // Blocks until at least one CQE is posted (returns at once if one is already
            // there). Also submits entries left queued by an earlier EAGAIN/EBUSY.
            let outcome = enter_outcome(self.uring.submitter().submit_and_wait(1));
            table = self.shared.lock();
            table.reaper_active = false;
            self.drain(&mut table);
            // Wake every follower: some may find their operation done, one takes the role.
            self.shared.completed.notify_all();
            match outcome {
                EnterOutcome::Failed(err) => return Err(err),
                EnterOutcome::Busy => std::thread::yield_now(),
                EnterOutcome::Done(_) | EnterOutcome::Interrupted => {}
            }
        }
    }

    /// Drains the completion queue if no reaper is active (a reaper may be sleeping for one of
    /// the CQEs, which must not be taken from it).
    fn drain_unless_reaping(&self, table: &mut MutexGuard<'_, Table>) {
        if !table.reaper_active && self.drain(table) > 0 {
            self.shared.completed.notify_all();
        }
    }

    /// Moves every available CQE into `table`; returns how many. The caller holds the table
    /// lock of this ring (`table` is its guard) and either holds the reaper role or has seen
    /// `reaper_active == false`.
    fn drain(&self, table: &mut MutexGuard<'_, Table>) -> usize {
        // SAFETY: the completion queue is only ever borrowed here, and `table` proves the
        // caller holds this ring's table lock for the whole lifetime of `cq`, so no other
        // `CompletionQueue` exists.
        let cq = unsafe { self.uring.completion_shared() };
        let mut count = 0;
        for cqe in cq {
            table.complete(cqe.user_data(), cqe.result());
            count += 1;
        }
        count
    }
}

impl Drop for Ring {
    /// Blocks until every operation in flight, detached ones included, has completed, so no
    /// buffer or descriptor the kernel may use is freed. If the ring is broken and that cannot
    /// be known, the table (and every buffer in it) is leaked instead.
    fn drop(&mut self) {
        // Until the wait succeeds, an extra reference keeps the table alive; it is leaked if
        // the wait fails or panics (an unwinding `drop` still drops `self.shared`).
        let mut keep_alive = LeakUnlessTaken(Some(Arc::clone(&self.shared)));
        if self
            .block_until(|table| table.in_flight_count() == 0)
            .is_ok()
        {
            drop(keep_alive.0.take());
        }
    }
}

/// Leaks the table it holds when dropped, unless it was taken out first.
struct LeakUnlessTaken(Option<Arc<Shared>>);

impl Drop for LeakUnlessTaken {
    fn drop(&mut self) {
        if let Some(shared) = self.0.take() {
            std::mem::forget(shared);
        }
    }
}

/// How a call of `io_uring_enter` went; the one place its errno values are classified.
enum EnterOutcome {
    /// Success, with the number of entries submitted.
    Done(usize),
    /// `EINTR`: retry at once.
    Interrupted,
    /// `EAGAIN` or `EBUSY`: the kernel is short of resources or has completions to hand out
    /// first; reap, then retry.
    Busy,
    /// Anything else: the ring is unusable.
    Failed(io::Error),
}

fn enter_outcome(result: io::Result<usize>) -> EnterOutcome {
    match result {
        Ok(submitted) => EnterOutcome::Done(submitted),
        Err(err) => match err.raw_os_error() {
            Some(libc::EINTR) => EnterOutcome::Interrupted,
            Some(libc::EAGAIN | libc::EBUSY) => EnterOutcome::Busy,
            _ => EnterOutcome::Failed(err),
        },
    }
}

/// A CQE's `res`: bytes transferred, or a negated errno.
fn cqe_result(res: i32) -> io::Result<usize> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as usize)
    }
}

fn downcast<B: 'static>(owner: Owner) -> B {
    *owner
        .downcast::<B>()
        .expect("a ticket's type matches the buffer it was submitted with")
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn assert_send_sync<T: Send + Sync>() {}
    const _: () = assert_send_sync::<Ring>();
    const _: () = assert_send_sync::<Ticket<AlignedBuf>>();

    #[test]
    fn negative_results_become_errno() {
        assert_eq!(cqe_result(4096).unwrap(), 4096);
        let err = cqe_result(-libc::EINVAL).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn enter_errors_are_classified() {
        let outcome = |errno| enter_outcome(Err(io::Error::from_raw_os_error(errno)));
        assert!(matches!(outcome(libc::EINTR), EnterOutcome::Interrupted));
        assert!(matches!(outcome(libc::EAGAIN), EnterOutcome::Busy));
        assert!(matches!(outcome(libc::EBUSY), EnterOutcome::Busy));
        assert!(matches!(outcome(libc::EBADF), EnterOutcome::Failed(_)));
    }

    #[test]
    #[should_panic(expected = "did not issue it")]
    fn foreign_ticket_panics() {
        let a = Ring::new(8).unwrap();
        let b = Ring::new(8).unwrap();
        let file = Arc::new(tempfile::tempfile_in("/tmp").unwrap());
        let ticket = a.submit_sync(&file, SyncKind::Data).unwrap();
        let _ = b.wait(ticket);
    }

    /// A file of `len` bytes whose byte `i` is `i % 251`.
    fn patterned_file(len: usize) -> Arc<File> {
        use std::io::Write;
        let mut file = tempfile::tempfile_in("/tmp").unwrap();
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        file.write_all(&bytes).unwrap();
        Arc::new(file)
    }

    #[test]
    fn a_continued_read_fills_the_rest_and_keeps_the_start() {
        let ring = Ring::new(8).unwrap();
        let file = patterned_file(10_000);
        let mut buf = AlignedBuf::new(8192, 4096);
        buf.extend_from_slice(&[0xAA; 1000]);
        let ticket = ring.submit_read_from(&file, buf, 1000, 100, 8192).unwrap();
        let (result, buf) = ring.wait(ticket);
        assert_eq!(result.unwrap(), 7192, "bytes read by the continuation");
        assert_eq!(buf.len(), 8192, "the length counts the kept start");
        assert!(buf[..1000].iter().all(|&b| b == 0xAA), "the start is kept");
        let expected: Vec<u8> = (1100..8292).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            &buf[1000..],
            &expected[..],
            "file bytes from offset + start"
        );
    }

    #[test]
    fn a_continued_read_at_end_of_file_reads_nothing() {
        let ring = Ring::new(8).unwrap();
        let file = patterned_file(3000);
        let mut buf = AlignedBuf::new(4096, 4096);
        buf.extend_from_slice(&[1; 3000]);
        let ticket = ring.submit_read_from(&file, buf, 3000, 0, 4096).unwrap();
        let (result, buf) = ring.wait(ticket);
        assert_eq!(result.unwrap(), 0);
        assert_eq!(buf.len(), 3000);
    }

    #[test]
    fn zero_entries_is_a_setup_error() {
        assert!(matches!(Ring::new(0), Err(UringError::Setup(_))));
    }
}
