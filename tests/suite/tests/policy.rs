//! The policy: denials are values with reasons, limits, the plugin's own
//! files and environment (in process, [`run_guest`]); and through the real
//! binary what only the command line does: flags named in messages, usage
//! errors, grants files and manifests found beside the plugin, the audit
//! log, `explain` and `inspect`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use procbox::Strictness;
use procbox_tests::User;
use procbox_tests::{bounded, guests, limits, procbox, procbox_bin, procbox_run, run_guest, test_config_dir, Run};

mod account_home;

#[tokio::test]
async fn an_ungranted_program_is_denied_with_its_reason() {
    // The guest exits 0 only if the denial came back as a value (not a
    // trap) that names the request and says why.
    let run = bounded!(run_guest(
        guests::SPAWN_OUTCOME,
        |p| p.allow_run("echo"),
        &["denied:rm -rf /tmp/x|no allow rule grants", "rm", "-rf", "/tmp/x"]
    ));
    run.assert_passed();
}

#[tokio::test]
async fn nothing_is_granted_by_default() {
    let run = bounded!(run_guest(
        guests::SPAWN_OUTCOME,
        |p| p,
        &["denied:granted: nothing", "true"]
    ));
    run.assert_passed();
}

#[tokio::test]
async fn a_deny_rule_is_named_with_its_flag() {
    let run = bounded!(procbox_run(
        guests::SPAWN_OUTCOME,
        &["--allow-run=ls", "--deny-run=ls -R **"],
        &["denied:matches deny rule 'ls -R **' (--deny-run)", "ls", "-R", "/"]
    ));
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[tokio::test]
async fn a_missing_program_is_not_found_rather_than_denied() {
    let run = bounded!(run_guest(
        guests::SPAWN_OUTCOME,
        |p| p.allow_run("echo"),
        &[
            "not-found:no-such-program-procbox: no such program on the host's PATH",
            "no-such-program-procbox"
        ]
    ));
    run.assert_passed();
}

#[tokio::test]
async fn a_grant_for_a_missing_program_is_a_usage_error() {
    let run = bounded!(procbox_run(guests::ECHO, &["--allow-run=no-such-program-procbox"], &[]));
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("--allow-run: rule 'no-such-program-procbox'"),
        "{run:?}"
    );
    assert!(run.stderr.contains("no such program"), "{run:?}");
}

#[tokio::test]
async fn a_malformed_rule_is_a_usage_error() {
    let run = bounded!(procbox_run(guests::ECHO, &["--allow-run=git ** log"], &[]));
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("can only deny"), "{run:?}");
}

#[tokio::test]
async fn huge_argument_lists_are_invalid_input_not_a_crash() {
    bounded!(run_guest(guests::HUGE_ARGS, |p| p.allow_run("echo"), &[])).assert_passed();
}

#[tokio::test]
async fn the_output_cap_kills_the_child_and_says_truncated() {
    let limits = limits(|l| l.max_output_bytes = Some(1 << 20));
    let run = bounded!(run_guest(
        guests::OUTPUT_FLOOD,
        |p| p.allow_run("cat").limits(limits),
        &[]
    ));
    run.assert_passed();
}

#[tokio::test]
async fn the_runtime_ceiling_times_out_a_child_that_asked_for_no_timeout() {
    let limits = limits(|l| l.max_runtime = Some(Duration::from_millis(200)));
    let run = bounded!(run_guest(
        guests::UNBOUNDED_SLEEP,
        |p| p.allow_run("sleep").limits(limits),
        &[]
    ));
    run.assert_passed();
}

#[tokio::test]
async fn spawning_past_max_children_is_limit_exceeded() {
    let limits = limits(|l| l.max_children = Some(3));
    let run = bounded!(run_guest(
        guests::MANY_CHILDREN,
        |p| p.allow_run("sleep").limits(limits),
        &["5", "3", "max-children"]
    ));
    run.assert_passed();
}

