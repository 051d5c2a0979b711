//! The one spawn path without any wasm: judge, escalate, authorize, admit,
//! spawn, observe, with real processes. Each test names the rule it checks.

use std::ffi::OsStr;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use procbox::SearchPath;
use procbox::{
    Answer, AuditLog, AuthorizeError, Authorizer, Decision, Escalation, ExitEvent, Hooks, Limit, Limits, Observer,
    PolicyBuilder, SpawnError, SpawnRequest, Spawner, Unmatched,
};

const DEADLINE: Duration = Duration::from_secs(30);

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(DEADLINE, f).await.expect("test deadline")
}

fn builder() -> PolicyBuilder {
    PolicyBuilder::new()
        .start_dir("/")
        .search_path(SearchPath::parse(OsStr::new("/usr/bin:/bin")))
}

fn spawner(builder: PolicyBuilder, hooks: Hooks) -> Spawner {
    Spawner::new(Arc::new(builder.build().unwrap()), hooks)
}

fn request(program: &str, args: &[&str]) -> SpawnRequest {
    SpawnRequest {
        program: program.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// Spawns `request` and waits for it; the error's text if it was refused.
async fn run(spawner: &Spawner, request: SpawnRequest) -> Result<(), String> {
    let mut spawned = spawner
        .spawn(request, None, || Ok(None))
        .await
        .map_err(|e| e.to_string())?;
    spawned.process.wait().await.map(drop).map_err(|e| e.to_string())
}

/// Refuses every request for `program`.
struct Refuse(&'static str);

#[async_trait::async_trait]
impl Authorizer for Refuse {
    async fn authorize(&self, decision: &Decision) -> Result<(), AuthorizeError> {
        match decision.program().file_name() == Some(OsStr::new(self.0)) {
            true => Err(format!("no {} today", self.0).into()),
            false => Ok(()),
        }
    }
}

/// Answers every escalation with `answer`, and records what it was asked.
struct Ask {
    answer: Answer,
    asked: Mutex<Vec<String>>,
}

impl Ask {
    fn new(answer: Answer) -> Arc<Ask> {
        Arc::new(Ask {
            answer,
            asked: Mutex::default(),
        })
    }
    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Escalation for Ask {
    async fn escalate(&self, request: &Unmatched) -> Answer {
        self.asked.lock().unwrap().push(request.command_line());
        self.answer.clone()
    }
}

/// Records every verdict and exit, and wakes `exited` on an exit.
#[derive(Default)]
struct Record(Mutex<Vec<String>>, tokio::sync::Notify);

impl Observer for Record {
    fn on_verdict(&self, request: &SpawnRequest, verdict: Result<&Decision, &SpawnError>) {
        let line = match verdict {
            Ok(_) => format!("allowed {}", request.program),
            Err(e) => format!("refused {}: {e}", request.program),
        };
        self.0.lock().unwrap().push(line);
    }
    fn on_exit(&self, exit: &ExitEvent<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("exited {}", exit.program.display()));
        self.1.notify_one();
    }
}

#[tokio::test]
async fn the_audit_log_records_the_final_verdict_not_the_policys() {
    // Before: an audit hook placed before a refusing hook logged "allowed"
    // for a spawn that never happened.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let hooks = Hooks {
        authorizers: vec![Arc::new(Refuse("true"))],
        observers: vec![Arc::new(AuditLog::open(&path).unwrap())],
        ..Hooks::default()
    };
    let spawner = spawner(builder().allow_run("true").allow_run("echo"), hooks);
    let refused = bounded(run(&spawner, request("true", &[]))).await.unwrap_err();
    assert!(
        refused.contains("refused by the host application: no true today"),
        "{refused}"
    );
    bounded(run(&spawner, request("echo", &["hi"]))).await.unwrap();
    let log = std::fs::read_to_string(&path).unwrap();
    let decisions: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["event"] == "decision")
        .collect();
    assert_eq!(decisions.len(), 2, "{log}");
    assert_eq!(decisions[0]["decision"], "denied", "{log}");
    assert_eq!(decisions[0]["program"], "true", "{log}");
    assert_eq!(decisions[1]["decision"], "allowed", "{log}");
}

#[tokio::test]
async fn a_refused_request_does_not_use_up_max_spawns() {
    // Before: a request that a hook refused still counted toward max-spawns.
    let limits = Limits {
        max_spawns: Some(1),
        ..Limits::default()
    };
    let hooks = Hooks {
        authorizers: vec![Arc::new(Refuse("false"))],
        ..Hooks::default()
    };
    let spawner = spawner(builder().allow_run("true").allow_run("false").limits(limits), hooks);
    for _ in 0..3 {
        let refused = bounded(run(&spawner, request("false", &[]))).await.unwrap_err();
        assert!(refused.starts_with("denied"), "{refused}");
    }
    // The one spawn the policy allows is still there ...
    bounded(run(&spawner, request("true", &[]))).await.unwrap();
    // ... and then it is used up.
    let over = bounded(run(&spawner, request("true", &[]))).await.unwrap_err();
    assert!(over.contains("max-spawns"), "{over}");
}

#[tokio::test]
async fn a_failed_spawn_does_not_use_up_max_spawns() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("tool");
    std::fs::copy("/bin/true", &tool).unwrap();
    let limits = Limits {
        max_spawns: Some(1),
        ..Limits::default()
    };
    let spawner = spawner(
        builder()
            .allow_run(tool.to_str().unwrap())
            .allow_run("true")
            .limits(limits),
        Hooks::default(),
    );
    // The program vanishes between the policy's build and the spawn.
    std::fs::remove_file(&tool).unwrap();
    let missing = bounded(run(&spawner, request(tool.to_str().unwrap(), &[])))
        .await
        .unwrap_err();
    assert!(missing.starts_with("not found"), "{missing}");
    bounded(run(&spawner, request("true", &[]))).await.unwrap();
}

