//! Group commit that covers everyone: a flusher about to write and sync for durability first
//! gathers the appenders that the previous round acknowledged.
//!
//! Without this, the first appender back after a round becomes the next flusher at once and
//! its round carries only what arrived by then: with 16 producers of single records on two
//! cores, waking 16 threads takes longer than a 4 KiB write and `fdatasync`, so a sync covered
//! about 4 appends. Waiting (with the writer lock released) until as many appends are pending
//! as the last round covered lets one write and one `fdatasync` carry all of them again. The
//! wait is bounded by the last round's I/O time, so a producer that went away costs at most one
//! such wait per round. It expects no more appends than there were threads to bring them (those
//! waiting for the last round, plus the flusher), so a lone producer never waits: neither one
//! that appends and waits nor one whose pipelined appends the last round carried (it is the
//! flusher itself).

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
    /// Threads that were waiting for the flusher's round when the last durability round ended.
    last_round_waiting: usize,
    /// How long the last durability round's writes and `fdatasync` took.
    last_round_io: Duration,
    /// Threads waiting on `LogInner::flushed` for a flusher's round to end (appenders and
    /// handle waits that need durability).
    pub waiting: usize,
    /// A flusher waits on `LogInner::appended` for `pending_appends` to grow.
    gathering: bool,
}

impl GroupCommit {
    /// Called under the lock by every append: wakes a gathering flusher once the appenders it
    /// waits for are all back (one wake per round, not one per append).
    pub fn on_append(&mut self) -> bool {
        self.pending_appends += 1;
        self.gathering && self.pending_appends >= self.expected_appends()
    }

    /// A durability round starts: returns the appends it carries and starts the next count.
    pub fn start_round(&mut self) -> usize {
        std::mem::take(&mut self.pending_appends)
    }

    /// A durability round that carried `appends` finished its I/O in `io`, with `waiting`
    /// threads waiting for it.
    pub fn end_round(&mut self, appends: usize, waiting: usize, io: Duration) {
        self.last_round_appends = appends;
        self.last_round_waiting = waiting;
        self.last_round_io = io;
    }

    /// The appends worth gathering before the next round: as many as the last round carried,
    /// but no more than the threads that can bring them (those that waited for it, and the
    /// flusher). A single producer with several appends in flight is itself the flusher: nobody
    /// else would come while it gathers.
    fn expected_appends(&self) -> usize {
        self.last_round_appends.min(self.last_round_waiting + 1)
    }
}

impl LogInner {
    /// Before a durability round: waits, with the lock released, until as many appends are
    /// pending as the last round carried, or for at most the last round's I/O time (capped at
    /// [`MAX_GATHER`]). Returns at once after a round of one append.
    pub(super) fn gather<'a>(&'a self, mut w: Guard<'a>) -> Guard<'a> {
        let expected = w.group.expected_appends();
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
        group.end_round(3, 2, Duration::from_micros(200));
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
        group.end_round(1, 0, Duration::from_micros(200));
        assert!(!group.on_append());
        assert!(!group.on_append());
    }

    #[test]
    fn a_lone_pipelined_producer_is_not_gathered_for() {
        let mut group = GroupCommit::default();
        // One thread's eight appends, nobody else waiting: the flusher is that thread.
        group.end_round(8, 0, Duration::from_micros(500));
        assert_eq!(group.expected_appends(), 1);
        group.end_round(8, 3, Duration::from_micros(500));
        assert_eq!(group.expected_appends(), 4);
    }
}