#[tokio::test]
async fn spawning_past_max_spawns_is_limit_exceeded() {
    let limits = limits(|l| l.max_spawns = Some(2));
    let run = bounded!(run_guest(
        guests::MANY_CHILDREN,
        |p| p.allow_run("sleep").limits(limits),
        &["5", "2", "max-spawns"]
    ));
    run.assert_passed();
}

#[tokio::test]
async fn a_forged_child_handle_traps_instead_of_signalling_anyone() {
    // Handle numbers 0..4 cover "nothing there" and "a resource of another
    // type" (the plugin's own stdio); none may reach a process.
    for handle in ["0", "1", "2", "3", "4", "4294967295"] {
        let run = bounded!(run_guest(guests::FORGE_HANDLE, |p| p.allow_run("sleep"), &[handle]));
        assert!(run.failure().contains("trapped"), "handle {handle}: {run:?}");
        // The guest panics, and says so, if the call returned at all.
        assert!(!run.stderr.contains("did not trap"), "handle {handle}: {run:?}");
    }
}

#[tokio::test]
async fn the_plugin_sees_no_files_or_environment_unless_granted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "hello from the host").unwrap();
    let path = file.to_str().unwrap();
    // Without a grant the read fails; with one it finds the text.
    bounded!(run_guest(guests::READ_FILE, |p| p, &[path])).assert_passed();
    let granted = |p: procbox::PolicyBuilder| p.allow_read(dir.path());
    bounded!(run_guest(guests::READ_FILE, granted, &[path, "hello from the host"])).assert_passed();

    // No variables at all, unless one is granted; then that one only.
    bounded!(run_guest(guests::PLUGIN_ENV, |p| p, &[])).assert_passed();
    bounded!(run_guest(
        guests::PLUGIN_ENV,
        |p| p
            .allow_env("HOME")
            .host_env(vec![("HOME".into(), "/home/someone".into())]),
        &["HOME"]
    ))
    .assert_passed();
}

#[tokio::test]
async fn a_guest_whose_check_fails_traps_with_the_check_on_its_stderr() {
    // The harness at work: a guest that sees something other than what the
    // test expects panics, which fails its run.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "hello from the host").unwrap();
    let run = bounded!(run_guest(
        guests::READ_FILE,
        |p| p.allow_read(dir.path()),
        &[file.to_str().unwrap(), "something else"]
    ));
    assert!(run.failure().contains("trapped"), "{run:?}");
    assert!(run.stderr.contains("panicked"), "{run:?}");
    assert!(run.stderr.contains("something else"), "{run:?}");
}

#[tokio::test]
async fn variables_reach_the_child_only_as_granted() {
    // The child's whole environment is the one variable the plugin set.
    let set = bounded!(run_guest(
        guests::SPAWN_OUTCOME,
        // Unconfined: a confined child also gets TMPDIR (the run's own
        // directory; see confinement.rs).
        |p| p.allow_run("env").allow_env("GREETING=hel*").confine(Strictness::Off),
        &["stdout:GREETING=hello", "GREETING=hello", "env"]
    ));
    set.assert_passed();
    let refused = bounded!(run_guest(
        guests::SPAWN_OUTCOME,
        |p| p.allow_run("env"),
        &["denied:rule that names it exactly", "LD_PRELOAD=/tmp/x.so", "env"]
    ));
    refused.assert_passed();
}

#[tokio::test]
async fn a_grants_file_and_a_manifest_beside_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("plugin.wasm");
    std::fs::copy(guests::SPAWN_OUTCOME, &plugin).unwrap();
    let grants = dir.path().join("grants.toml");
    std::fs::write(&grants, "allow-run = [\"echo\", \"ls\"]\n").unwrap();
    // The manifest beside the plugin requests echo only.
    std::fs::write(dir.path().join("plugin.manifest.toml"), "allow-run = [\"echo **\"]\n").unwrap();
    let run = |args: &'static [&'static str]| {
        let (plugin, grants) = (plugin.display().to_string(), grants.display().to_string());
        async move {
            let mut argv = vec!["run".to_string(), plugin, "--grants".into(), grants, "--".into()];
            argv.extend(args.iter().map(|a| a.to_string()));
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            procbox(&argv).await
        }
    };
    let echo = bounded!(run(&["ok", "echo", "hi"]));
    assert_eq!(echo.code, Some(0), "{echo:?}");
    // Granted but not requested.
    let ls = bounded!(run(&["denied:the plugin's manifest", "ls"]));
    assert_eq!(ls.code, Some(0), "{ls:?}");
}

