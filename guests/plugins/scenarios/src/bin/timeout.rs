//! A command's own timeout stops it with SIGTERM and says it timed out.

use std::time::Duration;

use procbox_sdk::Command;

fn main() {
    scenarios::run(|_| {
        let status = Command::new("sleep")
            .arg("1000")
            .timeout(Duration::from_millis(200))
            .unchecked()
            .status()?;
        assert!(status.timed_out);
        assert_eq!(status.signal(), Some(15));
        Ok(())
    });
}
