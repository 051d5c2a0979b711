//! One activity, `procbox.run`: the plugin's output, its cap, the failures
//! that are not retried, a denial with its worker.toml fix, retries with
//! stderr, and a cancel that kills the run's whole tree.

use super::*;

#[test]
fn a_run_returns_the_plugin_s_output_and_a_pin_selects_the_bytes() {
    let Some(temporal) = Temporal::start() else { return };
    let _worker = Worker::start(&temporal, "q-one", "w-one", &[]);
    let done = temporal.execute(
        "q-one",
        json!({"plugin": "job", "args": ["hello", "a b"], "stdin": "in put"}),
    );
    let result = &done["result"];
    assert_eq!(result["exit_code"], 0, "{done:#}");
    assert_eq!(
        result["stdout"],
        "hello from a worker: args=[\"a b\"] stdin=\"in put\"\n"
    );
    assert_eq!(result["stderr"], "a line on stderr\n");
    assert_eq!(
        (result["truncated"].as_bool(), result["plugin"].as_str()),
        (Some(false), Some("job"))
    );
    assert_eq!(result["worker"], "w-one");
    let blake3 = result["blake3"].as_str().expect("a blake3").to_string();
    assert_eq!(blake3.len(), 64);

    // The same bytes pinned run; other bytes pinned do not, retryably
    // (another worker of the queue may serve them).
    let pinned = temporal.execute("q-one", json!({"plugin": "job", "args": ["hello"], "blake3": blake3}));
    assert_eq!(pinned["result"]["exit_code"], 0, "{pinned:#}");
    let other = temporal.execute("q-one", json!({"plugin": "job", "blake3": "0".repeat(64)}));
    let (kind, message, non_retryable) = application_failure(&other).expect("a failure");
    assert_eq!(kind, "ProcboxNotStarted");
    assert!(message.contains(&format!("has blake3 {blake3}")), "{message}");
    assert!(!non_retryable);
}

/// Asserts that the result's stdout and stderr each take at most 256 KiB
/// as JSON text, and more than `above` (the cap was reached).
fn assert_capped_as_json(result: &Value, above: usize) {
    for stream in ["stdout", "stderr"] {
        let text = result[stream].as_str().unwrap_or_default();
        let encoded = serde_json::to_string(text).expect("a string").len() - 2;
        assert!(
            encoded <= 256 * 1024 && encoded > above,
            "{stream}: {encoded} bytes as JSON"
        );
    }
}

#[test]
fn output_past_the_cap_is_cut_and_said_so() {
    let Some(temporal) = Temporal::start() else { return };
    let q = "q-flood";
    let _worker = Worker::start(&temporal, q, "w-flood", &[]);
    let done = temporal.execute(q, json!({"plugin": "job", "args": ["flood", "1048576"]}));
    let result = &done["result"];
    assert_eq!(result["truncated"], true, "{}", result["exit_code"]);
    // 256 KiB each as JSON text (a newline is two bytes there), so that a
    // result stays under Temporal's 2 MB payload limit.
    assert_capped_as_json(result, 255 * 1024);
    // stdout keeps the head, stderr the tail: 1 MiB of 1024-byte lines.
    let line = format!("{}\n", "x".repeat(1023));
    assert!(result["stdout"].as_str().is_some_and(|s| s.starts_with(&line)));
    assert!(result["stderr"].as_str().is_some_and(|s| s.ends_with(&line)));
    // Control characters take six bytes as JSON (`\u0001`): still a result
    // within the cap, not Temporal's "payload too large".
    let control = temporal.execute(q, json!({"plugin": "job", "args": ["flood", "1048576", "1"]}));
    let result = &control["result"];
    assert_eq!(result["truncated"], true, "{control:#}");
    assert_capped_as_json(result, 250 * 1024);
}

#[test]
fn an_unknown_plugin_or_a_bad_input_fails_once_without_retrying() {
    let Some(temporal) = Temporal::start() else { return };
    let _worker = Worker::start(&temporal, "q-unknown", "w-unknown", &[]);
    let done = temporal.execute("q-unknown", json!({"plugin": "nope", "max_attempts": 3}));
    let (kind, message, non_retryable) = application_failure(&done).expect("a failure");
    assert_eq!(kind, "ProcboxUnknownPlugin");
    assert!(
        message.contains("serves no plugin \"nope\" (it serves job)"),
        "{message}"
    );
    assert!(non_retryable);
    assert_eq!(attempts(&temporal, &done), 1, "{done:#}");

    let bad = temporal.execute("q-unknown", json!({"plugin": "job", "argv": []}));
    let (kind, message, _) = application_failure(&bad).expect("a failure");
    assert_eq!(kind, "ProcboxInvalidInput");
    assert!(message.contains("unknown field `argv`"), "{message}");
}

