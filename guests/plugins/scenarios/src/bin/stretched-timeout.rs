//! `stretched-timeout AFTER_MS SIGNAL`: a child with the plugin's own
//! timeout after AFTER_MS, whose signal (SIGCONT) it ignores, and an hour of
//! grace. Under the policy's max-runtime it must still time out, ending by
//! SIGNAL.

use std::time::Duration;

use procbox_sdk::{Command, Signal};

fn main() {
    scenarios::run(|args| {
        let after: u64 = args[0].parse().expect("milliseconds");
        let expected: i32 = args[1].parse().expect("a signal number");
        let status = Command::new("sleep")
            .arg("1000")
            .timeout(Duration::from_millis(after))
            .timeout_signal(Signal::Continue)
            .kill_grace(Duration::from_secs(3600))
            .unchecked()
            .status()?;
        assert!(status.timed_out, "{status}");
        assert_eq!(status.signal(), Some(expected), "{status}");
        Ok(())
    });
}
