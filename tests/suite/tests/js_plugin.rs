//! The JavaScript guests, on the JavaScript SDK (`guests/js/sdk/procbox.js`),
//! built from the same WIT with componentize-js from npm
//! (`guests/js/build.sh`) and run through the real procbox binary against
//! real processes:
//! - `tests/fixtures/js/scenarios`: the SDK's `$` tag, `Command` builder, lines as
//!   they come, stdout and stderr together, typed errors, timeouts;
//! - `guests/js/examples/recent`: the example, `` $`git log --oneline -n ${n}` ``;
//! - `tests/fixtures/js/concurrent`: `$`'s pending processes (concurrent through
//!   one reactor; `.nothrow()`, `.quiet()`, `.pipe()`, `lines()`, `.kill()`,
//!   `exitCode`, `using`) and the plugin memory they need.
//!
//! The plugins are built and compiled into the test cache once per test
//! binary (`procbox_tests::language`). If the toolchain cannot be installed
//! here (build.sh exits 77: no node or npm, or npm cannot fetch the
//! packages), every test prints why and passes without running, unless
//! `PROCBOX_REQUIRE_JS` is set (then they fail).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use procbox_tests::language::{code_blocks, is_wasm, repo, sleeping_with, tsc, JAVASCRIPT};
use procbox_tests::{git_in, git_repository, procbox, procbox_in, procbox_long};
use tokio::sync::OnceCell;

/// Generous, for a first run: npm install, componentize (about 15 s) and
/// the cold compile, on a machine that may be busy (CI's has been 2.5 times
/// slower than a quiet one), and the 100 MB stream below.
const DEADLINE: Duration = Duration::from_secs(600);

/// The 100 MB stream's run: about 20 s on a quiet machine.
const STREAM_DEADLINE: Duration = Duration::from_secs(240);

async fn within<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, test).await.expect("test deadline")
}

static SCENARIOS: OnceCell<Result<PathBuf, String>> = OnceCell::const_new();
static RECENT: OnceCell<Result<PathBuf, String>> = OnceCell::const_new();

/// Every check of `tests/fixtures/js/scenarios/app.js`, in its order.
const CHECKS: &[&str] = &[
    "dollar_builds_an_argv_without_a_shell",
    "await_works_in_an_async_main",
    "big_input_while_reading_output",
    "waiting_drains_pipes_nobody_reads",
    "command_builder_and_json",
    "lines_arrive_while_the_child_runs",
    "stdout_and_stderr_together_without_deadlock",
    "failures_are_command_errors_with_the_command_and_stderr",
    "a_denied_command_is_a_spawn_error",
    "a_timeout_stops_the_child",
];

#[tokio::test]
async fn the_sdk_s_checks_pass_end_to_end_and_leave_nothing_running() {
    within(async {
        let Some(wasm) = JAVASCRIPT.plugin(&SCENARIOS, "scenarios").await else {
            return;
        };
        let run = procbox(&[
            "run",
            wasm.to_str().unwrap(),
            "--allow-run=printf,echo,sh,sort,sleep,head,cat",
            "--allow-helper=/usr/bin/head",
            "--allow-env=N=42",
        ])
        .await;
        assert_eq!(run.code, Some(0), "{run:?}");
        let passed: Vec<&str> = run.stdout.lines().filter_map(|l| l.strip_prefix("ok ")).collect();
        assert_eq!(passed, CHECKS, "{run:?}");
        assert_eq!(sleeping_with("3600.4243"), Vec::<u32>::new());
    })
    .await
}

#[tokio::test]
async fn dollar_git_log_prints_the_last_commits() {
    within(async {
        let Some(wasm) = JAVASCRIPT.plugin(&RECENT, "recent").await else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let repo = git_repository(dir.path(), 7);
        let wasm = wasm.to_str().unwrap();
        let run = procbox_in(&repo, &["run", wasm, "--allow-run=git log **", "--", "3"]).await;
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.stdout, git_in(&repo, &["log", "--oneline", "-n", "3"]), "{run:?}");
        // An interpolated value is one argument, never shell text.
        let run = procbox_in(&repo, &["run", wasm, "--allow-run=git log **", "--", "3; id"]).await;
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(
            run.stderr.contains("`git log --oneline -n \"3; id\"` failed"),
            "{run:?}"
        );
        // Without the grant: one line, naming the fix.
        let run = procbox_in(&repo, &["run", wasm]).await;
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(
            run.stderr
                .starts_with("recent.wasm: `git log --oneline -n 5` was denied:")
                && run.stderr.contains("--allow-run"),
            "{run:?}"
        );
    })
    .await
}

