//! `spawn-outcome EXPECTED [NAME=VALUE...] PROGRAM [ARGS...]`: runs one
//! command, with those variables set, and checks how it ended against
//! EXPECTED, which the host test chooses for the policy it grants:
//! - `ok`: it ran and exited 0;
//! - `stdout:TEXT`: it ran, exited 0 and printed TEXT (trimmed);
//! - `fails:TEXT`: it ran and exited non-zero, and its stdout or stderr
//!   contains TEXT (a refusal by the kernel, say);
//! - `KIND:FRAGMENT|FRAGMENT...`: it was refused with that kind of error
//!   (`denied`, `not-found`, `invalid-input`, `limit-exceeded`), and the
//!   message contains every fragment.

use procbox_sdk::{Command, Error};

fn main() {
    scenarios::run(|args| {
        let (expected, words) = args.split_first().expect("EXPECTED PROGRAM");
        let vars = words.iter().take_while(|w| w.contains('=')).count();
        let (program, rest) = words[vars..].split_first().expect("a program");
        let mut command = Command::new(program);
        command.args(rest).unchecked();
        for var in &words[..vars] {
            let (name, value) = var.split_once('=').expect("NAME=VALUE");
            command.env(name, value);
        }
        let result = command.output();
        let (kind, text) = expected.split_once(':').unwrap_or((expected, ""));
        match (kind, result) {
            ("ok", Ok(out)) => {
                print!("{}", out.stdout_lossy());
                assert!(
                    out.status.success(),
                    "{}: {}{}",
                    out.status,
                    out.stdout_lossy(),
                    out.stderr_lossy()
                );
            }
            ("stdout", Ok(out)) => {
                assert!(out.status.success(), "{}: {}", out.status, out.stderr_lossy());
                assert_eq!(out.stdout_lossy().trim(), text);
            }
            ("fails", Ok(out)) => {
                let printed = format!("{}{}", out.stdout_lossy(), out.stderr_lossy());
                println!("{}: {}", out.status, printed.trim());
                assert!(!out.status.success(), "expected a failure, but it succeeded: {printed}");
                assert!(printed.contains(text), "{text:?} is not in {printed:?}");
            }
            (kind, Err(err)) => {
                let (actual, message) = match &err {
                    Error::Denied(m) => ("denied", m),
                    Error::NotFound(m) => ("not-found", m),
                    Error::InvalidInput(m) => ("invalid-input", m),
                    Error::LimitExceeded(m) => ("limit-exceeded", m),
                    other => panic!("expected {expected:?}, got {other}"),
                };
                assert_eq!(actual, kind, "{err}");
                for fragment in text.split('|') {
                    assert!(message.contains(fragment), "{fragment:?} is not in {message:?}");
                }
                println!("{kind}: {message}");
            }
            (_, Ok(out)) => panic!("expected {expected:?}, but it ran: {}", out.status),
        }
        Ok(())
    });
}
