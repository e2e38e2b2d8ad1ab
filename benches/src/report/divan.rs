//! Divan's raw output files (`divan-<io path>.txt`): listed and linked, not parsed; the
//! structured figures are in `ringbench-*.json`.

use std::path::Path;

/// One raw Divan output file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DivanFile {
    /// File name, relative to the results directory.
    pub name: String,
    /// Lines in it (roughly one per benchmark case, plus headers).
    pub lines: usize,
}

/// The `divan-*.txt` files of `dir`, by name.
///
/// # Errors
/// A message naming the directory or file that could not be read.
pub fn find(dir: &Path) -> Result<Vec<DivanFile>, String> {
    let mut out = Vec::new();
    for name in super::inputs::file_names(dir)? {
        let is_text = Path::new(&name)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("txt"));
        if name.starts_with("divan-") && is_text {
            let path = dir.join(&name);
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let lines = text.lines().count();
            out.push(DivanFile { name, lines });
        }
    }
    Ok(out)
}
