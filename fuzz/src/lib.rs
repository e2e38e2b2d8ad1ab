//! What the fuzz targets share with the seed generator (`examples/seeds.rs`): how each target
//! reads its input ([`segment_input`], [`index_input`]), an independent model of the recovery
//! scan ([`model`]) that `recovery_scan` holds the engine to, and helpers to build batches.

pub mod batches;
pub mod index_input;
pub mod model;
pub mod segment_input;

/// A scratch directory for targets that need files, one per process so parallel fuzzing jobs
/// do not collide: under `$RINGLOG_FUZZ_SCRATCH` if set (`scripts/fuzz.sh` sets it to a
/// directory it removes at exit), else on tmpfs where there is one (cheap fsyncs), else in the
/// temporary directory.
pub fn scratch_root() -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    let base = if let Some(dir) = std::env::var_os("RINGLOG_FUZZ_SCRATCH") {
        std::path::PathBuf::from(dir)
    } else if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let root = base.join(format!("ringlog-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("create the fuzz scratch directory");
    root
}

/// Empties `dir` (creating it if needed), for the next input.
pub fn fresh_dir(dir: &std::path::Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("remove {}: {e}", dir.display()),
    }
    std::fs::create_dir_all(dir).expect("create the scratch log directory");
}
