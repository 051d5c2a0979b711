//! A signal reaches the child; signalling a child that is gone is not an
//! error.

use procbox_sdk::{Command, Signal};

fn main() {
    scenarios::run(|_| {
        let mut child = Command::new("sleep").arg("1000").spawn()?;
        child.signal(Signal::Terminate)?;
        assert_eq!(child.wait()?.signal(), Some(15));
        child.signal(Signal::Terminate)?;
        Ok(())
    });
}
