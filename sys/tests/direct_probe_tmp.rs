//! `probe_direct_io` succeeds on /tmp (ext4) and leaves no file behind.
use ringlog_sys::direct::{MIN_DIRECT_ALIGN, probe_direct_io};

#[test]
fn probe_on_tmp_succeeds_and_cleans_up() {
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let alignment = probe_direct_io(dir.path()).unwrap();
    assert!(alignment.memory >= MIN_DIRECT_ALIGN && alignment.offset >= MIN_DIRECT_ALIGN);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "probe file removed"
    );
}
