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

use procbox::gate::suggest::narrowest_rule;
use procbox::grants::{GrantStore, Remembered};
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
    /// The requests and rules last answered "always", remembered once the
    /// spawner accepts them (an answer for the same request and rule
    /// without "always" removes its entry, so none is left to turn a later
    /// "for this run" into "always").
    chosen: std::sync::Mutex<Vec<(Unmatched, String)>>,
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
        let asked = request.clone();
        let can_remember = self.memory.is_some();
        let (answer, always) = tokio::task::spawn_blocking(move || ask(&asked, can_remember))
            .await
            .unwrap_or_else(|_| (Answer::Deny("the prompt failed".into()), false));
        if let (Answer::AllowRule(rule), Some(memory)) = (&answer, &self.memory) {
            let mut chosen = memory.chosen.lock().unwrap_or_else(|e| e.into_inner());
            chosen.retain(|(asked, chose)| !(asked == request && chose == rule));
            if always {
                chosen.push((request.clone(), rule.clone()));
            }
        }
        answer
    }

    fn accepted(&self, request: &Unmatched, rule: &str) {
        let Some(memory) = &self.memory else { return };
        let mut chosen = memory.chosen.lock().unwrap_or_else(|e| e.into_inner());
        let Some(at) = chosen
            .iter()
            .position(|(asked, chose)| asked == request && chose == rule)
        else {
            return;
        };
        chosen.remove(at);
        let rule = pinned(rule, &request.program);
        let said = match memory.store.remember(&memory.plugin, &rule) {
            Ok(entry) => format!(
                "  remembered for {} (procbox grants revoke {} {} forgets it)",
                shown(&memory.plugin.plugin),
                entry.about.short_hash(),
                shown(&shell_word(&rule))
            ),
            Err(e) => format!(
                "  could not remember it ({}): it holds for this run only",
                shown(&e.to_string())
            ),
        };
        if let Ok(tty) = open_tty() {
            let _ = writeln!(&tty, "{said}");
        }
    }
}

/// `rule` with its program written as the file it resolved to (`program`,
/// which the rule matched), so that a remembered rule never resolves to
/// another file through a later run's PATH or start directory. A path with
/// whitespace cannot be one word: the rule stays as written.
fn pinned(rule: &str, program: &std::path::Path) -> String {
    let path = program.display().to_string();
    if path.contains(char::is_whitespace) {
        return rule.to_string();
    }
    match rule.split_once(char::is_whitespace) {
        Some((_, patterns)) => format!("{path} {}", patterns.trim_start()),
        None => path,
    }
}

/// `word` for a POSIX shell: single-quoted unless plain.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c);
    match !word.is_empty() && word.chars().all(plain) {
        true => word.to_string(),
        false => format!("'{}'", word.replace('\'', r"'\''")),
    }
}

/// `text` safe to write to a terminal: control characters (C0 and C1, ESC
/// included) and Unicode format characters (bidirectional overrides, zero
/// widths) written as `\u{..}`, so that a plugin's words cannot move the
/// cursor, clear the screen or reorder what the question says.
pub fn shown(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_control() || is_format(c) => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// Unicode's format characters (category Cf) that change how text around
/// them is shown.
fn is_format(c: char) -> bool {
    matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x1D173..=0x1D17A
        | 0xE0001 | 0xE0020..=0xE007F)
}

/// Resets what a plugin's output may have left set on the terminal
/// (invisible or coloured text, another character set) before a question.
const RESET: &str = "\x1b[0m\x1b(B";

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
    let _ = rustix::termios::tcflush(&tty, rustix::termios::QueueSelector::IFlush);
    let mut out = &tty;
    writeln!(
        out,
        "{RESET}\n┌ procbox: the plugin asks to run: {}",
        shown(&request.command_line())
    )?;
    writeln!(out, "│ {}", shown(&request.reason))?;
    match &rule {
        Some(rule) => writeln!(out, "│ suggested rule: {}", shown(rule))?,
        None => writeln!(
            out,
            "│ (no one-word rule allows exactly this: allow it once, or write it in a grants file)"
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
                suggested
                    .as_deref()
                    .map(|r| format!(" [{}]", shown(r)))
                    .unwrap_or_default()
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
/// for `extra` (`None`: it has no manifest). Anything but a clear yes is a
/// no.
///
/// # Errors
/// The terminal cannot be opened, written or read.
pub fn confirm_changed(
    old: &Remembered,
    new: &Remembered,
    rules: &[String],
    extra: Option<&[String]>,
) -> std::io::Result<bool> {
    let tty = open_tty()?;
    let _ = rustix::termios::tcflush(&tty, rustix::termios::QueueSelector::IFlush);
    let mut out = &tty;
    writeln!(
        out,
        "{RESET}\n┌ procbox: {} changed since you remembered grants for it",
        shown(&new.plugin)
    )?;
    writeln!(
        out,
        "│ blake3 was {}, is now {} ({})",
        old.short_hash(),
        new.short_hash(),
        shown(&new.path.display().to_string())
    )?;
    writeln!(out, "│ remembered: {}", shown(&rules.join(", ")))?;
    match extra {
        None => writeln!(out, "│ it has no manifest now: nothing limits what it may ask to run")?,
        Some([]) => writeln!(out, "│ its manifest asks for nothing new")?,
        Some(extra) => writeln!(out, "│ its manifest now also asks for: {}", shown(&extra.join(" ")))?,
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