#[tokio::test]
async fn max_children_counts_running_children_until_they_are_reaped() {
    let limits = Limits {
        max_children: Some(2),
        ..Limits::default()
    };
    let spawner = spawner(builder().allow_run("sleep").limits(limits), Hooks::default());
    let spawn = || spawner.spawn(request("sleep", &["1000"]), None, || Ok(None));
    let first = bounded(spawn()).await.unwrap();
    let _second = bounded(spawn()).await.unwrap();
    let third = bounded(spawn()).await.unwrap_err();
    assert!(
        matches!(third, SpawnError::LimitExceeded(ref m) if m.to_string().contains("max-children")),
        "{third}"
    );
    assert!(
        matches!(third, SpawnError::LimitExceeded(ref m) if m.limit == Limit::Children { max: 2 }),
        "{third:?}"
    );
    // A reaped child frees its slot.
    let mut first = first.process;
    first.kill_and_reap(DEADLINE).await;
    bounded(spawn()).await.unwrap();
}

#[tokio::test]
async fn observers_see_every_final_verdict_and_every_exit() {
    let record = Arc::new(Record::default());
    let hooks = Hooks {
        observers: vec![record.clone()],
        ..Hooks::default()
    };
    let spawner = spawner(builder().allow_run("true"), hooks);
    bounded(run(&spawner, request("true", &[]))).await.unwrap();
    bounded(run(&spawner, request("false", &[]))).await.unwrap_err();
    // The exit is reported by a task of its own: wait for its wake-up.
    bounded(record.1.notified()).await;
    let lines = record.0.lock().unwrap().clone();
    assert_eq!(lines[0], "allowed true");
    assert!(
        lines.iter().any(|l| l.starts_with("refused false: denied")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.ends_with("/true")), "{lines:?}");
}

#[tokio::test]
async fn escalation_is_asked_only_when_no_allow_rule_grants() {
    let ask = Ask::new(Answer::AllowOnce);
    let hooks = Hooks {
        escalation: Some(ask.clone()),
        ..Hooks::default()
    };
    let spawner = spawner(builder().allow_run("true").deny_run("echo secret"), hooks);
    // granted by a rule: not asked
    bounded(run(&spawner, request("true", &[]))).await.unwrap();
    assert!(ask.asked().is_empty());
    // refused by a deny rule: never asked
    let denied = bounded(run(&spawner, request("echo", &["secret"]))).await.unwrap_err();
    assert!(denied.contains("matches deny rule"), "{denied}");
    assert!(ask.asked().is_empty());
    // not granted: asked, allowed once, and asked again the next time
    bounded(run(&spawner, request("echo", &["hi"]))).await.unwrap();
    bounded(run(&spawner, request("echo", &["hi"]))).await.unwrap();
    assert_eq!(ask.asked().len(), 2, "{:?}", ask.asked());
    assert!(ask.asked()[0].ends_with("/echo hi"), "{:?}", ask.asked());
}

#[tokio::test]
async fn escalation_is_never_asked_for_what_the_manifest_does_not_request() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("plugin.manifest.toml");
    std::fs::write(&manifest, "allow-run = [\"echo **\"]\n").unwrap();
    let doc = procbox::policy::document::read(&manifest, procbox::policy::document::Kind::Manifest).unwrap();
    let ask = Ask::new(Answer::AllowOnce);
    let hooks = Hooks {
        escalation: Some(ask.clone()),
        ..Hooks::default()
    };
    let spawner = spawner(builder().manifest_document(&manifest, doc), hooks);
    let refused = bounded(run(&spawner, request("true", &[]))).await.unwrap_err();
    assert!(refused.starts_with("denied"), "{refused}");
    assert!(ask.asked().is_empty(), "asked for a request the manifest refuses");
    // what the manifest requests may be asked about
    bounded(run(&spawner, request("echo", &["ok"]))).await.unwrap();
    assert_eq!(ask.asked().len(), 1);
}

