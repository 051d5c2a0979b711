//! The command line: bad input gets one clear line (and a hint, where one
//! helps) and a non-zero exit, never a panic; every `--help` has examples;
//! slow compiles report progress; the demo works.

use std::path::Path;

use procbox_tests::help::{commands_in, flags_in};
use procbox_tests::{bounded, procbox, procbox_bin, procbox_in, procbox_with_env, Run, TEST_DEADLINE};

mod runs;
mod self_docs;

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
    assert_failure(run, 125, expected);
}

/// procbox failed with `code`: `procbox: error: …` holding `expected` on
/// one line, then at most one `  hint: …` line, and nothing else. Returns
/// the hint, if any.
fn assert_failure(run: &Run, code: i32, expected: &str) -> Option<String> {
    assert_eq!(run.code, Some(code), "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
    let mut lines = run.stderr.lines();
    let error = lines.next().unwrap_or_default();
    assert!(error.starts_with("procbox: error: "), "{run:?}");
    assert!(error.contains(expected), "expected {expected:?} in {:?}", run.stderr);
    let hint = lines.next().map(|line| {
        line.strip_prefix("  hint: ")
            .unwrap_or_else(|| panic!("the second line is a hint: {:?}", run.stderr))
            .to_string()
    });
    assert_eq!(lines.next(), None, "one line and a hint: {:?}", run.stderr);
    hint
}

/// As [`assert_failure`], with a hint that contains `expected_hint`.
fn assert_failure_with_hint(run: &Run, code: i32, expected: &str, expected_hint: &str) {
    let hint = assert_failure(run, code, expected).unwrap_or_else(|| panic!("no hint: {run:?}"));
    assert!(
        hint.contains(expected_hint),
        "expected {expected_hint:?} in the hint {hint:?}"
    );
}

#[tokio::test]
async fn a_missing_plugin_file() {
    let run = tokio::time::timeout(TEST_DEADLINE, procbox(&["run", "/no/such/plugin.wasm"]))
        .await
        .expect("deadline");
    assert_failure_with_hint(
        &run,
        125,
        "cannot read plugin /no/such/plugin.wasm: No such file or directory",
        "check the path",
    );
    assert_eq!(run.stderr.matches("No such file").count(), 1, "the cause once: {run:?}");
}

#[tokio::test]
async fn a_file_that_is_not_wasm() {
    assert_failure_with_hint(
        &run_file(b"#!/bin/sh\necho hi\n").await,
        125,
        "is not a WebAssembly file",
        "--target wasm32-wasip2",
    );
}

#[tokio::test]
async fn an_empty_file() {
    assert_clear_failure(&run_file(b"").await, "is not a WebAssembly file");
}

#[tokio::test]
async fn a_core_module_instead_of_a_component() {
    let module = wat::parse_str("(module (func (export \"_start\")))").unwrap();
    let run = run_file(&module).await;
    assert_failure_with_hint(
        &run,
        125,
        "is a core WebAssembly module, not a component",
        "`wasm-tools component new`",
    );
    assert!(run.stderr.contains("build for wasm32-wasip2"), "{run:?}");
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
    assert_failure_with_hint(
        &run,
        125,
        "is not a procbox plugin",
        "the plugin must target procbox:host/plugin; see `procbox inspect",
    );
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
    assert_failure_with_hint(&run, 2, "<PLUGIN>", "procbox run --help");
}

#[tokio::test]
async fn an_unknown_flag_is_one_line_with_clap_s_tip() {
    let run = bounded!(procbox(&["run", "--no-cach", "plugin.wasm"]));
    assert_failure_with_hint(&run, 2, "unexpected argument '--no-cach'", "'--no-cache'");
}

#[tokio::test]
async fn a_grant_that_does_not_resolve() {
    let run = bounded!(procbox(&[
        "run",
        procbox_tests::guests::EXIT,
        "--allow-run",
        "no-such-program-procbox --version"
    ]));
    assert_failure_with_hint(
        &run,
        2,
        "--allow-run: rule 'no-such-program-procbox --version': not found",
        "is no-such-program-procbox installed and on PATH? use an absolute path",
    );
}

#[tokio::test]
async fn a_bad_glob_in_a_rule() {
    let run = bounded!(procbox(&["explain", "--allow-run", "git log [a", "--", "git", "log"]));
    assert_failure_with_hint(
        &run,
        2,
        "rule 'git log [a': pattern \"[a\" is not a valid glob",
        "[...]",
    );
}

#[tokio::test]
async fn a_bad_grants_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let grants = dir.path().join("grants.toml");
    std::fs::write(&grants, "allow-run = [\"echo\"]\nallow-everything = true\n").unwrap();
    let run = bounded!(procbox(&[
        "explain",
        "--grants",
        grants.to_str().unwrap(),
        "--",
        "echo"
    ]));
    assert_failure_with_hint(
        &run,
        2,
        &format!("{}:2: unknown field `allow-everything`", grants.display()),
        "The grants file",
    );
    let missing = bounded!(procbox(&["explain", "--grants", "/no/such/grants.toml", "--", "echo"]));
    assert_failure_with_hint(
        &missing,
        2,
        "cannot read the grants file /no/such/grants.toml: No such file or directory",
        "--grants",
    );
}

