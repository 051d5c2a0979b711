//! A command that exits non-zero is an error by default, and the message
//! names the command, the exit code and the end of its stderr.

use procbox_sdk::Command;

fn main() {
    scenarios::run(|_| {
        let err = Command::new("sh")
            .args(["-c", "echo one >&2; echo two >&2; exit 3"])
            .output()
            .expect_err("exit 3 is an error by default");
        let message = err.to_string();
        assert!(
            message.contains(r#"`sh -c "echo one >&2; echo two >&2; exit 3"` failed: exit code 3"#),
            "{message}"
        );
        assert!(message.contains("stderr ends with:\none\ntwo"), "{message}");
        Ok(())
    });
}