static TYPED: OnceCell<Result<PathBuf, String>> = OnceCell::const_new();

/// A TypeScript plugin (`guests/js/examples/typed/app.ts`): build.sh takes `app.ts`
/// as well, and esbuild strips its types.
#[tokio::test]
async fn a_typescript_plugin_builds_and_runs() {
    within(async {
        let Some(wasm) = JAVASCRIPT.plugin(&TYPED, "typed").await else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let (one, three) = (dir.path().join("one.txt"), dir.path().join("three.txt"));
        std::fs::write(&one, "a\n").unwrap();
        std::fs::write(&three, "a\nb\nc\n").unwrap();
        let read = format!("--allow-read={}", dir.path().display());
        let (one, three) = (one.to_str().unwrap(), three.to_str().unwrap());
        let run = procbox(&[
            "run",
            wasm.to_str().unwrap(),
            "--allow-run=wc -l *",
            &read,
            "--",
            one,
            three,
        ])
        .await;
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.stdout, format!("3 {three}\n1 {one}\n"), "{run:?}");
    })
    .await
}

/// `procbox new --lang js` outside the repository: its build.sh
/// (componentize-js and esbuild from npm, the vendored SDK and WIT) builds
/// a plugin that runs, with its manifest embedded.
#[tokio::test]
async fn a_new_javascript_plugin_builds_and_runs_outside_the_repository() {
    within(async {
        // The toolchain check, and the shared toolchain, of the other tests.
        if JAVASCRIPT.plugin(&RECENT, "recent").await.is_none() {
            return;
        }
        JAVASCRIPT.new_project_builds_and_runs("js").await;
    })
    .await
}

