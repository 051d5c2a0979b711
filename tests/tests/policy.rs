//! The policy through the real binary: denials are values with reasons,
//! grants files, manifests, limits, the audit log, `explain` and `inspect`.

use procbox_tests::{bounded, guests, procbox, scenario, scenario_with, Run};

fn line(run: &Run, key: &str) -> String {
    run.line(key).unwrap_or_else(|| panic!("no {key}= in {run:?}"))
}

#[tokio::test]
async fn an_ungranted_program_is_denied_with_its_reason() {
    let run = bounded!(scenario(&["echo"], &["spawn", "rm", "-rf", "/tmp/x"]));
    assert_eq!(run.code, Some(0), "the denial is a value, not a trap: {run:?}");
    let denied = line(&run, "denied");
    assert!(denied.contains("rm -rf /tmp/x"), "names the request: {denied}");
    assert!(denied.contains("no allow rule grants"), "says why: {denied}");
}

#[tokio::test]
async fn nothing_is_granted_by_default() {
    let run = bounded!(scenario(&[], &["spawn", "true"]));
    assert!(line(&run, "denied").contains("granted: nothing"), "{run:?}");
}

#[tokio::test]
async fn a_deny_rule_is_named_with_its_flag() {
    let run = bounded!(scenario_with(
        &["--allow-run=ls", "--deny-run=ls -R **"],
        &["spawn", "ls", "-R", "/"]
    ));
    assert!(
        line(&run, "denied").contains("matches deny rule 'ls -R **' (--deny-run)"),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_missing_program_is_not_found_rather_than_denied() {
    let run = bounded!(scenario(&["echo"], &["spawn", "no-such-program-procbox"]));
    assert!(
        line(&run, "not_found").contains("no-such-program-procbox: no such program on the host's PATH"),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_grant_for_a_missing_program_is_a_usage_error() {
    let run = bounded!(scenario(&["no-such-program-procbox"], &["echo"]));
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("--allow-run: rule 'no-such-program-procbox'"),
        "{run:?}"
    );
    assert!(run.stderr.contains("no such program"), "{run:?}");
}

#[tokio::test]
async fn a_malformed_rule_is_a_usage_error() {
    let run = bounded!(scenario(&["git ** log"], &["echo"]));
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("may only be the last pattern"), "{run:?}");
}

#[tokio::test]
async fn huge_argument_lists_are_invalid_input_not_a_crash() {
    let run = bounded!(scenario(&["echo"], &["huge-args"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    let long = line(&run, "long");
    assert!(
        long.starts_with("invalid_input") && long.contains("longer than the limit"),
        "{long}"
    );
    let many = line(&run, "many");
    assert!(
        many.starts_with("invalid_input") && many.contains("more than the limit"),
        "{many}"
    );
}

#[tokio::test]
async fn the_output_cap_kills_the_child_and_says_truncated() {
    let run = bounded!(scenario_with(
        &["--allow-run=cat", "--max-output=1MiB"],
        &["output-flood"]
    ));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.value("truncated").as_deref(), Some("true"), "{run:?}");
    assert_eq!(
        run.value("stdout_len").as_deref(),
        Some("1048576"),
        "exactly the cap: {run:?}"
    );
    assert_eq!(run.value("signal").as_deref(), Some("Some(9)"), "{run:?}");
}

#[tokio::test]
async fn the_runtime_ceiling_times_out_a_child_that_asked_for_no_timeout() {
    let run = bounded!(scenario_with(
        &["--allow-run=sleep", "--max-runtime=200ms"],
        &["unbounded-sleep"]
    ));
    assert_eq!(run.value("timed_out").as_deref(), Some("true"), "{run:?}");
    assert_eq!(run.value("signal").as_deref(), Some("Some(15)"), "{run:?}");
}

#[tokio::test]
async fn spawning_past_max_children_is_limit_exceeded() {
    let run = bounded!(scenario_with(
        &["--allow-run=sleep", "--max-children=3"],
        &["many-children", "5"]
    ));
    assert_eq!(run.value("spawned").as_deref(), Some("3"), "{run:?}");
    assert!(
        line(&run, "error").starts_with("limit exceeded:") && line(&run, "error").contains("max-children"),
        "{run:?}"
    );
}

#[tokio::test]
async fn spawning_past_max_spawns_is_limit_exceeded() {
    let run = bounded!(scenario_with(
        &["--allow-run=sleep", "--max-spawns=2"],
        &["many-children", "5"]
    ));
    assert_eq!(run.value("spawned").as_deref(), Some("2"), "{run:?}");
    assert!(line(&run, "error").contains("max-spawns"), "{run:?}");
}

#[tokio::test]
async fn a_forged_child_handle_traps_instead_of_signalling_anyone() {
    // Handle numbers 0..4 cover "nothing there" and "a resource of another
    // type" (the plugin's own stdio); none may reach a process.
    for handle in ["0", "1", "2", "3", "4", "4294967295"] {
        let run = bounded!(scenario(&["sleep"], &["forge-handle", handle]));
        assert_eq!(run.code, Some(125), "handle {handle}: {run:?}");
        assert!(run.stderr.contains("trapped"), "handle {handle}: {run:?}");
        assert!(
            !run.stdout.contains("forged_signal_returned"),
            "handle {handle}: {run:?}"
        );
    }
}

#[tokio::test]
async fn the_plugin_sees_no_files_or_environment_unless_granted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "hello from the host").unwrap();
    let path = file.to_str().unwrap();
    let denied = bounded!(scenario(&[], &["read-file", path]));
    assert!(denied.line("read_error").is_some(), "{denied:?}");
    let read_flag = format!("--allow-read={}", dir.path().display());
    let allowed = bounded!(scenario_with(&[&read_flag], &["read-file", path]));
    assert_eq!(
        allowed.line("read_ok").as_deref(),
        Some("hello from the host"),
        "{allowed:?}"
    );

    let env = bounded!(scenario(&[], &["plugin-env"]));
    assert_eq!(env.value("plugin_env_count").as_deref(), Some("0"), "{env:?}");
    let env = bounded!(scenario_with(&["--allow-env=HOME"], &["plugin-env"]));
    assert!(env.stdout.contains("env:HOME="), "{env:?}");
}

#[tokio::test]
async fn variables_reach_the_child_only_as_granted() {
    let set = bounded!(scenario_with(
        &["--allow-run=env", "--allow-env=GREETING=hel*"],
        &["spawn-with-env", "GREETING=hello", "env"]
    ));
    assert_eq!(
        set.stdout.trim(),
        "GREETING=hello",
        "the child's whole environment: {set:?}"
    );
    let refused = bounded!(scenario_with(
        &["--allow-run=env"],
        &["spawn-with-env", "LD_PRELOAD=/tmp/x.so", "env"]
    ));
    assert!(
        line(&refused, "error").contains("only a rule that names it exactly"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_grants_file_and_a_manifest_beside_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("scenarios.wasm");
    std::fs::copy(guests::SCENARIOS, &plugin).unwrap();
    let grants = dir.path().join("grants.toml");
    std::fs::write(&grants, "allow-run = [\"echo\", \"ls\"]\n").unwrap();
    // The manifest beside the plugin requests echo only.
    std::fs::write(
        dir.path().join("scenarios.manifest.toml"),
        "allow-run = [\"echo **\"]\n",
    )
    .unwrap();
    let run = |args: &'static [&'static str]| {
        let (plugin, grants) = (plugin.display().to_string(), grants.display().to_string());
        async move {
            let mut argv = vec!["run".to_string(), plugin, "--grants".into(), grants, "--".into()];
            argv.extend(args.iter().map(|a| a.to_string()));
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            procbox(&argv).await
        }
    };
    let echo = bounded!(run(&["spawn", "echo", "hi"]));
    assert!(
        echo.line("status").is_some_and(|s| s.starts_with("exit code 0")),
        "{echo:?}"
    );
    let ls = bounded!(run(&["spawn", "ls"]));
    assert!(
        line(&ls, "denied").contains("the plugin's manifest"),
        "granted but not requested: {ls:?}"
    );
}

#[tokio::test]
async fn the_audit_log_records_decisions_and_exits_without_values() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let audit = format!("--audit={}", log.display());
    let run = bounded!(scenario_with(
        &["--allow-run=echo", "--allow-env=SECRET=*", &audit],
        &["spawn-with-env", "SECRET=hunter2", "echo", "hi"]
    ));
    assert_eq!(run.stdout.trim(), "hi", "{run:?}");
    let denied = bounded!(scenario_with(&["--allow-run=echo", &audit], &["spawn", "rm", "x"]));
    assert!(denied.line("denied").is_some(), "{denied:?}");
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
    assert!(
        malformed.stderr.contains("may only be the last pattern"),
        "{malformed:?}"
    );
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
        guests::SCENARIOS,
        "--manifest",
        manifest.to_str().unwrap()
    ]));
    assert_eq!(run.code, Some(0), "{run:?}");
    for expected in [
        "world: procbox:host/plugin@0.1.0",
        "procbox:host/process@0.1.0",
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
