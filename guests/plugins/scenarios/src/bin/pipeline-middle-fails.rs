//! A failing checked middle stage is reported, also when the last stage is
//! unchecked and fails too (duct's rule); with every stage unchecked, the
//! statuses come back and the rule still names the middle stage.

use procbox_sdk::Command;

const MIDDLE: &str = r#"`sh -c "cat >/dev/null; echo middle broke >&2; exit 5"` failed: exit code 5"#;

fn main() {
    scenarios::run(|_| {
        let mut middle = Command::new("sh");
        middle.args(["-c", "cat >/dev/null; echo middle broke >&2; exit 5"]);
        let checked = Command::new("seq")
            .args(["1", "1000"])
            .pipe(&middle)
            .pipe(&Command::new("cat"))
            .output()
            .expect_err("the middle stage fails")
            .to_string();
        assert!(checked.contains(MIDDLE), "{checked}");
        assert!(checked.contains("middle broke"), "the stage's stderr: {checked}");

        let with_unchecked_last = Command::new("seq")
            .args(["1", "1000"])
            .pipe(&middle)
            .pipe(Command::new("sh").args(["-c", "cat; exit 1"]).unchecked())
            .output()
            .expect_err("the checked middle stage fails")
            .to_string();
        assert!(with_unchecked_last.contains(MIDDLE), "{with_unchecked_last}");

        let all_unchecked = Command::new("seq")
            .args(["1", "1000"])
            .pipe(&middle)
            .pipe(&Command::new("cat"))
            .unchecked()
            .output()?;
        assert_eq!(all_unchecked.failed_stage(), Some(1));
        Ok(())
    });
}
