//! `kill` stops the child with SIGKILL, and killing it again is harmless.

use procbox_sdk::Command;

fn main() {
    scenarios::run(|_| {
        let mut child = Command::new("sleep").arg("1000").spawn()?;
        child.kill()?;
        assert_eq!(child.wait()?.signal(), Some(9));
        child.kill()?;
        Ok(())
    });
}