#[test]
fn an_ungranted_program_is_denied_with_the_worker_toml_fix_and_its_exit_code_reaches_the_result() {
    let Some(temporal) = Temporal::start() else { return };
    let _worker = Worker::start(&temporal, "q-deny", "w-deny", &[]);
    let done = temporal.execute(
        "q-deny",
        json!({"plugin": "job", "args": ["run", "git", "status"], "check": false}),
    );
    let result = &done["result"];
    assert_eq!(result["exit_code"], 1, "{done:#}");
    let stderr = result["stderr"].as_str().unwrap_or_default();
    assert!(stderr.contains("denied") && stderr.contains("git status"), "{stderr}");
    assert!(
        stderr.contains("adds to [plugins.job] in ") && stderr.contains("worker.toml"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("--allow-run"),
        "a workflow cannot pass flags: {stderr}"
    );
}

#[test]
fn a_request_worker_toml_grants_but_the_plugin_s_manifest_does_not_list_is_denied() {
    let Some(temporal) = Temporal::start() else { return };
    let manifest = "allow-run = [\"echo\"]\n";
    let worker = Worker::start_with_manifest(&temporal, "q-manifest", "w-manifest", &[], Some(manifest));
    let echo = temporal.execute("q-manifest", json!({"plugin": "job", "args": ["run", "echo", "hi"]}));
    assert_eq!(echo["result"]["stdout"], "hi\n", "{echo:#}");
    let sh = temporal.execute(
        "q-manifest",
        json!({"plugin": "job", "args": ["run", "sh", "-c", "true"], "check": false}),
    );
    assert_eq!(sh["result"]["exit_code"], 1, "{sh:#}");
    let stderr = sh["result"]["stderr"].as_str().unwrap_or_default();
    assert!(
        stderr.contains("denied") && stderr.contains("job.manifest.toml"),
        "{stderr}"
    );

    // The file rewritten (the same bytes, a new inode's times) is refused
    // until the worker restarts: it runs only what it hashed at start.
    let plugin = worker.dir.path().join("job.wasm");
    let bytes = std::fs::read(&plugin).expect("read the plugin");
    std::fs::remove_file(&plugin).expect("remove the plugin");
    std::fs::write(&plugin, bytes).expect("write the plugin again");
    let changed = temporal.execute("q-manifest", json!({"plugin": "job", "args": ["hello"]}));
    let (kind, message, non_retryable) = application_failure(&changed).expect("a failure");
    assert_eq!(kind, "ProcboxNotStarted");
    assert!(message.contains("changed after the worker started"), "{message}");
    assert!(!non_retryable);
}

#[test]
fn a_retry_policy_retries_a_failed_exit_with_its_stderr_in_the_failure() {
    let Some(temporal) = Temporal::start() else { return };
    let _worker = Worker::start(&temporal, "q-retry", "w-retry", &[]);
    let done = temporal.execute(
        "q-retry",
        json!({"plugin": "job", "args": ["fail", "3"], "max_attempts": 2}),
    );
    let (kind, message, non_retryable) = application_failure(&done).expect("a failure");
    assert_eq!(kind, "ProcboxExit");
    assert_eq!(message, "plugin job exited with 3: failing on purpose");
    assert!(!non_retryable);
    assert_eq!(attempts(&temporal, &done), 2, "{done:#}");
}

#[test]
fn a_cancel_kills_the_whole_tree_of_its_run_only_and_leaves_nothing_running() {
    let Some(temporal) = Temporal::start() else { return };
    let q = "cancel";
    let mut worker = Worker::start(&temporal, q, "w-cancel", &["--max-concurrent", "2"]);
    temporal.start_workflow(q, "hold-cancel", json!({"plugin": "job", "args": ["hold", "1001"]}));
    temporal.start_workflow(q, "hold-other", json!({"plugin": "job", "args": ["hold", "1004"]}));
    wait_for_sleeps("1001", 3);
    wait_for_sleeps("1004", 3);
    let cancel = |id: &str| {
        let out = temporal.cli(&["workflow", "cancel", "--workflow-id", id]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // The built-in workflow waits for the activity's cancel to
        // complete, which is after the plugin's tree was killed.
        let ended = temporal.result(id);
        assert!(ended.to_string().contains("CANCELED"), "{ended:#}");
    };
    cancel("hold-cancel");
    assert!(
        sleeps_gone_within("1001", Duration::from_secs(1)),
        "left running after the cancel: {:?}",
        sleeps("1001")
    );
    // The other run, in the same worker, is untouched.
    assert_eq!(sleeps("1004").len(), 3, "the other run's tree was hit");
    cancel("hold-other");
    assert!(
        sleeps_gone_within("1004", Duration::from_secs(1)),
        "{:?}",
        sleeps("1004")
    );
    assert_eq!(worker.child.try_wait().ok().flatten(), None, "the worker keeps serving");
}
