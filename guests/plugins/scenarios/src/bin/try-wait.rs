//! `try_wait` tells a running child from a finished one, without blocking.

use procbox_sdk::Command;

fn main() {
    scenarios::run(|_| {
        let mut child = Command::new("sleep").arg("1000").spawn()?;
        assert_eq!(child.try_wait()?.map(|s| s.signal()), None, "still running");
        child.kill()?;
        child.wait()?;
        assert_eq!(child.try_wait()?.map(|s| s.signal()), Some(Some(9)), "finished");
        Ok(())
    });
}
