//! The size rule of CONTRIBUTING.md ("Layout"): no Rust source file of the
//! workspace over 500 lines; one that grows past it becomes a directory of
//! modules. (Functions over 80 lines are clippy's to refuse.)

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 500;

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let skipped = path
            .file_name()
            .is_some_and(|name| name == "target" || name == "node_modules");
        if path.is_dir() && !skipped {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_rust_source_file_is_over_500_lines() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in ["host", "tests", "benches", "guests"] {
        rust_files(&repo.join(dir), &mut files);
    }
    assert!(files.len() > 100, "the walk found only {} files", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).ok()?.lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these into modules: {long:?}");
}
