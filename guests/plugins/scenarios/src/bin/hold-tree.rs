//! Starts a tree and waits forever, for the tests that signal procbox.

use std::time::Duration;

fn main() {
    scenarios::run(|_| {
        let _tree = scenarios::start_tree()?;
        loop {
            std::thread::sleep(Duration::from_secs(1000));
        }
    });
}
