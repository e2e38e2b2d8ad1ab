//! On /dev/shm (tmpfs) the probe either reports Unsupported naming tmpfs, or, if this kernel
//! accepts `O_DIRECT` on tmpfs, succeeds; which one is decided by trying, not assumed.
use std::fs::OpenOptions;
use std::path::Path;

use ringlog_sys::direct::{DirectIoError, filesystem_name, open_direct, probe_direct_io};

#[test]
fn probe_on_dev_shm_matches_what_the_kernel_does() {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() || filesystem_name(shm).unwrap() != "tmpfs" {
        eprintln!("skipped: /dev/shm is not a tmpfs directory here");
        return;
    }
    let dir = tempfile::tempdir_in(shm).unwrap();
    let accepts = open_direct(
        &dir.path().join("plain-probe"),
        OpenOptions::new().read(true).write(true).create(true),
    )
    .is_ok();
    match probe_direct_io(dir.path()) {
        Ok(alignment) => assert!(
            accepts,
            "probe succeeded although open failed: {alignment:?}"
        ),
        Err(err @ DirectIoError::Unsupported { .. }) => {
            assert!(
                !accepts,
                "open with O_DIRECT worked but the probe said: {err}"
            );
            let text = err.to_string();
            assert!(
                text.contains("tmpfs") && text.contains("ext4 or xfs"),
                "{text}"
            );
        }
        Err(err) => panic!("unexpected probe failure: {err}"),
    }
}