/// `guests/js/build.sh DIR [OUT]` from inside a plugin directory outside
/// the repository: `.`, relative and absolute paths, an OUT inside DIR;
/// a user's mistake is one line (componentize-js's own words for a
/// mistake in the app, without a stack trace).
#[tokio::test]
async fn the_build_script_works_from_anywhere_and_fails_in_one_line() {
    within(async {
        if JAVASCRIPT.plugin(&RECENT, "recent").await.is_none() {
            return;
        }
        JAVASCRIPT.script_builds_from_anywhere("recent", "app.js").await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.js"), "export const nope = 1;\n").unwrap();
        let script = repo().join("guests/js/build.sh");
        let built = JAVASCRIPT.run_script(&script, &[".", "x.wasm"], dir.path()).await;
        assert_eq!(built.code, Some(1), "{built:?}");
        assert!(built.stderr.contains(r#"does not export a "run""#), "{built:?}");
        assert!(
            !built.stderr.contains("    at ") && !built.stderr.contains("node:internal"),
            "a stack trace: {built:?}"
        );
        assert!(
            built
                .stderr
                .trim_end()
                .lines()
                .last()
                .unwrap()
                .starts_with("build.sh: componentize-js failed"),
            "{built:?}"
        );
    })
    .await
}

/// A `procbox new --lang js` project's build.sh from anywhere; its strict
/// tsconfig.json checks app.js and, after the documented rename, app.ts,
/// which build.sh then builds.
#[tokio::test]
async fn a_new_javascript_project_builds_from_anywhere_and_type_checks_as_typescript() {
    within(async {
        if JAVASCRIPT.plugin(&RECENT, "recent").await.is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let project = JAVASCRIPT
            .new_project_script_builds_from_anywhere("js", dir.path(), "app.js")
            .await;
        let checked = tsc_in(&project, &["-p", "."]).await;
        assert!(
            checked.status.success(),
            "app.js: {}",
            String::from_utf8_lossy(&checked.stdout)
        );
        std::fs::rename(project.join("app.js"), project.join("app.ts")).unwrap();
        let checked = tsc_in(&project, &["-p", "."]).await;
        assert!(
            checked.status.success(),
            "app.ts: {}",
            String::from_utf8_lossy(&checked.stdout)
        );
        let built = JAVASCRIPT
            .run_script(Path::new("./build.sh"), &["typed.wasm"], &project)
            .await;
        assert_eq!(built.code, Some(0), "{built:?}");
        assert!(is_wasm(&project.join("typed.wasm")));
        // And a type error is one: tsc --strict is really strict.
        std::fs::write(
            project.join("app.ts"),
            "import { plugin } from \"procbox\";\nexport const run = plugin((args) => args.length > 0 ? \"no\" : 0);\n",
        )
        .unwrap();
        let checked = tsc_in(&project, &["-p", "."]).await;
        assert!(!checked.status.success(), "a string exit code passed tsc");
    })
    .await
}

/// `tsc ARGS` in `dir`.
async fn tsc_in(dir: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(tsc())
        .args(args)
        .arg("--pretty")
        .arg("false")
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("start tsc")
}

/// Every JavaScript and TypeScript snippet of the SDK reference
/// (guests/js/sdk/README.md), README.md and docs/guide.md type-checks with
/// `tsc --strict` against procbox.d.ts: the JS ones with `checkJs`. Each
/// is its own module; one without `import` or `export` (none today) would
/// be made one with a trailing `export {}`, so that snippets never share
/// a scope.
#[tokio::test]
async fn every_documented_javascript_snippet_type_checks_against_procbox_d_ts() {
    within(async {
        if JAVASCRIPT.plugin(&RECENT, "recent").await.is_none() {
            return;
        }
        let started = std::time::Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let mut names = Vec::new();
        for doc in ["guests/js/sdk/README.md", "README.md", "docs/guide.md"] {
            let text = std::fs::read_to_string(repo().join(doc)).unwrap();
            for (lang, line, mut code) in code_blocks(&text, &["js", "javascript", "ts", "typescript"]) {
                let ext = if lang.starts_with('t') { "ts" } else { "js" };
                let name = format!("{}-line-{line}.{ext}", doc.replace('/', "_"));
                if !code.contains("import ") && !code.contains("export ") {
                    code.push_str("export {}; // wrapped: a fragment, made a module of its own\n");
                }
                std::fs::write(dir.path().join(&name), code).unwrap();
                names.push(name);
            }
        }
        // The reference's forms: the plugin, async main, $ options, Command,
        // Child, ExitStatus, errors; README.md's and docs/guide.md's.
        assert!(names.len() >= 8, "{names:?}");
        let dts = repo().join("guests/js/sdk/procbox.d.ts");
        let config = serde_json::json!({
            "compilerOptions": {
                "strict": true, "noEmit": true, "target": "ES2022", "module": "ES2022",
                "moduleResolution": "bundler", "lib": ["ES2022", "ESNext.Disposable", "DOM"], "types": [],
                "allowJs": true, "checkJs": true,
                "paths": { "procbox": [dts.to_str().unwrap()] }
            },
            "include": ["*.ts", "*.js"]
        });
        std::fs::write(dir.path().join("tsconfig.json"), config.to_string()).unwrap();
        let checked = tsc_in(dir.path(), &["-p", "."]).await;
        assert!(
            checked.status.success(),
            "{} of {names:?}:\n{}",
            checked.status,
            String::from_utf8_lossy(&checked.stdout)
        );
        eprintln!("type-checked {} snippets in {:.0?}", names.len(), started.elapsed());
    })
    .await
}

static CONCURRENT: OnceCell<Result<PathBuf, String>> = OnceCell::const_new();

/// `procbox run concurrent.wasm FLAGS -- CHECK ARGS` (tests/fixtures/js/concurrent).
async fn concurrent(flags: &[&str], check: &[&str]) -> Option<procbox_tests::Run> {
    concurrent_long(flags, check, procbox_tests::RUN_DEADLINE).await
}

/// [`concurrent`] with its own bound on the run (the build is bounded by
/// the test's [`DEADLINE`]).
async fn concurrent_long(flags: &[&str], check: &[&str], deadline: Duration) -> Option<procbox_tests::Run> {
    let wasm = JAVASCRIPT.plugin(&CONCURRENT, "concurrent").await?;
    let mut argv = vec!["run", wasm.to_str().unwrap()];
    argv.extend(flags);
    argv.push("--");
    argv.extend(check);
    Some(procbox_long(&argv, deadline).await)
}

/// `Promise.all` of two `sleep 1` takes about 1 s, not 2; and two `$`
/// processes are alive at once (each needs the other, through a FIFO:
/// run one after the other they would hang until their timeout).
#[tokio::test]
async fn dollar_processes_run_concurrently() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("rendezvous");
        let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        let (read, write) = (
            format!("--allow-read={}", dir.path().display()),
            format!("--allow-write={}", dir.path().display()),
        );
        let flags = ["--allow-run=sleep,sh,cat", read.as_str(), write.as_str()];
        let Some(run) = concurrent(&flags, &["promise_all_runs_them_together", fifo.to_str().unwrap()]).await else {
            return;
        };
        assert_eq!(run.code, Some(0), "{run:?}");
        let took: u64 = run
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("took "))
            .and_then(|ms| ms.parse().ok())
            .unwrap_or_else(|| panic!("{run:?}"));
        assert!(
            (1000..1500).contains(&took),
            "Promise.all of two `sleep 1` took {took} ms"
        );
        assert!(run.stdout.ends_with("ok promise_all_runs_them_together\n"), "{run:?}");
    })
    .await
}

