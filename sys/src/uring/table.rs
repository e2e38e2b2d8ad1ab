//! The in-flight table: the single owner of every buffer and file handle the kernel may be
//! using, keyed by the `user_data` of the operation's submission queue entry.
//!
//! A slot goes `Free -> InFlight` when an operation is submitted, `InFlight -> Done` when its
//! completion is reaped (or straight back to `Free`, dropping the buffer, if its ticket was
//! detached), and `Done -> Free` when the ticket takes the result back or is dropped.

use std::any::Any;
use std::fs::File;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::buf::AlignedBuf;

/// What an in-flight operation does, where completion handling depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpKind {
    /// A read into an [`AlignedBuf`] from byte `start` of the buffer: its length is set to
    /// `start` plus the bytes read on completion.
    Read { start: usize },
    /// A write or a sync: the owner is given back as it was.
    Other,
}

/// An operation's buffer, type-erased; `Ring::wait` downcasts it back.
pub(super) type Owner = Box<dyn Any + Send>;

enum Slot {
    Free,
    InFlight {
        owner: Owner,
        /// Keeps the descriptor named in the SQE open until the kernel is done with it.
        _file: Arc<File>,
        kind: OpKind,
        /// The ticket was dropped: free everything as soon as the completion is reaped.
        detached: bool,
    },
    Done {
        result: i32,
        owner: Owner,
    },
}

/// The in-flight table plus the leader/follower reaping flag. Always used behind
/// [`Shared::state`].
pub(super) struct Table {
    slots: Vec<Slot>,
    free_keys: Vec<usize>,
    in_flight_count: usize,
    /// Whether some thread holds the reaper role: it may be blocked in `io_uring_enter`
    /// waiting for completions, and it is the only thread allowed to drain the completion
    /// queue while the flag is set (see the module docs of `uring`).
    pub(super) reaper_active: bool,
}

impl Table {
    fn new() -> Table {
        Table {
            slots: Vec::new(),
            free_keys: Vec::new(),
            in_flight_count: 0,
            reaper_active: false,
        }
    }

    /// Operations whose completion has not been reaped yet (detached ones included).
    pub(super) fn in_flight_count(&self) -> usize {
        self.in_flight_count
    }

    /// Takes ownership of an operation's buffer and file handle; returns its key.
    pub(super) fn insert(&mut self, owner: Owner, file: Arc<File>, kind: OpKind) -> usize {
        let slot = Slot::InFlight {
            owner,
            _file: file,
            kind,
            detached: false,
        };
        self.in_flight_count += 1;
        if let Some(key) = self.free_keys.pop() {
            debug_assert!(matches!(self.slots[key], Slot::Free));
            self.slots[key] = slot;
            key
        } else {
            self.slots.push(slot);
            self.slots.len() - 1
        }
    }

    /// Records the completion `result` of operation `key`.
    ///
    /// # Panics
    ///
    /// If `key` does not name an in-flight operation: every SQE this crate submits carries the
    /// key of the slot that owns its buffer, so another value is a broken invariant.
    pub(super) fn complete(&mut self, key: u64, result: i32) {
        let key = usize::try_from(key).expect("user_data is a slot key");
        let slot = self
            .slots
            .get_mut(key)
            .unwrap_or_else(|| panic!("completion for unknown slot {key}"));
        let Slot::InFlight {
            mut owner,
            kind,
            detached,
            ..
        } = std::mem::replace(slot, Slot::Free)
        else {
            panic!("completion for slot {key}, which is not in flight");
        };
        self.in_flight_count -= 1;
        if detached {
            // The kernel is done with the buffer and nobody waits for it: free it now.
            self.free_keys.push(key);
            return;
        }
        if let OpKind::Read { start } = kind
            && result >= 0
        {
            owner
                .downcast_mut::<AlignedBuf>()
                .expect("a read's owner is an AlignedBuf")
                .set_len(start + result as usize);
        }
        self.slots[key] = Slot::Done { result, owner };
    }

    /// Whether operation `key` has completed and its result not yet been taken.
    pub(super) fn is_done(&self, key: usize) -> bool {
        matches!(self.slots.get(key), Some(Slot::Done { .. }))
    }

