//! `statx` reports direct-I/O alignment for a file on /tmp (ext4), raised to at least 4096.
use std::fs::OpenOptions;

use ringlog_sys::direct::{MIN_DIRECT_ALIGN, dio_alignment, filesystem_name, open_direct};

#[test]
fn tmp_file_reports_alignment_of_at_least_4096() {
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let file = open_direct(
        &dir.path().join("f"),
        OpenOptions::new().read(true).write(true).create(true),
    )
    .unwrap();
    let alignment = dio_alignment(&file)
        .unwrap()
        .expect("ext4 reports DIO alignment");
    assert!(alignment.memory >= MIN_DIRECT_ALIGN, "{alignment:?}");
    assert!(alignment.offset >= MIN_DIRECT_ALIGN, "{alignment:?}");
    assert!(alignment.reported_offset > 0, "{alignment:?}");
    assert_eq!(filesystem_name(dir.path()).unwrap(), "ext4");
}
