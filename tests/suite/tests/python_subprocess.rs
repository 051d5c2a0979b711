//! CPython's own process APIs inside a Python plugin (issue 24 item 4):
//! importing `procbox` patches `subprocess.Popen` so that `subprocess.run`,
//! `check_output`, `call`, `check_call` and `Popen` start their children
//! through the gate. The plugin is `tests/fixtures/python/stdlib`, built by
//! `guests/python/build.sh` and run through the real procbox binary
//! against real processes; its `release.py` is a script written for
//! CPython's `subprocess`, run unmodified in the plugin and natively.
//!
//! Skipped (with the reason printed) when the Python toolchain cannot be
//! installed here, unless `PROCBOX_REQUIRE_PYTHON` is set (see
//! `procbox_tests::language`).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::Duration;

use procbox_tests::language::{repo, PYTHON};
use procbox_tests::{procbox, Run};
use tokio::sync::OnceCell;

/// Generous, for a first run: pip install, componentize and the cold
/// compile, on a machine that may be busy.
const DEADLINE: Duration = Duration::from_secs(300);

async fn within<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, test).await.expect("test deadline")
}

static STDLIB: OnceCell<Result<PathBuf, String>> = OnceCell::const_new();

/// `procbox run stdlib.wasm FLAGS -- ARGS`.
async fn stdlib(flags: &[&str], args: &[&str]) -> Option<Run> {
    let wasm = PYTHON.plugin(&STDLIB, "stdlib").await?;
    let mut argv = vec!["run", wasm.to_str().unwrap()];
    argv.extend(flags);
    argv.push("--");
    argv.extend(args);
    let run = procbox(&argv).await;
    assert!(!run.stderr.contains("Traceback"), "the plugin raised: {run:?}");
    Some(run)
}

/// `git ARGS` in `dir`, with a fixed identity and dates.
fn git(dir: &Path, args: &[&str]) {
    let out = StdCommand::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "A U Thor")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "A U Thor")
        .env("GIT_COMMITTER_EMAIL", "author@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

/// A repository with a tag, commits after it and an uncommitted change.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    git(path, &["init", "-q"]);
    for i in 0..7 {
        std::fs::write(path.join("file.txt"), format!("version {i}\n")).unwrap();
        git(path, &["add", "file.txt"]);
        git(
            path,
            &[
                "commit",
                "-q",
                "-m",
                &format!("change {i}: with spaces, 'quotes' and a / slash"),
            ],
        );
        if i == 2 {
            git(path, &["tag", "v0.1.0"]);
        }
    }
    std::fs::write(path.join("file.txt"), "uncommitted\n").unwrap();
    dir
}

#[tokio::test]
async fn an_unmodified_subprocess_script_prints_what_cpython_prints() {
    within(async {
        let repository = repository();
        let dir = repository.path().to_str().unwrap();
        let script = repo().join("tests/fixtures/python/stdlib/release.py");
        let native = StdCommand::new("python3")
            .arg(&script)
            .arg(dir)
            .output()
            .expect("run python3 natively");
        assert!(native.status.success(), "natively: {native:?}");

        let grant_dir = format!("--dir={dir}");
        let flags = [
            &grant_dir[..],
            "--allow-run=git **",
            "--allow-run=sed -e *",
            "--allow-run=wc -l",
        ];
        let Some(run) = stdlib(&flags, &["release", dir]).await else {
            return;
        };
        assert_eq!(run.code, Some(0), "{run:?}");
        let native = String::from_utf8(native.stdout).unwrap();
        assert!(
            native.contains("release notes since v0.1.0-4-g") && native.contains("dirty"),
            "{native}"
        );
        assert!(
            native.contains("- change 6: with spaces, 'quotes' and a / slash\n"),
            "{native}"
        );
        assert!(native.contains("\n7 changes\n"), "{native}");
        assert_eq!(
            run.stdout, native,
            "byte-identical output in and out of procbox: {run:?}"
        );
    })
    .await
}

#[tokio::test]
async fn shell_true_runs_sh_only_when_sh_is_granted() {
    within(async {
        let Some(run) = stdlib(&[], &["shell", "echo hi; echo there"]).await else {
            return;
        };
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(
            run.stderr.contains("`sh -c \"echo hi; echo there\"` was denied") && run.stderr.contains("no allow rule"),
            "the denial, naming sh: {run:?}"
        );
        assert_eq!(run.stdout, "", "{run:?}");

        let run = stdlib(&["--allow-run=sh -c *"], &["shell", "echo hi; echo there"])
            .await
            .unwrap();
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.stdout, "code 0 out hi\nthere\n", "{run:?}");
    })
    .await
}

#[tokio::test]
async fn env_from_os_environ_asks_only_for_what_changed() {
    within(async {
        // `env={**os.environ, "PROCBOX_X": "1"}` with only PROCBOX_X
        // granted: the plugin's own variables (PATH, ...) are not requests.
        let Some(run) = stdlib(&["--allow-run=env", "--allow-env=PROCBOX_X=*"], &["env"]).await else {
            return;
        };
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.stdout, "PROCBOX_X=1\n", "{run:?}");

        let run = stdlib(&["--allow-run=env"], &["env"]).await.unwrap();
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(
            run.stderr.contains("`env` was denied") && run.stderr.contains("PROCBOX_X"),
            "{run:?}"
        );
    })
    .await
}