    /// Takes the result and buffer of completed operation `key` and frees its slot; `None`
    /// while it is still in flight.
    pub(super) fn take_done(&mut self, key: usize) -> Option<(i32, Owner)> {
        if !self.is_done(key) {
            return None;
        }
        let Slot::Done { result, owner } = std::mem::replace(&mut self.slots[key], Slot::Free)
        else {
            unreachable!("checked by is_done");
        };
        self.free_keys.push(key);
        Some((result, owner))
    }

    /// Forgets the ticket of operation `key`: a completed operation is freed now, an in-flight
    /// one when its completion is reaped, never before.
    pub(super) fn detach(&mut self, key: usize) {
        match self.slots.get_mut(key) {
            Some(Slot::InFlight { detached, .. }) => *detached = true,
            Some(Slot::Done { .. }) => drop(self.take_done(key)),
            Some(Slot::Free) | None => debug_assert!(false, "detaching unknown slot {key}"),
        }
    }
}

/// The part of a ring that tickets share: the table and the condition variable on which
/// followers wait for the reaper.
pub(super) struct Shared {
    state: Mutex<Table>,
    /// Notified (all waiters) whenever completions were drained or the reaper role was given
    /// up.
    pub(super) completed: Condvar,
}

impl Shared {
    pub(super) fn new() -> Shared {
        Shared {
            state: Mutex::new(Table::new()),
            completed: Condvar::new(),
        }
    }

    /// Locks the table. A poisoned lock is entered anyway: the panics possible while it is
    /// held are broken invariants of this crate or a panicking buffer `Drop`, after which the
    /// slots still tell which buffers the kernel may use; refusing would leave `Ring`'s `Drop`
    /// unable to wait for the kernel.
    pub(super) fn lock(&self) -> MutexGuard<'_, Table> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits on `completed`, tolerating poison like [`Shared::lock`].
    pub(super) fn wait<'a>(&self, guard: MutexGuard<'a, Table>) -> MutexGuard<'a, Table> {
        self.completed
            .wait(guard)
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<File> {
        Arc::new(tempfile::tempfile_in("/tmp").unwrap())
    }

    #[test]
    fn slot_lifecycle_and_key_reuse() {
        let mut table = Table::new();
        let a = table.insert(Box::new(7_u32), file(), OpKind::Other);
        let b = table.insert(Box::new(()), file(), OpKind::Other);
        assert_eq!(table.in_flight_count(), 2);
        assert!(!table.is_done(a));
        assert!(table.take_done(a).is_none());
        table.complete(a as u64, 5);
        assert_eq!(table.in_flight_count(), 1);
        let (result, owner) = table.take_done(a).unwrap();
        assert_eq!((result, *owner.downcast::<u32>().unwrap()), (5, 7));
        assert_eq!(table.insert(Box::new(()), file(), OpKind::Other), a);
        table.detach(b);
        table.complete(b as u64, 0);
        assert!(!table.is_done(b));
        assert_eq!(table.in_flight_count(), 1);
    }

    #[test]
    fn read_completion_sets_the_length() {
        let mut table = Table::new();
        let key = table.insert(
            Box::new(AlignedBuf::new(4096, 4096)),
            file(),
            OpKind::Read { start: 0 },
        );
        table.complete(key as u64, 100);
        let (_, owner) = table.take_done(key).unwrap();
        assert_eq!(owner.downcast::<AlignedBuf>().unwrap().len(), 100);
    }

    #[test]
    fn a_continued_read_counts_the_bytes_before_its_start() {
        let mut table = Table::new();
        let kind = OpKind::Read { start: 512 };
        let key = table.insert(Box::new(AlignedBuf::new(4096, 4096)), file(), kind);
        table.complete(key as u64, 100);
        let (_, owner) = table.take_done(key).unwrap();
        assert_eq!(owner.downcast::<AlignedBuf>().unwrap().len(), 612);
    }

    #[test]
    #[should_panic(expected = "not in flight")]
    fn completing_a_free_slot_panics() {
        let mut table = Table::new();
        let key = table.insert(Box::new(()), file(), OpKind::Other);
        table.complete(key as u64, 0);
        table.complete(key as u64, 0);
    }
}
