//! `hold-command hold|leave PROGRAM [ARGS...]`: starts the command with
//! its stdout piped, relays its stdout until a line that starts with
//! `ready`, prints `ready`, then either holds the child and waits forever
//! (`hold`, for the tests that signal procbox) or ends without waiting for
//! it (`leave`).

use std::io::{BufRead, BufReader};
use std::time::Duration;

use procbox_sdk::{Command, Stdio};

fn main() {
    scenarios::run(|args| {
        let (mode, command) = args.split_first().expect("hold|leave PROGRAM [ARGS...]");
        let (program, rest) = command.split_first().expect("a program");
        let mut child = Command::new(program).args(rest).stdout(Stdio::piped()).spawn()?;
        let stdout = child.stdout.take().expect("piped");
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            if line.starts_with("ready") {
                break;
            }
        }
        println!("ready");
        if mode == "leave" {
            std::mem::forget(child);
            return Ok(());
        }
        loop {
            std::thread::sleep(Duration::from_secs(1000));
        }
    });
}