#[tokio::test]
async fn a_trap_is_one_line_naming_the_function() {
    let run = bounded!(procbox(&["run", procbox_tests::guests::FORGE_HANDLE, "--", "77"]));
    assert_failure_with_hint(
        &run,
        125,
        // The innermost function of the plugin's own crate, whichever the
        // compiler did not inline.
        "trapped: unknown handle index 77 (in forge_handle::",
        "procbox -v run",
    );
}

#[tokio::test]
async fn running_out_of_time_says_which_flag_to_raise() {
    let run = bounded!(procbox(&[
        "run",
        procbox_tests::guests::UNBOUNDED_SLEEP,
        "--allow-run=sleep",
        "--max-plugin-time=200ms",
    ]));
    assert_failure_with_hint(
        &run,
        124,
        "ran out of its time budget of 200ms",
        "raise --max-plugin-time",
    );
}

#[tokio::test]
async fn new_refuses_an_existing_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    let run = bounded!(procbox_in(dir.path(), &["new", "taken"]));
    assert_failure_with_hint(&run, 2, "taken already exists", "choose another name");
}

/// The lines after `Examples:` in `procbox ARGS --help`.
async fn help_examples(args: &[&str]) -> Vec<String> {
    let mut argv = args.to_vec();
    argv.push("--help");
    let run = bounded!(procbox(&argv));
    assert_eq!(run.code, Some(0), "{run:?}");
    let (_, examples) = run
        .stdout
        .split_once("Examples:\n")
        .unwrap_or_else(|| panic!("no Examples: in {argv:?}:\n{}", run.stdout));
    let examples: Vec<String> = examples
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(|line| line.trim().to_string())
        .collect();
    assert!((2..=4).contains(&examples.len()), "{argv:?}: {examples:?}");
    examples
}

#[tokio::test]
async fn every_help_has_examples_of_its_own_command() {
    for sub in ["run", "demo", "inspect", "explain", "compile", "new", "doctor"] {
        let examples = help_examples(&[sub]).await;
        assert!(
            examples[0].starts_with(&format!("procbox {sub}")),
            "the first example of {sub}: {examples:?}"
        );
    }
    let top = help_examples(&[]).await;
    assert!(top[0].starts_with("procbox "), "{top:?}");
}

/// `procbox inspect X | head -1` and friends: a reader that has gone away
/// ends the output quietly, without a panic and with the command's own
/// exit status.
#[tokio::test]
async fn a_closed_stdout_is_not_a_panic() {
    let cases: [(&[&str], i32); 3] = [
        (&["inspect", procbox_tests::guests::SYSINFO], 0),
        (&["explain", "--allow-run=git", "--", "git", "status"], 0),
        (&["explain", "--", "git", "push"], 3),
    ];
    for (args, expected) in cases {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // every write to stdout now fails with EPIPE
        let mut command = tokio::process::Command::new(procbox_tests::procbox_bin());
        command
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let out = tokio::time::timeout(TEST_DEADLINE, command.output())
            .await
            .expect("test deadline")
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// Arguments that are not UTF-8: a usage error where a word is expected, a
/// path like any other where a path is; never a panic.
#[tokio::test]
async fn arguments_that_are_not_utf8_do_not_panic() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let bad = OsStr::from_bytes(b"\xff\xfe");
    let cases = [
        (vec![bad], 2, "unrecognized subcommand"),
        (vec![OsStr::new("run"), bad], 125, "cannot read plugin"),
    ];
    for (args, code, message) in cases {
        let out = tokio::time::timeout(
            TEST_DEADLINE,
            tokio::process::Command::new(procbox_tests::procbox_bin())
                .args(&args)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("test deadline")
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.starts_with("procbox: error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
