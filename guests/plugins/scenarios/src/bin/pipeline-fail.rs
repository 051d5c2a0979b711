//! Two failing stages: the error names the rightmost one, with its stderr.

use procbox_sdk::Command;

fn main() {
    scenarios::run(|_| {
        let err = Command::new("sh")
            .args(["-c", "echo x; exit 3"])
            .pipe(Command::new("sh").args(["-c", "cat >/dev/null; echo oops >&2; exit 4"]))
            .pipe(&Command::new("cat"))
            .output()
            .expect_err("two stages fail");
        let message = err.to_string();
        assert!(
            message.contains(r#"`sh -c "cat >/dev/null; echo oops >&2; exit 4"` failed: exit code 4"#),
            "{message}"
        );
        assert!(message.contains("oops"), "the failing stage's stderr: {message}");
        Ok(())
    });
}
