//! The command line: bad input gets one clear line and a non-zero exit,
//! never a panic; the demo works.

use procbox_tests::{bounded, procbox, Run, TEST_DEADLINE};

/// Runs `procbox run FILE` on a file holding `bytes`.
async fn run_file(bytes: &[u8]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plugin.wasm");
    std::fs::write(&path, bytes).expect("write plugin");
    tokio::time::timeout(TEST_DEADLINE, procbox(&["run", path.to_str().unwrap()]))
        .await
        .expect("test deadline")
}

fn assert_clear_failure(run: &Run, expected: &str) {
    assert_eq!(run.code, Some(125), "{run:?}");
    assert!(run.stderr.starts_with("procbox: error: "), "{run:?}");
    assert!(
        run.stderr.contains(expected),
        "expected {expected:?} in {:?}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{run:?}");
    assert_eq!(run.stderr.trim_end().lines().count(), 1, "one line: {:?}", run.stderr);
}

#[tokio::test]
async fn a_missing_plugin_file() {
    let run = tokio::time::timeout(TEST_DEADLINE, procbox(&["run", "/no/such/plugin.wasm"]))
        .await
        .expect("deadline");
    assert_clear_failure(
        &run,
        "cannot read plugin /no/such/plugin.wasm: No such file or directory",
    );
}

#[tokio::test]
async fn a_file_that_is_not_wasm() {
    assert_clear_failure(&run_file(b"#!/bin/sh\necho hi\n").await, "is not a WebAssembly file");
}

#[tokio::test]
async fn an_empty_file() {
    assert_clear_failure(&run_file(b"").await, "is not a WebAssembly file");
}

#[tokio::test]
async fn a_core_module_instead_of_a_component() {
    let module = wat::parse_str("(module (func (export \"_start\")))").unwrap();
    assert_clear_failure(
        &run_file(&module).await,
        "is a core WebAssembly module, not a component",
    );
}

#[tokio::test]
async fn a_truncated_component() {
    let mut component = wat::parse_str("(component (core module (func (export \"f\"))))").unwrap();
    component.truncate(component.len() - 3);
    assert_clear_failure(&run_file(&component).await, "is not a valid WebAssembly component");
}

#[tokio::test]
async fn a_component_that_imports_another_world() {
    let component =
        wat::parse_str("(component (import \"acme:thing/iface\" (instance (export \"f\" (func)))))").unwrap();
    let run = run_file(&component).await;
    assert_clear_failure(&run, "is not a procbox plugin");
    assert!(
        run.stderr.contains("acme:thing/iface"),
        "names the unknown import: {run:?}"
    );
}

#[tokio::test]
async fn a_component_that_is_not_a_command() {
    let component = wat::parse_str("(component)").unwrap();
    let run = run_file(&component).await;
    assert_clear_failure(&run, "is not a procbox plugin");
    assert!(run.stderr.contains("wasi:cli/run"), "{run:?}");
}

#[tokio::test]
async fn a_usage_error_exits_with_2() {
    let run = tokio::time::timeout(TEST_DEADLINE, procbox(&["run"]))
        .await
        .expect("deadline");
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("<PLUGIN>"), "{run:?}");
}

#[tokio::test]
async fn the_demo_walks_through_every_step() {
    let run = tokio::time::timeout(TEST_DEADLINE, procbox(&["demo"]))
        .await
        .expect("deadline");
    assert_eq!(run.code, Some(0), "{run:?}");
    let expected = [
        "may run only",
        "echo printed \"hello world\"",
        "round trip intact: true",
        "matched: ERROR disk almost full",
        "matched: ERROR connection reset",
        "read 1048576 bytes of stdout and 1048576 bytes of stderr concurrently",
        "both copies intact: true",
        "refused, as it should be",
        "All steps done",
    ];
    for text in expected {
        assert!(run.stdout.contains(text), "missing {text:?} in:\n{}", run.stdout);
    }
}

#[tokio::test]
async fn verbose_prints_each_command_and_how_it_ended() {
    let echo = std::path::Path::new("/usr/bin/echo").canonicalize().unwrap();
    let run = bounded!(procbox(&[
        "-v",
        "run",
        procbox_tests::guests::SCENARIOS,
        "--allow-run=echo",
        "--",
        "echo"
    ]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stderr.contains(&format!("$ {} hello world", echo.display())),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains(&format!("{} hello world: exit code 0 after", echo.display())),
        "{run:?}"
    );
    assert!(!run.stderr.contains('\x1b'), "no colour codes in a pipe: {run:?}");
}

#[tokio::test]
async fn run_compiles_once_into_the_cache_unless_told_not_to() {
    let cache = tempfile::tempdir().unwrap();
    let entries = || std::fs::read_dir(cache.path()).map(|d| d.count()).unwrap_or(0);
    let vars = [("PROCBOX_CACHE_DIR", cache.path())];
    let args = ["run", procbox_tests::guests::SCENARIOS, "--", "exit", "0"];
    let no_cache = ["run", "--no-cache", procbox_tests::guests::SCENARIOS, "--", "exit", "0"];
    assert_eq!(
        bounded!(procbox_tests::procbox_with_env(&vars, &no_cache)).code,
        Some(0)
    );
    assert_eq!(entries(), 0, "--no-cache writes nothing");
    assert_eq!(bounded!(procbox_tests::procbox_with_env(&vars, &args)).code, Some(0));
    assert_eq!(entries(), 1, "the first run stores the compiled plugin");
    let compile = bounded!(procbox_tests::procbox_with_env(
        &vars,
        &["compile", procbox_tests::guests::SCENARIOS]
    ));
    assert!(compile.stdout.contains("is already compiled"), "{compile:?}");
    assert_eq!(entries(), 1);
}