#[tokio::test]
async fn the_audit_log_records_decisions_and_exits_without_values() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let audit = format!("--audit={}", log.display());
    let run = bounded!(procbox_run(
        guests::SPAWN_OUTCOME,
        &["--allow-run=echo", "--allow-env=SECRET=*", &audit],
        &["stdout:hi", "SECRET=hunter2", "echo", "hi"]
    ));
    assert_eq!(run.code, Some(0), "{run:?}");
    let denied = bounded!(procbox_run(
        guests::SPAWN_OUTCOME,
        &["--allow-run=echo", &audit],
        &["denied", "rm", "x"]
    ));
    assert_eq!(denied.code, Some(0), "{denied:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("hunter2"),
        "variable values must never be logged:\n{text}"
    );
    let records: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let kinds: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap().to_string(),
                r["decision"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("decision", "allowed"), ("exit", ""), ("decision", "denied")].map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let allowed = &records[0];
    assert_eq!(allowed["argv"], serde_json::json!(["echo", "hi"]));
    assert_eq!(allowed["env"], serde_json::json!(["SECRET"]));
    assert!(
        allowed["rule"].as_str().unwrap().contains("'echo' (--allow-run)"),
        "{allowed}"
    );
    let exit = &records[1];
    assert_eq!(exit["code"], 0);
    assert!(exit["duration_ms"].as_f64().unwrap() > 0.0, "{exit}");
    assert!(exit["max_rss_bytes"].as_u64().unwrap() > 0, "{exit}");
    assert!(
        records[2]["reason"].as_str().unwrap().contains("no allow rule grants"),
        "{}",
        records[2]
    );
}

#[tokio::test]
async fn explain_uses_the_gate_and_its_exit_status_says_the_verdict() {
    let allowed = bounded!(procbox(&[
        "explain",
        "--allow-run",
        "ls",
        "--deny-run",
        "ls -R **",
        "--",
        "ls",
        "-l"
    ]));
    assert_eq!(allowed.code, Some(0), "{allowed:?}");
    let first = allowed.stdout.lines().next().unwrap();
    assert!(
        first.starts_with("allowed: ") && first.contains("ls -l: allow rule 'ls' (--allow-run)"),
        "{first}"
    );

    let denied = bounded!(procbox(&[
        "explain",
        "--allow-run",
        "ls",
        "--deny-run",
        "ls -R **",
        "--",
        "ls",
        "-R",
        "/"
    ]));
    assert_eq!(denied.code, Some(3), "{denied:?}");
    assert!(
        denied.stdout.starts_with("denied: ") && denied.stdout.contains("matches deny rule 'ls -R **' (--deny-run)"),
        "{denied:?}"
    );

    let env = bounded!(procbox(&[
        "explain",
        "--allow-run",
        "ls",
        "--env",
        "LD_PRELOAD=/x.so",
        "--",
        "ls"
    ]));
    assert_eq!(env.code, Some(3), "{env:?}");

    let malformed = bounded!(procbox(&["explain", "--allow-run", "ls ** -l", "--", "ls"]));
    assert_eq!(malformed.code, Some(2), "{malformed:?}");
    assert!(malformed.stderr.contains("can only deny"), "{malformed:?}");
}