/// zx's and execa's habits on the pending process: `.nothrow()`,
/// `exitCode`, `$.sync`, `.quiet()`, `.pipe()` (child to child, SIGPIPE
/// upstream forgiven, the failing stage reported), `lines()` (leaving
/// early closes stdout; "\r\n", empty and unterminated lines, characters
/// split between reads, requests made before an answer), `.kill()` (SIGTERM by default; a bad signal is
/// one clear TypeError), `using` and `await using` (the tree is killed at
/// the block's end: checked from inside with pgrep, and from here).
#[tokio::test]
async fn the_pending_process_has_the_zx_habits() {
    within(async {
        let flags = [
            "--allow-run=sleep,sh,cat,echo,printf,sort,head,wc,yes,pgrep",
            "--allow-helper=/usr/bin/head",
            "--allow-helper=/usr/bin/sleep",
        ];
        for check in [
            "nothrow_and_exit_code",
            "quiet_is_not_echoed",
            "pipe_goes_child_to_child",
            "lines_as_they_come",
            "lines_edge_cases",
            "kill_defaults_to_sigterm",
            "using_kills_the_tree",
        ] {
            let Some(run) = concurrent(&flags, &[check]).await else {
                return;
            };
            assert_eq!(run.code, Some(0), "{check}: {run:?}");
            assert_eq!(run.stdout, format!("ok {check}\n"), "{check}: {run:?}");
            if check == "quiet_is_not_echoed" {
                // $.verbose echoes the command; .quiet() does not.
                assert!(run.stderr.contains("$ echo loud\n"), "{run:?}");
                assert!(!run.stderr.contains("hushed"), "{run:?}");
            }
        }
        for marker in ["3600.4243", "3600.4244", "3600.4245"] {
            assert_eq!(sleeping_with(marker), Vec::<u32>::new(), "{marker}");
        }
    })
    .await
}

/// The hello world's own plugin memory (its baseline: it fits in 11 MiB,
/// not in 10), and streaming 100 MB through `for await (... of
/// p.lines())` under `--max-plugin-memory 32MiB`.
#[tokio::test]
async fn streaming_lines_stays_within_the_plugin_memory_cap() {
    within(async {
        let Some(hello) = concurrent(&["--max-plugin-memory=11MiB"], &["hello"]).await else {
            return;
        };
        assert_eq!(hello.code, Some(0), "{hello:?}");
        let small = concurrent(&["--max-plugin-memory=10MiB"], &["hello"]).await.unwrap();
        assert_eq!(small.code, Some(125), "{small:?}");
        let flags = [
            "--allow-run=head,tr,fold",
            "--allow-helper=/usr/bin/head",
            "--max-plugin-memory=32MiB",
        ];
        // 100 MB: about a million lines, each one a promise, a result and a
        // string for the collector (it needed 64 MiB before lines were
        // decoded one by one; 14 MiB now).
        let bytes: u64 = 100_000_000;
        // A million lines through an interpreter take about 20 s on a quiet
        // machine and passed the 60 s of one ordinary run on a busy CI one.
        let run = concurrent_long(&flags, &["stream", &bytes.to_string()], STREAM_DEADLINE)
            .await
            .unwrap();
        assert_eq!(run.code, Some(0), "{run:?}");
        // fold -w 99: lines of 99 characters and their newlines, plus the
        // newline that ends the last, shorter one.
        let lines = bytes.div_ceil(99);
        assert!(
            run.stdout
                .starts_with(&format!("lines {lines} bytes {}\n", bytes + lines)),
            "{run:?}"
        );
    })
    .await
}
