//! `exit-code CODE`: a child's exit code is reported as such, and only 0 is
//! success.

use procbox_sdk::Command;

fn main() {
    scenarios::run(|args| {
        let code: i32 = args[0].parse().expect("an exit code");
        let status = Command::new("sh")
            .args(["-c", &format!("exit {code}")])
            .unchecked()
            .status()?;
        assert_eq!(status.code(), Some(code));
        assert_eq!(status.signal(), None);
        assert_eq!(status.success(), code == 0);
        Ok(())
    });
}