#[tokio::test]
async fn a_rule_granted_by_escalation_holds_for_the_rest_of_the_run() {
    let ask = Ask::new(Answer::AllowRule("echo **".into()));
    let hooks = Hooks {
        escalation: Some(ask.clone()),
        ..Hooks::default()
    };
    let spawner = spawner(builder().deny_run("echo secret"), hooks);
    bounded(run(&spawner, request("echo", &["one"]))).await.unwrap();
    bounded(run(&spawner, request("echo", &["two", "three"])))
        .await
        .unwrap();
    assert_eq!(ask.asked().len(), 1, "the rule is remembered: {:?}", ask.asked());
    // deny rules still apply to what the granted rule covers
    let denied = bounded(run(&spawner, request("echo", &["secret"]))).await.unwrap_err();
    assert!(denied.contains("matches deny rule"), "{denied}");
}

#[tokio::test]
async fn an_escalation_can_deny_and_cannot_grant_something_else() {
    let no = Ask::new(Answer::Deny("the user said no".into()));
    let spawner_no = spawner(
        builder(),
        Hooks {
            escalation: Some(no.clone()),
            ..Hooks::default()
        },
    );
    let denied = bounded(run(&spawner_no, request("true", &[]))).await.unwrap_err();
    assert!(
        denied.ends_with("refused by the host application: the user said no"),
        "{denied}"
    );

    let other = Ask::new(Answer::AllowRule("echo".into()));
    let spawner_other = spawner(
        builder(),
        Hooks {
            escalation: Some(other.clone()),
            ..Hooks::default()
        },
    );
    let refused = bounded(run(&spawner_other, request("true", &[]))).await.unwrap_err();
    assert!(
        refused.contains("granted rule 'echo', but it does not match the request"),
        "{refused}"
    );
}

#[tokio::test]
async fn without_an_escalation_hook_an_ungranted_request_is_denied_with_the_reason() {
    let spawner = spawner(builder().allow_run("echo hi"), Hooks::default());
    let denied = bounded(run(&spawner, request("echo", &["bye"]))).await.unwrap_err();
    assert!(denied.contains("no allow rule matches these arguments"), "{denied}");
}

#[tokio::test]
async fn the_plugins_timeout_cannot_outlast_the_policys_ceiling() {
    use procbox::{Termination, Timeout};
    let limits = Limits {
        max_runtime: Some(Duration::from_millis(300)),
        ..Limits::default()
    };
    let spawner = spawner(builder().allow_run("sleep").limits(limits), Hooks::default());
    let hour = Duration::from_secs(3600);
    // Before: the plugin's SIGCONT and hour of grace kept the child alive
    // past the user's 300 ms ceiling, whichever timeout came first.
    let cases = [
        // the plugin's timeout first: its signal is ignored, SIGKILL at the ceiling + grace
        (100, libc::SIGCONT, Termination::Signalled(libc::SIGKILL)),
        // the ceiling first: the ceiling's SIGTERM, not the plugin's SIGCONT
        (60_000, libc::SIGCONT, Termination::Signalled(libc::SIGTERM)),
    ];
    for (after_ms, signal, ended) in cases {
        let timeout = Timeout {
            after: Duration::from_millis(after_ms),
            signal,
            grace: hour,
        };
        let mut spawned = bounded(spawner.spawn(request("sleep", &["1000"]), Some(timeout), || Ok(None)))
            .await
            .unwrap();
        let status = bounded(spawned.process.wait()).await.unwrap();
        assert!(status.timed_out, "{status:?}");
        assert_eq!(status.termination, ended, "{status:?}");
    }
}

#[tokio::test]
async fn only_regular_files_are_redirect_targets_and_opening_one_never_blocks() {
    use procbox::{Redirect, Redirects};
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let fifo = root.join("pipe");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let spawner = spawner(
        // A redirect that writes needs a write grant.
        builder().start_dir(&root).allow_write(&root).allow_run("cat"),
        Hooks::default(),
    );
    let file = || Redirect::File {
        path: "pipe".into(),
        append: false,
    };
    // A FIFO as stdin (would block a blocking open until a writer comes)
    // and as stdout (would block until a reader comes).
    let stdin = Redirects {
        stdin: file(),
        ..Redirects::default()
    };
    let stdout = Redirects {
        stdout: file(),
        ..Redirects::default()
    };
    for stdio in [stdin, stdout] {
        let request = SpawnRequest {
            stdio,
            ..request("cat", &[])
        };
        let err = bounded(run(&spawner, request)).await.unwrap_err();
        assert!(
            err.starts_with("invalid input") && err.contains("not a regular file"),
            "{err}"
        );
    }
}
