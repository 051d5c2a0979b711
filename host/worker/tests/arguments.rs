//! The worker's own command line: mistakes are one line and a non-zero
//! exit, before anything connects. (Runs against a Temporal server are in
//! `tests/suite/tests/worker.rs`; this file also makes `cargo test` build
//! the `procbox-worker` binary those tests run.)

use std::process::Command;

fn worker(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_procbox-worker"))
        .args(args)
        .output()
        .expect("run procbox-worker");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_missing_option_is_one_line_naming_it() {
    let (code, stderr) = worker(&["--temporal", "127.0.0.1:7233"]);
    assert_eq!(code, Some(2));
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("procbox worker: ") && first.contains("--task-queue"),
        "{stderr}"
    );
}

#[test]
fn a_worker_toml_it_cannot_use_stops_it_before_it_connects() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.toml");
    std::fs::write(&config, "[plugins.a]\npath = \"a.wasm\"\nallow-inherit = true\n").unwrap();
    let config = config.to_string_lossy().into_owned();
    // Nothing listens on port 1: an error about the file, not the server.
    let (code, stderr) = worker(&["--temporal", "127.0.0.1:1", "--task-queue", "q", "--config", &config]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("allow-inherit is refused in worker.toml"), "{stderr}");
    let missing = dir.path().join("nope.toml").to_string_lossy().into_owned();
    let (code, stderr) = worker(&["--temporal", "127.0.0.1:1", "--task-queue", "q", "--config", &missing]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("nope.toml"), "{stderr}");
}

#[test]
fn a_plugin_granted_writes_over_worker_toml_or_a_plugin_file_is_refused_at_start() {
    // A plugin that may write worker.toml or a plugin file could widen the
    // grants of every run after the worker's next restart.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("worker.toml");
    let plugin = dir.path().join("p.wasm");
    std::fs::write(&plugin, b"\0asm\x0d\0\x01\0").unwrap();
    let run = |text: String| {
        std::fs::write(&config, text).unwrap();
        let config = config.to_string_lossy().into_owned();
        worker(&["--temporal", "127.0.0.1:1", "--task-queue", "q", "--config", &config])
    };
    let base = format!("[plugins.p]\npath = {:?}\n", plugin);
    for grant in [dir.path().to_path_buf(), dir.path().join("..")] {
        let (code, stderr) = run(format!("{base}allow-write = [{:?}]\n", grant));
        assert_eq!(code, Some(1));
        assert!(
            stderr.contains("could rewrite") && stderr.contains("worker.toml"),
            "{stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}
