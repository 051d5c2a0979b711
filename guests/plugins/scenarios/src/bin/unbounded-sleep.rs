//! A child started without a timeout: only the policy's runtime ceiling
//! (or the plugin's time budget) stops it. When the ceiling does, it is a
//! timeout with SIGTERM.

use procbox_sdk::Command;

fn main() {
    scenarios::run(|_| {
        let status = Command::new("sleep").arg("1000").unchecked().status()?;
        assert!(status.timed_out);
        assert_eq!(status.signal(), Some(15));
        Ok(())
    });
}
