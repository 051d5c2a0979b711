//! A child killed by a signal has a signal and no exit code.

use procbox_sdk::Command;

fn main() {
    scenarios::run(|_| {
        let status = Command::new("sh").args(["-c", "kill -9 $$"]).unchecked().status()?;
        assert_eq!(status.code(), None);
        assert_eq!(status.signal(), Some(9));
        Ok(())
    });
}
