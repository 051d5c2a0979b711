//! Embedding procbox as an application's plugin system, as an editor or a
//! bot would:
//! - the **policy**, built in code, is the outer bound;
//! - an **escalation hook** asks the user about what the policy does not
//!   grant (here a stand-in prompt that reads its answers from a channel);
//! - an **authorizer** narrows what is allowed (this application never lets
//!   a plugin delete files, whatever the user says);
//! - an **observer** keeps a log of what ran;
//! - the plugin's own output is **captured**, not printed.
//!
//! Run it with the demo plugin built by the tests (or any plugin that uses
//! echo, cat, grep, tee and rm):
//!
//! ```sh
//! cargo run -p procbox --example embed -- target/guests/wasm32-wasip2/release/procbox-demo.wasm
//! ```

use std::path::Path;
use std::sync::{Arc, Mutex};

use procbox::wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use procbox::{
    Answer, AuthorizeError, Authorizer, Decision, Escalation, ExitEvent, Observer, Outcome, PolicyBuilder, RunOptions,
    Runtime, SpawnError, SpawnRequest, Unmatched,
};
use tokio::sync::mpsc;

/// The permission prompt: shows the question, then waits for the user's
/// answer (here, from a channel the application fills).
struct Prompt {
    answers: tokio::sync::Mutex<mpsc::UnboundedReceiver<Answer>>,
    questions: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Escalation for Prompt {
    async fn escalate(&self, request: &Unmatched) -> Answer {
        let question = format!("The plugin wants to run `{}`. Allow?", request.command_line());
        self.questions.lock().unwrap().push(question);
        let answer = self.answers.lock().await.recv().await;
        answer.unwrap_or(Answer::Deny("nobody answered".into()))
    }
}

/// This application's own rule, stricter than any user's: no `rm`.
struct NeverDelete;

#[async_trait::async_trait]
impl Authorizer for NeverDelete {
    async fn authorize(&self, decision: &Decision) -> Result<(), AuthorizeError> {
        match decision.program().file_name().and_then(|n| n.to_str()) {
            Some("rm" | "shred" | "unlink") => Err("this editor never lets plugins delete files".into()),
            _ => Ok(()),
        }
    }
}

/// The application's activity log.
#[derive(Default)]
struct ActivityLog(Mutex<Vec<String>>);

impl Observer for ActivityLog {
    fn on_verdict(&self, request: &SpawnRequest, verdict: Result<&Decision, &SpawnError>) {
        let line = match verdict {
            Ok(decision) => format!("ran {}", decision.command_line()),
            Err(err) => format!("refused {}: {err}", request.program),
        };
        self.0.lock().unwrap().push(line);
    }

    fn on_exit(&self, exit: &ExitEvent<'_>) {
        let how = match exit.status {
            Ok(status) => format!("{:?}", status.termination),
            Err(err) => err.to_string(),
        };
        self.0
            .lock()
            .unwrap()
            .push(format!("{} ended: {how}", exit.program.display()));
    }
}

/// What the embedding saw of one run.
pub struct Report {
    /// How the plugin ended.
    pub outcome: Outcome,
    /// What the prompt was asked, in order.
    pub questions: Vec<String>,
    /// The activity log.
    pub activity: Vec<String>,
    /// The plugin's own stdout.
    pub plugin_stdout: String,
}

/// Runs `plugin` the way this application runs every plugin. The user's
/// answers to the prompt, in order, are `answers`.
pub async fn embed(plugin: &Path, answers: Vec<Answer>) -> anyhow::Result<Report> {
    let policy = PolicyBuilder::new()
        .allow_run("echo **")
        .allow_run("cat")
        .allow_run("tee **")
        .build()?;
    let (tx, rx) = mpsc::unbounded_channel();
    answers
        .into_iter()
        .for_each(|a| tx.send(a).expect("the prompt is listening"));
    let prompt = Arc::new(Prompt {
        answers: tokio::sync::Mutex::new(rx),
        questions: Mutex::default(),
    });
    let log = Arc::new(ActivityLog::default());
    let stdout = MemoryOutputPipe::new(1 << 20);
    let captured = stdout.clone();
    let options = RunOptions::new(Arc::new(policy))
        .escalation(prompt.clone())
        .authorizer(Arc::new(NeverDelete))
        .observer(log.clone())
        .wasi(move |wasi| {
            wasi.stdout(captured.clone());
        });
    let runtime = Runtime::new()?;
    let plugin = runtime.load_file(plugin)?;
    let outcome = runtime.run(&plugin, options).await?;
    let questions = prompt.questions.lock().unwrap().clone();
    let activity = log.0.lock().unwrap().clone();
    Ok(Report {
        outcome,
        questions,
        activity,
        plugin_stdout: String::from_utf8_lossy(&stdout.contents()).into_owned(),
    })
}

#[allow(dead_code)] // a test includes this file and calls `embed` itself
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let plugin = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/guests/wasm32-wasip2/release/procbox-demo.wasm".into());
    // The user allows grep once, and then also says yes to `rm`, which the
    // application's own rule refuses all the same.
    let report = embed(Path::new(&plugin), vec![Answer::AllowOnce, Answer::AllowOnce]).await?;
    for question in &report.questions {
        println!("[prompt] {question}");
    }
    for line in &report.activity {
        println!("[log] {line}");
    }
    println!(
        "[host] the plugin printed {} lines and ended: {:?}",
        report.plugin_stdout.lines().count(),
        report.outcome
    );
    Ok(())
}
