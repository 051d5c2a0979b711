//! The permission broker (`PROCBOX_PERMISSION_BROKER`): a small broker in
//! the test, on a Unix socket, answers each request no allow rule grants;
//! every way it can fail ends the run with exit status 123 (fail-closed).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use procbox_tests::{bounded, guests, procbox_with_env, Run};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;

const BROKER_FAILED: i32 = 123;

/// What the test's broker does with each request line.
#[derive(Clone)]
enum Behaviour {
    /// Answers with this `result` (and fields), echoing the request's id.
    Answer(&'static str),
    /// Answers with this line, whatever was asked.
    Raw(&'static str),
    /// Never answers.
    Silent,
    /// Closes the connection.
    Hangup,
}

/// A broker listening in a temporary directory; it records every request.
struct TestBroker {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    requests: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl TestBroker {
    fn start(behaviour: Behaviour) -> TestBroker {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("broker.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (reader, mut writer) = stream.into_split();
                let mut lines = BufReader::new(reader).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let request: serde_json::Value = serde_json::from_str(&line).unwrap();
                    let id = request["id"].as_u64().unwrap();
                    seen.lock().unwrap().push(request);
                    let reply = match &behaviour {
                        Behaviour::Answer(fields) => format!(r#"{{"version":1,"id":{id},{fields}}}"#),
                        Behaviour::Raw(line) => line.to_string(),
                        Behaviour::Silent => {
                            std::future::pending::<()>().await;
                            unreachable!()
                        }
                        Behaviour::Hangup => break,
                    };
                    writer.write_all(format!("{reply}\n").as_bytes()).await.unwrap();
                }
            }
        });
        TestBroker {
            _dir: dir,
            socket,
            requests,
        }
    }

    fn requests(&self) -> Vec<serde_json::Value> {
        self.requests.lock().unwrap().clone()
    }

    /// `procbox ARGS` with this broker.
    async fn run(&self, args: &[&str]) -> Run {
        self.run_with(&[], args).await
    }

    async fn run_with(&self, env: &[(&str, &Path)], args: &[&str]) -> Run {
        let mut vars = vec![("PROCBOX_PERMISSION_BROKER", self.socket.as_path())];
        vars.extend(env);
        bounded!(procbox_with_env(&vars, args))
    }
}

/// `run spawn-outcome -- EXPECTED echo hi`, with `flags` and no grant for echo.
fn echo_run<'a>(flags: &[&'a str], expected: &'a str) -> Vec<&'a str> {
    let mut argv = vec!["run", guests::SPAWN_OUTCOME];
    argv.extend(flags);
    argv.extend(["--", expected, "echo", "hi"]);
    argv
}

#[tokio::test]
async fn allow_once_runs_the_request_and_the_broker_learns_what_and_who() {
    let broker = TestBroker::start(Behaviour::Answer(r#""result":"allow-once""#));
    let run = broker.run(&echo_run(&[], "stdout:hi")).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let requests = broker.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request["version"], 1);
    assert!(request["program"].as_str().unwrap().ends_with("/echo"), "{request}");
    assert_eq!(request["args"], serde_json::json!(["hi"]));
    assert!(
        request["denial"]
            .as_str()
            .unwrap()
            .contains("allow-run = [\"echo hi\"]"),
        "{request}"
    );
    // The fix as data: the key, its value, the grants-file line.
    assert_eq!(request["fix"]["key"], "allow-run", "{request}");
    assert_eq!(request["fix"]["value"], "echo hi", "{request}");
    let wasm = std::fs::read(guests::SPAWN_OUTCOME).unwrap();
    assert_eq!(request["plugin"]["blake3"], blake3_hex(&wasm), "{request}");
    assert_eq!(request["plugin"]["name"], guests::SPAWN_OUTCOME);
}

fn blake3_hex(bytes: &[u8]) -> String {
    // The test crate does not depend on blake3: the library computes it.
    procbox::grants::broker::PluginIdentity::of("", bytes).blake3
}

#[tokio::test]
async fn an_allowed_rule_holds_for_the_rest_of_the_run_without_asking_again() {
    let broker = TestBroker::start(Behaviour::Answer(r#""result":"allow-rule","rule":"sleep 1000""#));
    // Three spawns of `sleep 1000`: the first is asked, the second runs on
    // the remembered rule, the third meets --max-children.
    let argv = [
        "run",
        guests::MANY_CHILDREN,
        "--max-children=2",
        "--",
        "3",
        "2",
        "max-children",
    ];
    let run = broker.run(&argv).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(broker.requests().len(), 1, "{:?}", broker.requests());
}

#[tokio::test]
async fn deny_is_the_plugin_s_denial_with_the_broker_s_reason() {
    let broker = TestBroker::start(Behaviour::Answer(r#""result":"deny","reason":"not on Fridays""#));
    let run = broker.run(&echo_run(&[], "denied:not on Fridays")).await;
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[tokio::test]
async fn what_a_deny_rule_refuses_never_reaches_the_broker() {
    let broker = TestBroker::start(Behaviour::Answer(r#""result":"allow-once""#));
    let run = broker.run(&echo_run(&["--deny-run=echo"], "denied:echo")).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(broker.requests().is_empty(), "{:?}", broker.requests());
}

/// Asserts that the run was stopped as a broker failure naming `why`.
#[track_caller]
fn stopped(run: &Run, why: &str) {
    assert_eq!(run.code, Some(BROKER_FAILED), "{run:?}");
    assert!(run.stderr.contains("the permission broker failed"), "{run:?}");
    assert!(run.stderr.contains(why), "{why:?} is not in {run:?}");
    // The plugin got no answer: spawn-outcome printed nothing.
    assert!(run.stdout.is_empty(), "{run:?}");
}

#[tokio::test]
async fn a_broker_that_cannot_be_reached_stops_the_run() {
    let vars = [("PROCBOX_PERMISSION_BROKER", Path::new("/nonexistent/broker.sock"))];
    let run = bounded!(procbox_with_env(&vars, &echo_run(&[], "stdout:hi")));
    stopped(&run, "cannot reach it at /nonexistent/broker.sock");
}

#[tokio::test]
async fn a_malformed_answer_stops_the_run() {
    for (line, why) in [
        ("yes", "not a version-1 reply"),
        (r#"{"version":2,"id":1,"result":"allow-once"}"#, "protocol version 2"),
        (r#"{"version":1,"id":99,"result":"allow-once"}"#, "answered request 99"),
        (r#"{"version":1,"id":1,"result":"allow"}"#, "is not allow-once"),
    ] {
        let broker = TestBroker::start(Behaviour::Raw(line));
        let run = broker.run(&echo_run(&[], "stdout:hi")).await;
        stopped(&run, why);
    }
}

#[tokio::test]
async fn a_late_answer_stops_the_run_at_the_deadline() {
    let broker = TestBroker::start(Behaviour::Silent);
    let deadline = [("PROCBOX_PERMISSION_BROKER_DEADLINE", Path::new("300ms"))];
    let run = broker.run_with(&deadline, &echo_run(&[], "stdout:hi")).await;
    stopped(&run, "did not answer within 300ms");
}

#[tokio::test]
async fn a_broker_that_hangs_up_stops_the_run() {
    let broker = TestBroker::start(Behaviour::Hangup);
    let run = broker.run(&echo_run(&[], "stdout:hi")).await;
    stopped(&run, "closed the connection without answering");
}
