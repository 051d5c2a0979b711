//! Every example plugin, run as a user would: with its own manifest, the
//! grants it needs, and real programs.

use std::path::PathBuf;
use std::process::Command as StdCommand;

use procbox_tests::{guests, procbox, Run, TEST_DEADLINE};

/// Runs an example with its manifest: `procbox run NAME.wasm --manifest
/// guests/rust/examples/NAME/NAME.manifest.toml FLAGS -- ARGS`.
async fn example(wasm: &str, name: &str, flags: &[&str], args: &[&str]) -> Run {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../guests/rust/examples/{name}/{name}.manifest.toml"));
    let manifest = manifest.display().to_string();
    let mut argv = vec!["run", wasm, "--manifest", &manifest];
    argv.extend(flags);
    argv.push("--");
    argv.extend(args);
    let run = tokio::time::timeout(TEST_DEADLINE, procbox(&argv))
        .await
        .expect("test deadline");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
    run
}

fn native(program: &str, args: &[&str]) -> String {
    let out = StdCommand::new(program).args(args).output().expect("run natively");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn sysinfo_uses_the_builder_and_reads_failures() {
    let run = example(
        guests::SYSINFO,
        "sysinfo",
        &[
            "--allow-run=uname",
            "--allow-run=id",
            "--allow-run=ls",
            "--allow-env=LC_ALL=C",
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("kernel: {}", native("uname", &["-s", "-r"]))),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(&format!("user: {}", native("id", &["-un"]))),
        "{run:?}"
    );
    assert!(run.stdout.contains("ls of a missing path: exit code 2"), "{run:?}");
    assert!(
        run.stdout.contains("`ls /nonexistent-sysinfo` failed: exit code 2"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("No such file or directory"),
        "the stderr tail: {run:?}"
    );
}

#[tokio::test]
async fn sysinfo_without_the_env_grant_is_refused() {
    let run = example(
        guests::SYSINFO,
        "sysinfo",
        &["--allow-run=uname", "--allow-run=id", "--allow-run=ls"],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("environment variable LC_ALL: no env rule"),
        "{run:?}"
    );
}

#[tokio::test]
async fn ps_top_streams_lines() {
    let run = example(guests::PS_TOP, "ps-top", &["--allow-run=ps"], &["3"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("top 3 by resident memory"), "{run:?}");
    let rows = run.stdout.lines().filter(|l| l.starts_with("  ")).count();
    assert!((1..=3).contains(&rows), "{run:?}");
}

#[tokio::test]
async fn sort_big_writes_with_backpressure() {
    let run = example(
        guests::SORT_BIG,
        "sort-big",
        &["--allow-run=sort", "--allow-run=wc"],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("sorted 200000 numbers: first 0,"), "{run:?}");
    assert!(run.stdout.contains("wc -l counted 200000 lines"), "{run:?}");
}

#[tokio::test]
async fn redirect_log_writes_a_log_in_a_granted_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    // The log is written through redirects: a write grant, as for children.
    let grant = format!("--allow-write={}", root.display());
    let run = example(
        guests::REDIRECT_LOG,
        "redirect-log",
        &[&grant, "--allow-run=date", "--allow-run=sh", "--allow-run=wc"],
        &[root.to_str().unwrap()],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("run.log has 4 lines"), "{run:?}");
    let log = std::fs::read_to_string(root.join("run.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[0].starts_with("started "), "{log}");
    assert_eq!(
        &lines[1..],
        ["step one", "a warning", "step two"],
        "stderr merged in order"
    );
}

#[tokio::test]
async fn repo_report_pipes_and_queues_over_a_real_repository() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().canonicalize().unwrap();
    let git = |args: &[&str]| {
        let ok = StdCommand::new("git").arg("-C").arg(&repo).args(args).output().unwrap();
        assert!(
            ok.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
    };
    git(&["init", "-q"]);
    for (author, file, lines) in [("alice", "a.txt", 3), ("bob", "b.txt", 5), ("alice", "c.txt", 1)] {
        std::fs::write(repo.join(file), "x\n".repeat(lines)).unwrap();
        git(&["add", file]);
        let who = format!("user.name={author}");
        git(&[
            "-c",
            &who,
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-q",
            "-m",
            file,
        ]);
    }
    let grant = format!("--dir={}", repo.display());
    let run = example(
        guests::REPO_REPORT,
        "repo-report",
        &[
            &grant,
            "--allow-run=git -C * log --format=%an",
            "--allow-run=git -C * ls-files",
            "--allow-run=sort",
            "--allow-run=uniq -c",
            "--allow-run=wc -l *",
        ],
        &[repo.to_str().unwrap()],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let authors: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("commits by"))
        .skip(1)
        .take(2)
        .collect();
    assert_eq!(authors, ["  2 alice", "  1 bob"], "{run:?}");
    assert!(run.stdout.contains("total: 9 lines in 3 files"), "{run:?}");
}

#[tokio::test]
async fn log_watcher_stops_the_command_at_the_pattern() {
    let run = example(
        guests::LOG_WATCHER,
        "log-watcher",
        // The shell runs sleep, so sleep is granted as its helper.
        &["--allow-run=sh", "--allow-helper=sh=/bin/sleep"],
        &[
            "READY",
            "30",
            "sh",
            "-c",
            "echo starting; sleep 0.2; echo READY; sleep 1000",
        ],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("] starting"), "{run:?}");
    assert!(run.stdout.contains("matched \"READY\" after 2 lines"), "{run:?}");
    assert!(run.stdout.contains("stopped it (killed by signal 15"), "{run:?}");
}

#[tokio::test]
async fn checksums_keep_going_past_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    std::fs::write(&one, "one\n").unwrap();
    std::fs::write(&two, "two\n").unwrap();
    let missing = dir.path().join("missing");
    let paths = [one.to_str().unwrap(), missing.to_str().unwrap(), two.to_str().unwrap()];
    // Children read only what is granted: the files' directory.
    let read = format!("--allow-read={}", dir.path().display());
    let run = example(
        guests::CHECKSUMS,
        "checksums",
        &["--allow-run=sha256sum", &read],
        &paths,
    )
    .await;
    assert_eq!(run.code, Some(1), "one file failed: {run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run:?}");
    assert_eq!(lines[0], native("sha256sum", &[paths[0]]));
    assert!(
        lines[1].starts_with("FAILED  ") && lines[1].contains("missing"),
        "{run:?}"
    );
    assert_eq!(lines[2], native("sha256sum", &[paths[2]]));
}

#[tokio::test]
async fn fastest_keeps_the_first_and_kills_the_rest() {
    let run = example(guests::FASTEST, "fastest", &["--allow-run=sleep"], &["30", "0.1", "20"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("winner: #1 (sleep 0.1) exit code 0"), "{run:?}");
    assert!(run.stdout.contains("#0 killed: killed by signal 9"), "{run:?}");
    assert!(run.stdout.contains("#2 killed: killed by signal 9"), "{run:?}");
}

#[tokio::test]
async fn recent_prints_the_last_commits_and_without_a_grant_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let repo = procbox_tests::git_repository(dir.path(), 7);
    let manifest =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../guests/rust/examples/recent/recent.manifest.toml");
    let manifest = manifest.to_str().unwrap();
    let run = |argv: Vec<&'static str>| {
        let repo = repo.clone();
        let argv: Vec<String> = ["run", guests::RECENT, "--manifest", manifest]
            .into_iter()
            .map(String::from)
            .chain(argv.into_iter().map(String::from))
            .collect();
        async move {
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            tokio::time::timeout(TEST_DEADLINE, procbox_tests::procbox_in(&repo, &argv))
                .await
                .expect("test deadline")
        }
    };
    let out = run(vec!["--allow-run=git log **", "--", "3"]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout,
        procbox_tests::git_in(&repo, &["log", "--oneline", "-n", "3"]),
        "{out:?}"
    );
    let out = run(vec!["--", "3"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.starts_with("Error: denied: ") && out.stderr.contains("--allow-run 'git log --oneline -n 3'"),
        "{out:?}"
    );
}