#[tokio::test]
async fn inspect_shows_imports_exports_and_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.toml");
    std::fs::write(
        &manifest,
        "allow-run = [\"git log **\"]\n[plugin]\nname = \"scenarios\"\n",
    )
    .unwrap();
    let run = bounded!(procbox(&[
        "inspect",
        guests::ECHO,
        "--manifest",
        manifest.to_str().unwrap()
    ]));
    assert_eq!(run.code, Some(0), "{run:?}");
    for expected in [
        "world: procbox:host/plugin@0.2.1",
        "procbox:host/process@0.2.1",
        "wasi:cli/run@0.2",
        "name: scenarios",
        "requests run: git log **",
    ] {
        assert!(
            run.stdout.contains(expected),
            "missing {expected:?} in:\n{}",
            run.stdout
        );
    }
}

#[tokio::test]
async fn a_deny_rule_that_names_an_option_denies_it_in_any_position() {
    // Before: `git log --output=*` matched only `--output=F` as the first
    // argument after `log`, so `git log -1 --output=F` ran, with no warning.
    for user in procbox_tests::users() {
        // procbox starts in a repository of `user`'s beside F, so that git,
        // were it run, would log and write F: only the deny rule stops it.
        let dir = tempfile::tempdir().unwrap();
        let repo = procbox_tests::git_repository(dir.path(), 1);
        if user == User::Nobody {
            let status = std::process::Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let file = dir.path().join("F");
        let output = format!("--output={}", file.display());
        for request in [
            vec!["git", "log", "-1", output.as_str()],
            vec!["git", "log", "--output", file.to_str().unwrap(), "-1"],
            vec!["git", "log", output.as_str()],
        ] {
            let mut args = vec!["denied:matches deny rule 'git log ** --output=*' (--deny-run, written 'git log --output=*': matched anywhere)"];
            args.extend(&request);
            let run = bounded!(procbox_run_as(
                user,
                &repo,
                guests::SPAWN_OUTCOME,
                &["--allow-run=git **", "--deny-run=git log --output=*", "--confine=off"],
                &args
            ));
            assert_eq!(run.code, Some(0), "as {user:?}: {request:?}: {run:?}");
            assert!(!file.exists(), "as {user:?}: {request:?} wrote {}", file.display());
        }
    }
}

/// `procbox run GUEST FLAGS -- ARGS` as `user`, started in `dir`, not on a
/// terminal, with the unwritten test config directory, as [`procbox_run`]
/// runs it; nobody runs under `setpriv` with `--no-cache` (the test cache
/// is root's).
async fn procbox_run_as(user: User, dir: &Path, guest: &str, flags: &[&str], args: &[&str]) -> Run {
    let mut command = procbox_tests::procbox_run_as(user);
    command
        .arg(guest)
        .args(flags)
        .arg("--")
        .args(args)
        .env("PROCBOX_CONFIG_DIR", test_config_dir())
        .env("PROCBOX_PROGRESS_AFTER_MS", "3600000")
        .env_remove("PROCBOX_LOG")
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = command.output().await.expect("start procbox");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn explain_shows_the_form_a_deny_rule_is_matched_as() {
    let rules = ["--allow-run", "git **", "--deny-run", "git log --output=*"];
    let mut denied: Vec<&str> = vec!["explain"];
    denied.extend(rules);
    denied.extend(["--", "git", "log", "-1", "--output=F"]);
    let denied = bounded!(procbox(&denied));
    assert_eq!(denied.code, Some(3), "{denied:?}");
    assert!(
        denied.stdout.starts_with("denied: ")
            && denied
                .stdout
                .contains("matches deny rule 'git log ** --output=*' (--deny-run, written 'git log --output=*': matched anywhere)"),
        "{denied:?}"
    );
    // An allowed request of the same program says how the deny rule reads.
    let mut allowed: Vec<&str> = vec!["explain"];
    allowed.extend(rules);
    allowed.extend(["--", "git", "log", "-1"]);
    let allowed = bounded!(procbox(&allowed));
    assert_eq!(allowed.code, Some(0), "{allowed:?}");
    assert!(
        allowed
            .stdout
            .contains("deny rule 'git log ** --output=*' (--deny-run, written 'git log --output=*': matched anywhere)"),
        "{allowed:?}"
    );
}
