//! Requests far beyond what `exec` accepts are clear `invalid-input`
//! errors, not a crash.

use procbox_sdk::{Command, Error};

fn main() {
    scenarios::run(|_| {
        let long_argument = "x".repeat(200 * 1024);
        match Command::new("echo").arg(&long_argument).output() {
            Err(Error::InvalidInput(m)) => assert!(m.contains("longer than the limit"), "{m}"),
            other => panic!("a 200 KiB argument: {other:?}"),
        }
        match Command::new("echo").args(vec!["y"; 100_000]).output() {
            Err(Error::InvalidInput(m)) => assert!(m.contains("more than the limit"), "{m}"),
            other => panic!("100000 arguments: {other:?}"),
        }
        Ok(())
    });
}
