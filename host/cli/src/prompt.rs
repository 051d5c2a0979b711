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
//!
//! "Always" remembers the rule for this plugin (its content hash) in the
//! grant store, once the spawner has accepted it (it resolves and matches):
//! see `remembered.rs`. The same terminal asks whether a changed plugin may
//! keep what was remembered for its earlier version.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;

use procbox::gate::suggest::narrowest_rule;
use procbox::grant_store::{GrantStore, Remembered};
use procbox::{Answer, Escalation, Unmatched};

/// Asks on the controlling terminal.
pub struct TerminalPrompt {
    /// One question at a time.
    asking: tokio::sync::Mutex<()>,
    /// Where "always" remembers rules, if anywhere.
    memory: Option<Memory>,
}

/// The grant store and the plugin that "always" remembers rules for.
struct Memory {
    store: GrantStore,
    plugin: Remembered,
    /// Rules answered "always", remembered once the spawner accepts them.
    chosen: std::sync::Mutex<Vec<String>>,
}

impl TerminalPrompt {
    /// The prompt, if procbox runs on a terminal: stdin and stderr are
    /// terminals and `/dev/tty` opens.
    pub fn on_terminal() -> Option<TerminalPrompt> {
        use std::io::IsTerminal;
        let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        (terminal && open_tty().is_ok()).then(|| TerminalPrompt {
            asking: tokio::sync::Mutex::new(()),
            memory: None,
        })
    }

    /// The same prompt, offering to remember rules for `plugin` in `store`.
    pub fn remembering(self, store: GrantStore, plugin: Remembered) -> TerminalPrompt {
        TerminalPrompt {
            memory: Some(Memory {
                store,
                plugin,
                chosen: std::sync::Mutex::new(Vec::new()),
            }),
            ..self
        }
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
        let can_remember = self.memory.is_some();
        let (answer, always) = tokio::task::spawn_blocking(move || ask(&request, can_remember))
            .await
            .unwrap_or_else(|_| (Answer::Deny("the prompt failed".into()), false));
        if let (Answer::AllowRule(rule), true, Some(memory)) = (&answer, always, &self.memory) {
            memory
                .chosen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(rule.clone());
        }
        answer
    }

    fn accepted(&self, _request: &Unmatched, rule: &str) {
        let Some(memory) = &self.memory else { return };
        let mut chosen = memory.chosen.lock().unwrap_or_else(|e| e.into_inner());
        let Some(at) = chosen.iter().position(|r| r == rule) else {
            return;
        };
        chosen.remove(at);
        let said = match memory.store.remember(&memory.plugin, rule) {
            Ok(entry) => format!(
                "  remembered for {} (procbox grants revoke {} '{rule}' forgets it)",
                memory.plugin.plugin,
                entry.about.short_hash()
            ),
            Err(e) => format!("  could not remember it ({e}): it holds for this run only"),
        };
        if let Ok(tty) = open_tty() {
            let _ = writeln!(&tty, "{said}");
        }
    }
}

/// Asks about `request` on `/dev/tty`; anything but a clear yes denies.
/// The flag says whether the user chose to remember the rule ("always").
fn ask(request: &Unmatched, can_remember: bool) -> (Answer, bool) {
    match converse(request, can_remember) {
        Ok(answer) => answer,
        Err(e) => (
            Answer::Deny(format!("the prompt could not be shown or answered ({e})")),
            false,
        ),
    }
}

fn converse(request: &Unmatched, can_remember: bool) -> std::io::Result<(Answer, bool)> {
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
    let always = if can_remember {
        "   [a] always: remember the rule for this plugin"
    } else {
        ""
    };
    writeln!(
        out,
        "└ [o] allow once   [r] allow the rule for the rest of this run{always}   [e] edit the rule   [d] deny (default)"
    )?;
    write!(out, "  answer: ")?;
    out.flush()?;
    let mut lines = BufReader::new(&tty);
    let choice = read_line(&mut lines)?;
    Ok(match (choice.as_str(), rule) {
        ("o" | "once", _) => (Answer::AllowOnce, false),
        ("r" | "rule", Some(rule)) => (Answer::AllowRule(rule), false),
        ("a" | "always", Some(rule)) if can_remember => (Answer::AllowRule(rule), true),
        ("e" | "edit", suggested) => {
            write!(
                out,
                "  rule (as for --allow-run){}: ",
                suggested.map(|r| format!(" [{r}]")).unwrap_or_default()
            )?;
            out.flush()?;
            let edited = read_line(&mut lines)?;
            if edited.is_empty() {
                return Ok((Answer::Deny("no rule was given at the prompt".into()), false));
            }
            let always = can_remember && {
                write!(
                    out,
                    "  [r] for the rest of this run (default)   [a] always, for this plugin\n  answer: "
                )?;
                out.flush()?;
                matches!(read_line(&mut lines)?.as_str(), "a" | "always")
            };
            (Answer::AllowRule(edited), always)
        }
        _ => (Answer::Deny("denied at the prompt".into()), false),
    })
}

/// Asks on `/dev/tty` whether the grants remembered for `old` (`rules`)
/// may hold for `new`, a changed version of it whose manifest also asks
/// for `extra`. Anything but a clear yes is a no.
///
/// # Errors
/// The terminal cannot be opened, written or read.
pub fn confirm_changed(
    old: &Remembered,
    new: &Remembered,
    rules: &[String],
    extra: &[String],
) -> std::io::Result<bool> {
    let tty = open_tty()?;
    // SAFETY: tcflush on a terminal descriptor we own.
    unsafe { libc::tcflush(tty.as_raw_fd(), libc::TCIFLUSH) };
    let mut out = &tty;
    writeln!(
        out,
        "\n┌ procbox: {} changed since you remembered grants for it",
        new.plugin
    )?;
    writeln!(
        out,
        "│ blake3 was {}, is now {} ({})",
        old.short_hash(),
        new.short_hash(),
        new.path.display()
    )?;
    writeln!(out, "│ remembered: {}", rules.join(", "))?;
    match extra {
        [] => writeln!(out, "│ its manifest asks for nothing new")?,
        extra => writeln!(out, "│ its manifest now also asks for: {}", extra.join(" "))?,
    }
    writeln!(out, "└ [y] keep them for this version   [n] not now (default)")?;
    write!(out, "  answer: ")?;
    out.flush()?;
    Ok(matches!(read_line(&mut BufReader::new(&tty))?.as_str(), "y" | "yes"))
}

fn read_line(lines: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    lines.read_line(&mut line)?;
    Ok(line.trim().to_string())
}
