//! Warnings people see: something procbox lets pass but the user should
//! know reaches stderr as one `procbox: warning: …` line, with no log
//! variable set, and the run goes on.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use procbox_tests::{bounded, procbox, procbox_with_env, Run};

/// The one line of stderr, which must be a warning that ends with `tail`.
fn assert_one_warning(run: &Run, tail: &str) {
    assert_eq!(run.code, Some(0), "the run still succeeds: {run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {run:?}");
    assert!(lines[0].starts_with("procbox: warning: "), "{run:?}");
    assert!(lines[0].ends_with(tail), "{run:?}");
}

/// `procbox run exit.wasm -- 0` with the cache in `cache`.
async fn run_with_cache(cache: &Path) -> Run {
    bounded!(procbox_with_env(
        &[("PROCBOX_CACHE_DIR", cache)],
        &["run", procbox_tests::guests::EXIT, "--", "0"]
    ))
}

#[tokio::test]
async fn a_cache_directory_others_may_write_is_a_warning_and_the_run_goes_on() {
    let cache = tempfile::tempdir().unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    for _ in 0..2 {
        let run = run_with_cache(cache.path()).await;
        assert_one_warning(
            &run,
            &format!(
                "not using the compilation cache: the cache directory {} is not private: others may write to it (mode 777)",
                cache.path().display()
            ),
        );
    }
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0, "nothing stored");
}

#[tokio::test]
async fn a_cache_directory_of_another_user_is_a_warning_and_the_run_goes_on() {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        // Only root can give a directory away; the mode test above covers
        // the same check for everyone else.
        eprintln!("skipped: needs root to chown a directory");
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let nobody = 65534;
    std::os::unix::fs::chown(cache.path(), Some(nobody), Some(nobody)).unwrap();
    let run = run_with_cache(cache.path()).await;
    assert_one_warning(
        &run,
        &format!(
            "not using the compilation cache: the cache directory {} is not private: it belongs to uid {nobody}, not to uid 0",
            cache.path().display()
        ),
    );
}

#[tokio::test]
async fn a_private_cache_directory_is_no_warning() {
    let cache = tempfile::tempdir().unwrap();
    let run = run_with_cache(cache.path()).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
}

/// A manifest that requests a program this host lacks: the request is
/// dropped, with a warning, wherever the manifest is used.
#[tokio::test]
async fn a_manifest_request_for_a_missing_program_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("exit.manifest.toml");
    std::fs::write(
        &manifest,
        "allow-run = [\"no-such-program-procbox --version\", \"echo **\"]\n",
    )
    .unwrap();
    let manifest = manifest.to_str().unwrap();
    let tail = "rule 'no-such-program-procbox --version': program not found on this host; ignored";

    let run = bounded!(procbox(&[
        "run",
        procbox_tests::guests::EXIT,
        "--manifest",
        manifest,
        "--allow-run=echo",
        "--",
        "0"
    ]));
    assert_one_warning(&run, tail);
    assert!(run.stderr.contains(manifest), "the warning names the manifest: {run:?}");

    let explain = bounded!(procbox(&[
        "explain",
        "--manifest",
        manifest,
        "--allow-run=echo",
        "--",
        "echo",
        "hi"
    ]));
    assert_one_warning(&explain, tail);
    assert!(explain.stdout.starts_with("allowed: "), "{explain:?}");
}
