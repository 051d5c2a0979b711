//! `spawn-outcome EXPECTED [NAME=VALUE...] PROGRAM [ARGS...]`: runs one
//! command, with those variables set, and checks how it ended against
//! EXPECTED, which the host test chooses for the policy it grants:
//! - `ok`: it ran and exited 0;
//! - `stdout:TEXT`: it ran, exited 0 and printed TEXT (trimmed);
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
            ("ok", Ok(out)) => assert!(out.status.success(), "{}", out.status),
            ("stdout", Ok(out)) => {
                assert!(out.status.success(), "{}", out.status);
                assert_eq!(out.stdout_lossy().trim(), text);
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
