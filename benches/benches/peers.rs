//! ringlog beside its peers (raft-engine, fjall, glommio, the naive baseline; rocksdb with
//! `peer-rocksdb`) under Divan, so per-operation time *and allocations* compare on the same
//! calls `ringbench peers` times. Built only with the `peers` feature.
//!
//! Commands (from the workspace root):
//!
//! ```text
//! cargo bench -p benches --features peers --bench peers                 # full, ~1 minute
//! RINGLOG_BENCH_QUICK=1 cargo bench -p benches --features peers --bench peers   # ~10 s
//! cargo bench -p benches --features peers --bench peers -- --test       # each case once
//! cargo bench -p benches --features peer-rocksdb --bench peers          # with RocksDB
//! ```
//!
//! Every engine is driven through `benches::peers::PeerEngine` exactly as `ringbench peers`
//! drives it (see `benches/README.md` for how, engine by engine); records are 1 KiB of random
//! bytes led by their id (`benches::peers::records`). Each case prints as
//! `engine/durability-or-cache/records x size`:
//!
//! - `append::batch` (`engine/cheapest/100x1KiB`): one `append_batch` of 100 records at the
//!   engine's cheapest durability (what it means per engine is in the README); one batch per
//!   sample (`sample_size = 1`), the batch built and, once the store holds 256 MiB, a fresh
//!   store opened, untimed before each sample.
//! - `read::point` (`engine/warm/Nx1KiB`): one `read_point` at a random offset (fixed seed)
//!   of a store of N records that was filled, flushed, reopened and read once end to end
//!   (warm: page cache and the engine's caches as that read left them). The record's id is
//!   checked.
//! - `read::sequential` (`engine/warm/Nx1KiB`): `read_seq` of the whole store, ids and count
//!   checked.
//!
//! Cold reads and synced appends are `ringbench peers`' (they need the page cache dropped
//! between samples, or a sync per sample, which Divan's sampling does not fit).
//!
//! Allocations (`alloc:` rows) are those of the benchmarked thread: every engine's calls run
//! on it (glommio's executor lives on it), but background threads (fjall's and RocksDB's
//! flush and compaction workers) are not counted.
//!
//! Data goes under `RINGLOG_BENCH_DIR` (default: the system's temporary directory) and is
//! deleted per case. Quick profile (`RINGLOG_BENCH_QUICK=1`): 10 000 records per read store,
//! at most 100 samples and 0.5 s per case; full: 50 000 records, 3 s.

use std::cell::RefCell;
use std::fmt;

use benches::fixtures::{XorShift, size_name};
use benches::peers::records::{BATCH_RECORDS, RECORD_BYTES, RecordSource};
use benches::peers::workload::POINT_READ_SEED;
use benches::peers::{Mode, Peer, PeerEngine};
use benches::{bench_dir, is_quick};
use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use tempfile::TempDir;

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

/// A store is replaced by a fresh one (untimed) once it holds this many payload bytes.
const CAP_BYTES: u64 = 256 * 1024 * 1024;
/// Records of a read store, full and quick profiles.
const READ_RECORDS_FULL: u64 = 50_000;
const READ_RECORDS_QUICK: u64 = 10_000;

/// Samples and seconds per case in the quick profile.
const QUICK_SAMPLES: u32 = 100;
const QUICK_MAX_SECONDS: f64 = 0.5;

fn samples(full: u32) -> u32 {
    if is_quick() { QUICK_SAMPLES } else { full }
}

fn seconds(full: f64) -> f64 {
    if is_quick() { QUICK_MAX_SECONDS } else { full }
}

fn read_records() -> u64 {
    if is_quick() {
        READ_RECORDS_QUICK
    } else {
        READ_RECORDS_FULL
    }
}

/// One engine and the conditions of a case.
#[derive(Clone, Copy, Debug)]
struct PeerCase {
    peer: Peer,
    /// `cheapest` for appends, `warm` for reads.
    condition: &'static str,
    records: u64,
}

impl fmt::Display for PeerCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}x{}",
            self.peer,
            self.condition,
            self.records,
            size_name(RECORD_BYTES)
        )
    }
}

fn cases(condition: &'static str, records: u64) -> Vec<PeerCase> {
    Peer::built_ones()
        .into_iter()
        .map(|peer| PeerCase {
            peer,
            condition,
            records,
        })
        .collect()
}

/// An engine and its directory (the engine is dropped, so closed, first).
struct Store {
    engine: Box<dyn PeerEngine>,
    payload_bytes: u64,
    next_id: u64,
    _dir: TempDir,
}

