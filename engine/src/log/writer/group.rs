//! Group commit that covers everyone: a flusher about to write and sync for durability first
//! gathers the appenders that the previous round acknowledged.
//!
//! Without this, the first appender back after a round becomes the next flusher at once and
//! its round carries only what arrived by then: with 16 producers of single records on two
//! cores, waking 16 threads takes longer than a 4 KiB write and `fdatasync`, so a sync covered
//! about 4 appends. Waiting (with the writer lock released) until as many appends are pending
//! as the last round covered lets one write and one `fdatasync` carry all of them again. The
//! wait is bounded by the last round's I/O time, so a producer that went away costs at most one
//! such wait per round, and a lone producer (a last round of one append) never waits.

use std::time::{Duration, Instant};

use super::{Guard, LogInner};

/// The longest a flusher gathers appenders, whatever the last round's I/O took.
pub(crate) const MAX_GATHER: Duration = Duration::from_millis(1);

/// Counts that steer the gathering, under the writer lock.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    /// Appends since the last durability round took its snapshot of the tail.
    pub pending_appends: usize,
    /// Appends the last durability round carried.
    last_round_appends: usize,
    /// How long the last durability round's writes and `fdatasync` took.
    last_round_io: Duration,
    /// A flusher waits on `LogInner::appended` for `pending_appends` to grow.
    gathering: bool,
}

impl GroupCommit {
    /// Called under the lock by every append: wakes a gathering flusher once the appenders it
    /// waits for are all back (one wake per round, not one per append).
    pub fn on_append(&mut self) -> bool {
        self.pending_appends += 1;
        self.gathering && self.pending_appends >= self.last_round_appends
    }

    /// A durability round starts: returns the appends it carries and starts the next count.
    pub fn start_round(&mut self) -> usize {
        std::mem::take(&mut self.pending_appends)
    }

    /// A durability round that carried `appends` finished its I/O in `io`.
    pub fn end_round(&mut self, appends: usize, io: Duration) {
        self.last_round_appends = appends;
        self.last_round_io = io;
    }
}

impl LogInner {
    /// Before a durability round: waits, with the lock released, until as many appends are
    /// pending as the last round carried, or for at most the last round's I/O time (capped at
    /// [`MAX_GATHER`]). Returns at once after a round of one append.
    pub(super) fn gather<'a>(&'a self, mut w: Guard<'a>) -> Guard<'a> {
        let expected = w.group.last_round_appends;
        // A roll holds appends off: nobody would come.
        if expected < 2 || w.group.pending_appends >= expected || w.rolling {
            return w;
        }
        let deadline = Instant::now() + w.group.last_round_io.min(MAX_GATHER);
        w.group.gathering = true;
        while w.group.pending_appends < expected && !w.closed {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            w = self
                .appended
                .wait_timeout(w, deadline - now)
                .expect("writer lock poisoned")
                .0;
        }
        w.group.gathering = false;
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flusher_is_woken_once_the_last_rounds_appenders_are_back() {
        let mut group = GroupCommit::default();
        group.end_round(3, Duration::from_micros(200));
        group.gathering = true;
        assert!(!group.on_append());
        assert!(!group.on_append());
        assert!(group.on_append(), "the third append completes the group");
        assert_eq!(group.start_round(), 3);
        assert_eq!(group.pending_appends, 0);
    }

    #[test]
    fn nobody_is_woken_while_nobody_gathers() {
        let mut group = GroupCommit::default();
        group.end_round(1, Duration::from_micros(200));
        assert!(!group.on_append());
        assert!(!group.on_append());
    }
}
