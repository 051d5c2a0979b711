//! `zombie-churn COUNT`: runs COUNT children that each leave a background
//! grandchild and exit 7, checks that every one of them reports exit code 7
//! (procbox's reaper of adopted orphans must never take a watched child's
//! status), prints `done`, then waits for ever. The host counts the zombies
//! the grandchildren become once procbox has adopted them.

use std::time::Duration;

use procbox_sdk::Command;

fn main() {
    scenarios::run(|args| {
        let count: usize = args[0].parse().expect("a count");
        for i in 0..count {
            let status = Command::new("sh")
                .args(["-c", "/usr/bin/sleep 1000 & exit 7"])
                .unchecked()
                .status()?;
            assert_eq!(status.code(), Some(7), "child {i}: {status}");
        }
        println!("done");
        loop {
            std::thread::sleep(Duration::from_secs(1000));
        }
    });
}