impl Store {
    fn fresh(peer: Peer) -> Store {
        let dir = bench_dir();
        let engine = peer
            .open(dir.path(), Mode::Cheapest)
            .unwrap_or_else(|e| panic!("open {peer}: {e}"));
        Store {
            engine,
            payload_bytes: 0,
            next_id: 0,
            _dir: dir,
        }
    }

    /// A store of `records` records, flushed, reopened and read once end to end.
    fn filled(peer: Peer, records: u64) -> Store {
        let source = RecordSource::new(RECORD_BYTES);
        let mut store = Store::fresh(peer);
        while store.next_id < records {
            let count = (records - store.next_id).min(BATCH_RECORDS as u64);
            let batch = source.batch(store.next_id, count as usize);
            store.engine.append_batch(&batch).expect("fill");
            store.next_id += count;
        }
        store.engine.flush().expect("flush");
        store.engine.reopen().expect("reopen");
        let read = store.engine.read_seq(&mut |_, _| {}).expect("warm-up read");
        assert_eq!(read, records, "{peer}: warm-up read");
        store
    }
}

fn check_id(offset: u64, payload: &[u8]) {
    assert_eq!(
        payload.get(..8),
        Some(&offset.to_be_bytes()[..]),
        "record read at offset {offset}"
    );
}

fn main() {
    eprintln!("{}", benches::describe_conditions());
    let built: Vec<String> = Peer::built_ones().iter().map(ToString::to_string).collect();
    eprintln!(
        "peers built: {} (rocksdb needs --features peer-rocksdb)",
        built.join(", ")
    );
    divan::main();
}

mod append {
    use super::{
        BATCH_RECORDS, Bencher, BytesCount, CAP_BYTES, ItemsCount, PeerCase, RECORD_BYTES,
        RecordSource, RefCell, Store, cases, samples, seconds,
    };

    fn batch_cases() -> Vec<PeerCase> {
        cases("cheapest", BATCH_RECORDS as u64)
    }

    /// One batch of 100 x 1 KiB at the engine's cheapest durability.
    #[divan::bench(args = batch_cases(), sample_count = samples(1000), sample_size = 1, max_time = seconds(3.0))]
    fn batch(bencher: Bencher, case: PeerCase) {
        let source = RecordSource::new(RECORD_BYTES);
        let store = RefCell::new(Store::fresh(case.peer));
        bencher
            .counter(BytesCount::new(BATCH_RECORDS * RECORD_BYTES))
            .counter(ItemsCount::new(BATCH_RECORDS))
            .with_inputs(|| {
                let mut store = store.borrow_mut();
                if store.payload_bytes >= CAP_BYTES {
                    *store = Store::fresh(case.peer);
                }
                let batch = source.batch(store.next_id, BATCH_RECORDS);
                store.next_id += BATCH_RECORDS as u64;
                store.payload_bytes += batch.payload_bytes();
                batch
            })
            .bench_local_values(|batch| {
                store
                    .borrow_mut()
                    .engine
                    .append_batch(&batch)
                    .expect("append");
            });
    }
}

mod read {
    use super::{
        Bencher, BytesCount, ItemsCount, POINT_READ_SEED, PeerCase, RECORD_BYTES, Store, XorShift,
        cases, check_id, read_records, samples, seconds,
    };

    fn warm_cases() -> Vec<PeerCase> {
        cases("warm", read_records())
    }

    /// One record at a random offset of a warm store.
    #[divan::bench(args = warm_cases(), sample_count = samples(1000), max_time = seconds(3.0))]
    fn point(bencher: Bencher, case: PeerCase) {
        let mut store = Store::filled(case.peer, case.records);
        let mut rng = XorShift::new(POINT_READ_SEED);
        bencher
            .counter(BytesCount::new(RECORD_BYTES))
            .counter(ItemsCount::new(1usize))
            .with_inputs(|| rng.below(case.records))
            .bench_local_values(|offset| {
                store
                    .engine
                    .read_point(offset, &mut |o, v| {
                        assert_eq!(o, offset);
                        check_id(o, v);
                    })
                    .expect("read_point");
            });
    }

    /// The whole warm store in offset order.
    #[divan::bench(args = warm_cases(), sample_count = samples(100), max_time = seconds(3.0))]
    fn sequential(bencher: Bencher, case: PeerCase) {
        let mut store = Store::filled(case.peer, case.records);
        bencher
            .counter(BytesCount::new(case.records as usize * RECORD_BYTES))
            .counter(ItemsCount::new(case.records as usize))
            .bench_local(|| {
                let read = store.engine.read_seq(&mut check_id).expect("read_seq");
                assert_eq!(read, case.records);
            });
    }
}
