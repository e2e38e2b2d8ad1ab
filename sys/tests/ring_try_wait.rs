//! `try_wait` hands the ticket back until the operation completes, then the result.
mod common;

use std::time::{Duration, Instant};

use common::{BLOCK_BYTES, assert_pattern, direct_file, pattern_block, tmp_dir};
use ringlog_sys::{AlignedBuf, Ring};

#[test]
fn try_wait_polls_until_done() {
    let dir = tmp_dir();
    let file = direct_file(dir.path(), "log");
    let ring = Ring::new(8).unwrap();
    let mut ticket = ring
        .submit_write(&file, pattern_block(3, BLOCK_BYTES), 0)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (result, _) = loop {
        match ring.try_wait(ticket) {
            Ok(done) => break done,
            Err(pending) => {
                assert!(Instant::now() < deadline, "write did not complete in 10 s");
                ticket = pending;
                std::thread::yield_now();
            }
        }
    };
    assert_eq!(result.unwrap(), BLOCK_BYTES);
    assert_eq!(ring.in_flight(), 0);

    // A ticket handed back by try_wait still works with wait.
    let buf = AlignedBuf::new(BLOCK_BYTES, BLOCK_BYTES);
    let ticket = ring.submit_read(&file, buf, 0, BLOCK_BYTES).unwrap();
    let (result, buf) = match ring.try_wait(ticket) {
        Ok(done) => done,
        Err(ticket) => ring.wait(ticket),
    };
    assert_eq!(result.unwrap(), BLOCK_BYTES);
    assert_pattern(&buf, 3, "read after try_wait");
}
