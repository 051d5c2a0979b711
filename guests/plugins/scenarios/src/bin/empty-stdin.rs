//! `output()` with piped stdin and nothing to send still closes stdin, so
//! `cat` ends.

use procbox_sdk::{Command, Stdio};

fn main() {
    scenarios::run(|_| {
        let out = Command::new("cat").stdin(Stdio::piped()).output()?;
        assert_eq!(out.stdout_lossy(), "");
        Ok(())
    });
}
