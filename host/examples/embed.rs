//! Embedding procbox as an application's plugin system: build a policy in
//! code, load a plugin, and decide each spawn with a hook, as an editor
//! would by asking its user ("Plugin demo wants to run grep. Allow?").
//!
//! `cargo run --example embed` runs the bundled demo plugin with a hook
//! that approves echo, cat and tee and refuses everything else.

use std::sync::{Arc, Mutex};

use procbox::{Outcome, Permit, PolicyBuilder, RunOptions, Runtime, SpawnError, SpawnHook, SpawnRequest};

/// The "permission prompt": here a fixed answer per program, and a record
/// of what was asked.
struct Prompt {
    approved: &'static [&'static str],
    asked: Mutex<Vec<String>>,
}

impl SpawnHook for Prompt {
    fn on_decision(&self, request: &SpawnRequest, verdict: Result<&Permit, &SpawnError>) -> Result<(), String> {
        // Only requests the policy allowed reach the user.
        let Ok(permit) = verdict else { return Ok(()) };
        let name = permit
            .program()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let answer = self.approved.contains(&name.as_str());
        println!(
            "[host] plugin wants to run `{}`: {}",
            permit.command_line(),
            if answer { "allowed" } else { "refused" }
        );
        self.asked.lock().unwrap().push(request.program.clone());
        if answer {
            Ok(())
        } else {
            Err(format!("the user said no to {name}"))
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The policy is the outer bound: nothing beyond these can even be asked.
    let policy = PolicyBuilder::new()
        .allow_run("echo")
        .allow_run("cat")
        .allow_run("grep")
        .allow_run("tee")
        .build()?;
    let prompt = Arc::new(Prompt {
        approved: &["echo", "cat", "tee"],
        asked: Mutex::new(Vec::new()),
    });
    let runtime = Runtime::new()?;
    let plugin = runtime.load_bytes("demo.wasm", include_bytes!(env!("PROCBOX_DEMO_WASM")))?;
    let mut options = RunOptions::new(Arc::new(policy));
    options.hooks.push(prompt.clone());
    let outcome = runtime.run(&plugin, options).await?;
    println!(
        "[host] the plugin ended: {outcome:?}; it asked for {:?}",
        prompt.asked.lock().unwrap()
    );
    // The demo stops at its first error: grep was refused.
    assert_eq!(outcome, Outcome::Exited(1));
    Ok(())
}
