//! The Python guests, plugins in a second language on the Python SDK
//! (`guests/python/sdk`, `import procbox`), built from the same WIT with
//! componentize-py from PyPI (`guests/python/build.sh`) and run through the
//! real procbox binary against real processes:
//! - `tests/fixtures/python/scenarios`: the original AsyncProcess design's
//!   scenarios and the SDK's stream methods;
//! - `guests/python/examples/topn`: a pipeline tool written on the SDK.
//!
//! The plugins are built and compiled into the test cache once per test
//! binary (`procbox_tests::language`). If the toolchain cannot be installed
//! here (build.sh exits 77: no Python 3.10+, no venv, or pip cannot fetch
//! componentize-py), every test prints why and passes without running,
//! unless `PROCBOX_REQUIRE_PYTHON` is set (then they fail); any other build
//! failure fails them.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::Duration;

use procbox_tests::language::{repo, sleeping_with, PYTHON};
use procbox_tests::{procbox, process_exists, Run};
use tokio::sync::OnceCell;

/// Generous, for a first run: pip install, componentize (about 25 s) and the
/// cold compile (about 25 s), on a machine that may be busy.
const DEADLINE: Duration = Duration::from_secs(300);

/// Awaits `test`, failing after [`DEADLINE`].
async fn within<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, test).await.expect("test deadline")
}

/// The built plugins, or why they cannot be built here.
static TOPN: OnceCell<Result<PathBuf, String>> = OnceCell::const_new();
static SCENARIOS: OnceCell<Result<PathBuf, String>> = OnceCell::const_new();
static RECENT: OnceCell<Result<PathBuf, String>> = OnceCell::const_new();

/// The topn plugin's `.wasm` (see `Language::plugin`).
async fn plugin() -> Option<&'static Path> {
    PYTHON.plugin(&TOPN, "topn").await
}

/// `procbox run topn.wasm --manifest guests/python/examples/topn/topn.manifest.toml
/// FLAGS -- ARGS`.
async fn topn(wasm: &Path, flags: &[&str], args: &[&str]) -> Run {
    let manifest = repo().join("guests/python/examples/topn/topn.manifest.toml");
    let (wasm, manifest) = (wasm.to_str().unwrap(), manifest.to_str().unwrap());
    // The inputs live in temporary directories, which children may then read.
    let read = format!("--allow-read={}", std::env::temp_dir().display());
    let mut argv = vec!["run", wasm, "--manifest", manifest, &read];
    argv.extend(flags);
    argv.push("--");
    argv.extend(args);
    let run = procbox(&argv).await;
    assert!(!run.stderr.contains("Traceback"), "the plugin raised: {run:?}");
    run
}

/// The grants topn needs; its manifest narrows them to `sort -- FILE...`,
/// `uniq -c` and `sort -rn`.
const GRANTS: &[&str] = &["--allow-run=sort", "--allow-run=uniq -c"];

