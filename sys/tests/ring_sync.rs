//! `fdatasync` and fsync operations complete successfully after writes.
mod common;

use common::{BLOCK_BYTES, direct_file, pattern_block, tmp_dir};
use ringlog_sys::{Ring, SyncKind};

#[test]
fn data_and_full_sync_succeed() {
    let dir = tmp_dir();
    let file = direct_file(dir.path(), "log");
    let ring = Ring::new(8).unwrap();
    let (result, _) = ring.wait(
        ring.submit_write(&file, pattern_block(1, BLOCK_BYTES), 0)
            .unwrap(),
    );
    result.unwrap();
    for kind in [SyncKind::Data, SyncKind::All] {
        let (result, ()) = ring.wait(ring.submit_sync(&file, kind).unwrap());
        assert_eq!(result.unwrap(), 0, "{kind:?}");
    }
}
