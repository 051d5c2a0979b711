//! Waiting for whichever of several children ends first, and for one child
//! against a deadline.

use std::time::Duration;

use procbox_sdk::Command;

fn main() {
    scenarios::run(|_| {
        let mut slow = Command::new("sleep").arg("1000").spawn()?;
        let mut quick = Command::new("sleep").arg("0").spawn()?;
        let (index, status) = procbox_sdk::wait_any(&mut [&mut slow, &mut quick])?;
        assert_eq!(index, 1, "the quick one");
        assert_eq!(status.code(), Some(0));
        let waited = slow.wait_timeout(Duration::from_millis(200))?;
        assert_eq!(waited.map(|s| s.code()), None, "the slow one still runs");
        slow.kill()?;
        let waited = slow.wait_timeout(Duration::from_secs(30))?;
        assert_eq!(waited.map(|s| s.signal()), Some(Some(9)));
        Ok(())
    });
}