/// What the shell prints for the same pipeline over the same files, with
/// the same empty environment (apart from PATH, to find the programs).
fn native(files: &[&str], n: usize) -> String {
    let script = format!("sort -- \"$@\" | uniq -c | sort -rn | head -n {n}");
    let out = StdCommand::new("sh")
        .args(["-c", &script, "sh"])
        .args(files)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").expect("PATH"))
        .output()
        .expect("run the pipeline natively");
    assert!(out.status.success(), "native pipeline: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Three files of lines with different frequencies (and ties), large
/// enough that the pipes between the stages fill up.
fn inputs(dir: &Path) -> Vec<String> {
    (0..3)
        .map(|file| {
            let path = dir.join(format!("input-{file}.txt"));
            let text: String = (0..6000)
                .map(|i| match i % 4 {
                    0 => format!("word {}\n", (i * 7 + file) % 23),
                    1 => format!("GET /page/{}\n", i % 41),
                    2 => format!("{}\n", i % 3),
                    _ => format!("line {} with spaces\n", (i * i) % 101),
                })
                .collect();
            std::fs::write(&path, text).unwrap();
            path.to_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn prints_what_the_shell_pipeline_prints() {
    within(async {
        let Some(wasm) = plugin().await else { return };
        let dir = tempfile::tempdir().unwrap();
        let files = inputs(dir.path());
        let files: Vec<&str> = files.iter().map(String::as_str).collect();

        let mut args = vec!["-n", "7"];
        args.extend(&files);
        let run = topn(wasm, GRANTS, &args).await;
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.stdout, native(&files, 7), "{run:?}");
        assert_eq!(run.stdout.lines().count(), 7, "{run:?}");
        assert_eq!(run.stderr, "", "{run:?}");

        // Without -n: ten lines.
        let run = topn(wasm, GRANTS, &files).await;
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.stdout, native(&files, 10), "{run:?}");
        assert_eq!(run.stdout.lines().count(), 10, "{run:?}");
    })
    .await
}

#[tokio::test]
async fn a_stage_without_a_grant_is_refused_and_nothing_is_left_running() {
    within(async {
        let Some(wasm) = plugin().await else { return };
        // A FIFO that nobody writes: the first stage, `sort`, blocks opening
        // it, so it is still running when the second stage is refused.
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("never-written");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");

        // `sort` is granted, `uniq` is not.
        let run = topn(wasm, &["--allow-run=sort"], &["-v", fifo.to_str().unwrap()]).await;
        assert_eq!(run.code, Some(3), "{run:?}");
        assert!(
            run.stderr.contains("stage 2 `uniq -c` was not allowed") && run.stderr.contains("/uniq"),
            "names the refused program: {run:?}"
        );
        assert_eq!(run.stdout, "", "{run:?}");

        let pids: Vec<u32> = run
            .stderr
            .lines()
            .filter_map(|line| line.split_once("started, pid ")?.1.parse().ok())
            .collect();
        assert_eq!(pids.len(), 1, "only `sort` started: {run:?}");
        for pid in pids {
            assert!(!process_exists(pid), "stage pid {pid} is still there: {run:?}");
        }
    })
    .await
}

#[tokio::test]
async fn bad_arguments_print_the_usage_and_exit_2() {
    within(async {
        let Some(wasm) = plugin().await else { return };
        for (args, complaint) in [
            (&["-n", "many", "file.txt"][..], "-n: not a positive number: 'many'"),
            (&["--lines=0", "file.txt"][..], "--lines: not a positive number: '0'"),
            (&["--frobnicate", "file.txt"][..], "unknown option '--frobnicate'"),
            (&[][..], "no FILE given"),
        ] {
            let run = topn(wasm, GRANTS, args).await;
            assert_eq!(run.code, Some(2), "{args:?}: {run:?}");
            assert!(run.stderr.contains(&format!("topn: {complaint}")), "{args:?}: {run:?}");
            assert!(
                run.stderr.contains("usage: topn [-n N] [-v] FILE..."),
                "{args:?}: {run:?}"
            );
            assert_eq!(run.stdout, "", "{args:?}: {run:?}");
        }

        let run = topn(wasm, GRANTS, &["--help"]).await;
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(run.stdout.starts_with("usage: topn"), "{run:?}");
    })
    .await
}

#[tokio::test]
async fn a_missing_input_fails_the_sort_stage_and_exits_1() {
    within(async {
        let Some(wasm) = plugin().await else { return };
        let dir = tempfile::tempdir().unwrap();
        let present = dir.path().join("present.txt");
        std::fs::write(&present, "a\nb\na\n").unwrap();
        let missing = dir.path().join("missing.txt");
        let (present, missing) = (present.to_str().unwrap(), missing.to_str().unwrap());

        // How sort itself fails on it, natively.
        let sort = StdCommand::new("sort").args(["--", missing]).output().unwrap();
        let status = sort.status.code().expect("sort exited");
        assert_ne!(status, 0);

        let run = topn(wasm, GRANTS, &[present, missing]).await;
        assert_eq!(run.code, Some(1), "{run:?}");
        let stage = format!("topn: stage 1 `sort -- {present} {missing}` failed: exit status {status}");
        assert!(run.stderr.contains(&stage), "expected {stage:?} in {run:?}");
        assert!(
            run.stderr.contains("No such file or directory"),
            "sort's own message: {run:?}"
        );
        assert!(!run.stderr.contains("stage 2"), "uniq and sort -rn succeeded: {run:?}");
        assert_eq!(run.stdout, "", "no partial result: {run:?}");
    })
    .await
}

/// The SDK's success rule, pipeline rule and quoting, against the same
/// tables as the Rust SDK's unit tests (`guests/python/sdk/rules_test.py`,
/// plain CPython 3.10+ with stand-ins for the bindings; no componentize-py).
#[tokio::test]
async fn the_sdk_follows_the_success_and_pipeline_rules_and_quotes_as_the_host() {
    within(async {
        let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
        let recent = tokio::process::Command::new(&python)
            .args(["-c", "import sys; sys.exit(sys.version_info < (3, 10))"])
            .kill_on_drop(true)
            .status()
            .await;
        if !recent.is_ok_and(|status| status.success()) {
            let reason = format!("{} is missing or older than 3.10", python.to_string_lossy());
            if std::env::var_os("PROCBOX_REQUIRE_PYTHON").is_some() {
                panic!("PROCBOX_REQUIRE_PYTHON is set, but {reason}");
            }
            procbox_tests::skip(&reason);
            return;
        }
        let out = tokio::process::Command::new(&python)
            .arg(repo().join("guests/python/sdk/rules_test.py"))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .expect("start python");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    })
    .await
}

/// What the scenarios run: the programs, and the helpers `sh -c` scripts
/// execute (confined children execute only what is granted).
const SCENARIO_GRANTS: &[&str] = &[
    "--allow-run=echo,sh,true,sleep,cat,sort,uniq,printf,head",
    "--allow-helper=/usr/bin/head",
    "--allow-helper=/usr/bin/sleep",
    "--allow-helper=/usr/bin/cat",
    "--allow-helper=/usr/bin/sort",
];

/// Every scenario of `tests/fixtures/python/scenarios/app.py`, in its order: one
/// that stops running (or is renamed) fails the test.
const SCENARIOS_RUN: &[&str] = &[
    "hello_world_captured",
    "stdout_and_stderr_read",
    "lines_stream_while_the_child_runs",
    "a_context_manager_around_a_process_that_already_exited",
    "a_queue_of_commands_sequential_and_parallel",
    "a_timeout_kills",
    "a_signal_sent",
    "closing_while_other_tasks_wait_on_the_process",
    "what_a_demanding_user_does_wrong_is_handled",
    "json_decoded",
    "one_mib_on_stdout_and_stderr_at_once",
    "a_denied_command_is_a_typed_exception",
    "stdin_backpressure_round_trip",
    "communicate_with_input",
    "reading_exactly_and_up_to_a_separator",
    "check_errors_carry_the_command_status_and_stderr",
    "task_groups_gather_and_wait_for",
    "a_pipeline_child_to_child",
];

/// The marker in the command line of every child the scenarios must stop.
const LONG_SLEEP: &str = "3600.4242";

async fn scenarios(args: &[&str]) -> Option<Run> {
    let wasm = PYTHON.plugin(&SCENARIOS, "scenarios").await?;
    let mut argv = vec!["run", wasm.to_str().unwrap()];
    argv.extend(SCENARIO_GRANTS);
    argv.push("--");
    argv.extend(args);
    Some(procbox(&argv).await)
}

#[tokio::test]
async fn the_original_design_s_scenarios_pass_end_to_end_and_leave_nothing_running() {
    within(async {
        let Some(run) = scenarios(&[]).await else { return };
        assert_eq!(run.code, Some(0), "{run:?}");
        let passed: Vec<&str> = run.stdout.lines().filter_map(|l| l.strip_prefix("ok ")).collect();
        assert_eq!(passed, SCENARIOS_RUN, "{run:?}");
        assert!(!run.stderr.contains("Traceback"), "{run:?}");
        // Each child a scenario stopped (killed, timed out, left in an
        // `async with`) is gone, not merely abandoned.
        assert_eq!(sleeping_with(LONG_SLEEP), Vec::<u32>::new());
    })
    .await
}

#[tokio::test]
async fn the_synchronous_facade_runs_without_an_event_loop() {
    within(async {
        let Some(run) = scenarios(&["sync"]).await else { return };
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.stdout, "ok sync_facade\n", "{run:?}");
    })
    .await
}

#[tokio::test]
async fn the_first_asyncio_run_gets_the_loop_made_at_build_fresh_and_the_next_a_new_one() {
    within(async {
        let Some(run) = scenarios(&["loops"]).await else { return };
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.stdout, "ok event_loops\n", "{run:?}");
    })
    .await
}

#[tokio::test]
async fn a_procbox_error_that_escapes_main_is_one_line_and_exit_1() {
    within(async {
        // Without `printf` granted, the SDK's typed denial escapes the
        // scenario: the plugin exits 1 with one line naming the refused
        // command and its fix, not a traceback.
        let Some(wasm) = PYTHON.plugin(&SCENARIOS, "scenarios").await else {
            return;
        };
        let run = procbox(&[
            "run",
            wasm.to_str().unwrap(),
            "--allow-run=echo",
            "--",
            "reading_exactly_and_up_to_a_separator",
        ])
        .await;
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(
            run.stderr
                .starts_with("scenarios.wasm: `printf abc:defgh` was denied: ")
                && run.stderr.contains("--allow-run 'printf abc:defgh'"),
            "{run:?}"
        );
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    })
    .await
}

/// `procbox new --lang python NAME` outside the repository: its build.sh
/// (componentize-py from PyPI, the vendored SDK and WIT) builds a plugin
/// that runs, with its manifest embedded.
#[tokio::test]
async fn a_new_python_plugin_builds_and_runs_outside_the_repository() {
    within(async {
        // The toolchain check, and the shared venv, of the other tests.
        if plugin().await.is_none() {
            return;
        }
        PYTHON.new_project_builds_and_runs("python").await;
    })
    .await
}

/// The README's small task in Python: the last N commits.
#[tokio::test]
async fn recent_prints_the_last_commits() {
    within(async {
        let Some(wasm) = PYTHON.plugin(&RECENT, "recent").await else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let repo = procbox_tests::git_repository(dir.path(), 7);
        let argv = ["run", wasm.to_str().unwrap(), "--allow-run=git log **", "--", "3"];
        let run = procbox_tests::procbox_in(&repo, &argv).await;
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(
            run.stdout,
            procbox_tests::git_in(&repo, &["log", "--oneline", "-n", "3"]),
            "{run:?}"
        );
    })
    .await
}

/// `guests/python/build.sh DIR [OUT]` from inside a plugin directory
/// outside the repository: `.`, relative and absolute paths, an OUT inside
/// DIR; a user's mistake is one line, and a syntax error in app.py shows
/// Python's message for it, at app.py's real path, without
/// componentize-py's own traceback or a Rust backtrace.
#[tokio::test]
async fn the_build_script_works_from_anywhere_and_fails_in_one_line() {
    within(async {
        if PYTHON.plugin(&TOPN, "topn").await.is_none() {
            return;
        }
        PYTHON.script_builds_from_anywhere("topn", "app.py").await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.py"), "import procbox\ndef (:\n").unwrap();
        let script = repo().join("guests/python/build.sh");
        let built = PYTHON.run_script(&script, &[".", "x.wasm"], dir.path()).await;
        assert_eq!(built.code, Some(1), "{built:?}");
        let app = dir.path().join("app.py").canonicalize().unwrap();
        assert!(
            built.stderr.contains("SyntaxError")
                && built.stderr.contains(&format!("File \"{}\", line 2", app.display())),
            "{built:?}"
        );
        assert!(
            !built.stderr.contains("bin/componentize-py") && !built.stderr.contains("Stack backtrace"),
            "{built:?}"
        );
    })
    .await
}

/// A `procbox new --lang python` project's build.sh from anywhere.
#[tokio::test]
async fn a_new_python_project_builds_from_anywhere() {
    within(async {
        if PYTHON.plugin(&TOPN, "topn").await.is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        PYTHON
            .new_project_script_builds_from_anywhere("python", dir.path(), "app.py")
            .await;
    })
    .await
}
