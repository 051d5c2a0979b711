//! `echo hello world`, captured: its stdout, exit code and duration.

use procbox_sdk::Command;

fn main() {
    scenarios::run(|_| {
        let out = Command::new("echo").args(["hello", "world"]).output()?;
        assert_eq!(out.stdout_lossy(), "hello world\n");
        assert_eq!(out.status.code(), Some(0));
        assert!(!out.status.duration.is_zero(), "a real process takes time");
        Ok(())
    });
}