#[tokio::test]
async fn a_timeout_stops_the_child_and_raises_timeout_expired() {
    within(async {
        let Some(run) = stdlib(&["--allow-run=sleep 30"], &["timeout", "0.5"]).await else {
            return;
        };
        assert_eq!(run.code, Some(0), "{run:?}");
        // The plugin measures: well under the sleep's 30 s.
        assert_eq!(run.stdout, "timed out after 0.5 s and stopped\n", "{run:?}");
    })
    .await
}

#[tokio::test]
async fn check_true_raises_called_process_error_with_the_output() {
    within(async {
        let Some(run) = stdlib(&["--allow-run=sh -c *"], &["check"]).await else {
            return;
        };
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.stdout, "CalledProcessError 3 b'oops\\n'\n", "{run:?}");
    })
    .await
}

#[tokio::test]
async fn a_missing_working_directory_raises_file_not_found() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let grant_dir = format!("--dir={}", dir.path().display());
        let Some(run) = stdlib(&[&grant_dir, "--allow-run=true"], &["cwd", missing.to_str().unwrap()]).await else {
            return;
        };
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(
            run.stdout
                .starts_with("NotFound: `true` was not found: working directory ")
                && run.stdout.contains("No such file or directory"),
            "a FileNotFoundError (procbox.NotFound): {run:?}"
        );
    })
    .await
}

#[tokio::test]
async fn popen_streams_poll_wait_and_terminate_behave_as_in_cpython() {
    within(async {
        let Some(run) = stdlib(&["--allow-run=cat", "--allow-run=sleep 30"], &["popen"]).await else {
            return;
        };
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(
            run.stdout, "one\ntwo\nwait 0 poll 0\npoll None\nterminated -15\n",
            "{run:?}"
        );
    })
    .await
}

#[tokio::test]
async fn asyncio_create_subprocess_exec_returns_an_asyncio_process() {
    within(async {
        let flags = ["--allow-run=cat", "--allow-run=seq 3", "--allow-run=sleep 30"];
        let Some(run) = stdlib(&flags, &["asyncio"]).await else {
            return;
        };
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(
            run.stdout,
            "asyncio.subprocess Process 300005 None 0\n\
             [b'1\\n', b'2\\n', b'3\\n'] 0\n\
             killed -9\n\
             shell: Denied\n",
            "communicate, line iteration, kill, and create_subprocess_shell denied without sh: {run:?}"
        );
    })
    .await
}

#[tokio::test]
async fn os_system_and_os_popen_run_sh_through_the_gate() {
    within(async {
        let Some(run) = stdlib(&["--allow-run=sh -c *"], &["system"]).await else {
            return;
        };
        assert_eq!(run.code, Some(0), "{run:?}");
        // 768: exit status 3 as a wait status, as CPython's os.system returns.
        assert_eq!(run.stdout, "from system\nstatus 768\nvia popen\n", "{run:?}");

        let run = stdlib(&[], &["system"]).await.unwrap();
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(
            run.stderr.contains("`sh -c \"echo from system; exit 3\"` was denied"),
            "{run:?}"
        );
    })
    .await
}

#[tokio::test]
async fn a_dropped_popen_leaves_its_child_running_as_in_cpython() {
    within(async {
        let Some(run) = stdlib(&["--allow-run=sh -c *"], &["dropped"]).await else {
            return;
        };
        assert_eq!(run.code, Some(0), "{run:?}");
        // Once killed with the dropped handle, the child printed nothing.
        assert_eq!(run.stdout, "late\nlate\n", "{run:?}");
    })
    .await
}

#[tokio::test]
async fn files_as_streams_need_allow_write_and_descriptors_name_the_alternative() {
    within(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_str().unwrap();
        let grant_dir = format!("--dir={path}");
        let grants = ["--allow-run=echo *", "--allow-run=echo", "--allow-run=cat *"];
        let mut flags = vec![&grant_dir[..]];
        flags.extend(grants);
        let Some(run) = stdlib(&flags, &["files", path]).await else {
            return;
        };
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(
            run.stderr.contains("`echo written` was denied") && run.stderr.contains("--allow-write"),
            "writing through a redirect needs --allow-write: {run:?}"
        );

        let allow_write = format!("--allow-write={path}");
        flags.push(&allow_write);
        let run = stdlib(&flags, &["files", path]).await.unwrap();
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(
            run.stdout,
            "written\nappended\nthrough a file object\n\
             subprocess in procbox: stdout=1 is not supported (file descriptors cannot be passed): \
             use PIPE, DEVNULL, a file object or procbox.File(path)\n",
            "{run:?}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
            "written\nappended\nthrough a file object\n"
        );
    })
    .await
}
