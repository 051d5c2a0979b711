//! The permission prompt on a terminal: the escalation hook of `procbox
//! run` when stdin and stderr are a terminal (and neither `--no-prompt`
//! nor a permission broker is set). It asks only about requests that no
//! allow rule grants; a request a deny rule or the manifest refuses never
//! gets here (the spawner judges those first).
//!
//! Not spoofable by the plugin: the question is written to, and the answer
//! read from, `/dev/tty` itself, after discarding whatever was typed (or
//! injected) before the question appeared. The plugin's time budget stops
//! while the question waits (the spawner counts the wait as a pause).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;

use procbox::gate::suggest::narrowest_rule;
use procbox::{Answer, Escalation, Unmatched};

/// Asks on the controlling terminal.
pub struct TerminalPrompt {
    /// One question at a time.
    asking: tokio::sync::Mutex<()>,
}

impl TerminalPrompt {
    /// The prompt, if procbox runs on a terminal: stdin and stderr are
    /// terminals and `/dev/tty` opens.
    pub fn on_terminal() -> Option<TerminalPrompt> {
        use std::io::IsTerminal;
        let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        (terminal && open_tty().is_ok()).then(|| TerminalPrompt {
            asking: tokio::sync::Mutex::new(()),
        })
    }
}

fn open_tty() -> std::io::Result<File> {
    File::options().read(true).write(true).open("/dev/tty")
}

#[async_trait::async_trait]
impl Escalation for TerminalPrompt {
    async fn escalate(&self, request: &Unmatched) -> Answer {
        let _one_at_a_time = self.asking.lock().await;
        let request = request.clone();
        tokio::task::spawn_blocking(move || ask(&request))
            .await
            .unwrap_or_else(|_| Answer::Deny("the prompt failed".into()))
    }
}

/// Asks about `request` on `/dev/tty`; anything but a clear yes denies.
fn ask(request: &Unmatched) -> Answer {
    match converse(request) {
        Ok(answer) => answer,
        Err(e) => Answer::Deny(format!("the prompt could not be shown or answered ({e})")),
    }
}

fn converse(request: &Unmatched) -> std::io::Result<Answer> {
    let tty = open_tty()?;
    let program = request.program.display().to_string();
    let rule = narrowest_rule(&program, &request.args);
    // Input typed (or injected) before the question is not an answer to it.
    // SAFETY: tcflush on a terminal descriptor we own.
    unsafe { libc::tcflush(tty.as_raw_fd(), libc::TCIFLUSH) };
    let mut out = &tty;
    writeln!(out, "\n┌ procbox: the plugin asks to run: {}", request.command_line())?;
    writeln!(out, "│ {}", request.reason)?;
    match &rule {
        Some(rule) => writeln!(out, "│ suggested rule: {rule}")?,
        None => writeln!(
            out,
            "│ (an argument holds whitespace: it can only be allowed once, or in a grants file)"
        )?,
    }
    writeln!(
        out,
        "└ [o] allow once   [r] allow the rule for the rest of this run   [e] edit the rule   [d] deny (default)"
    )?;
    write!(out, "  answer: ")?;
    out.flush()?;
    let mut lines = BufReader::new(&tty);
    let choice = read_line(&mut lines)?;
    Ok(match (choice.as_str(), rule) {
        ("o" | "once", _) => Answer::AllowOnce,
        ("r" | "rule", Some(rule)) => Answer::AllowRule(rule),
        ("e" | "edit", suggested) => {
            write!(
                out,
                "  rule (as for --allow-run){}: ",
                suggested.map(|r| format!(" [{r}]")).unwrap_or_default()
            )?;
            out.flush()?;
            match read_line(&mut lines)?.as_str() {
                "" => Answer::Deny("no rule was given at the prompt".into()),
                edited => Answer::AllowRule(edited.to_string()),
            }
        }
        _ => Answer::Deny("denied at the prompt".into()),
    })
}

fn read_line(lines: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    lines.read_line(&mut line)?;
    Ok(line.trim().to_string())
}
