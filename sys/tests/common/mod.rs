//! Helpers shared by the integration tests.
#![allow(dead_code, reason = "each test file uses a subset")]

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::Arc;

use ringlog_sys::AlignedBuf;
use ringlog_sys::direct::open_direct;

/// Block size used by the tests: the minimum direct-I/O alignment ringlog uses.
pub const BLOCK_BYTES: usize = ringlog_sys::direct::MIN_DIRECT_ALIGN;

/// A temporary directory on /tmp (ext4 here, so `O_DIRECT` works).
pub fn tmp_dir() -> tempfile::TempDir {
    tempfile::tempdir_in("/tmp").expect("create a temp dir in /tmp")
}

/// Creates `dir/name` read-write with `O_DIRECT`.
pub fn direct_file(dir: &Path, name: &str) -> Arc<File> {
    let file = open_direct(
        &dir.join(name),
        OpenOptions::new().read(true).write(true).create(true),
    )
    .expect("open with O_DIRECT");
    Arc::new(file)
}

/// The byte at `position` of block version `seed`: differs between seeds and positions.
pub fn pattern_byte(seed: u64, position: usize) -> u8 {
    (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8 ^ (position % 251) as u8
}

/// A full, aligned block filled with [`pattern_byte`]s of `seed`.
pub fn pattern_block(seed: u64, len: usize) -> AlignedBuf {
    let mut buf = AlignedBuf::new(len, BLOCK_BYTES);
    buf.set_len(len);
    for (position, byte) in buf.as_mut_slice().iter_mut().enumerate() {
        *byte = pattern_byte(seed, position);
    }
    buf
}

/// Asserts that `bytes` is the block of `seed`, naming the first differing position.
pub fn assert_pattern(bytes: &[u8], seed: u64, what: &str) {
    if let Some(position) = (0..bytes.len()).find(|&p| bytes[p] != pattern_byte(seed, p)) {
        panic!(
            "{what}: byte {position} is {:#x}, expected {:#x} (seed {seed})",
            bytes[position],
            pattern_byte(seed, position)
        );
    }
}
