//! Promises that must hold against a hostile plugin, each written first as
//! the attack, through real plugins and real processes.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use procbox_tests::{bounded, guests, procbox};

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
        0,
        "mkfifo {}",
        path.display()
    );
}

fn manifest(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../guests/plugins/{name}/{name}.manifest.toml"))
        .display()
        .to_string()
}

#[tokio::test]
async fn a_fifo_as_a_redirect_target_is_refused_without_blocking() {
    // Before: `date > run.log` with run.log a FIFO that nobody reads blocked
    // procbox in open() for ever, past every budget and signal.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    mkfifo(&root.join("run.log"));
    let grant = format!("--dir={}", root.display());
    let manifest = manifest("redirect-log");
    let run = bounded!(procbox(&[
        "run",
        guests::REDIRECT_LOG,
        "--manifest",
        &manifest,
        &grant,
        "--allow-run=date",
        "--allow-run=sh",
        "--allow-run=wc",
        "--",
        root.to_str().unwrap(),
    ]));
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("invalid input") && run.stderr.contains("is a FIFO or a device, not a regular file"),
        "{run:?}"
    );
}
