//! A child writes as fast as it can; the plugin first never reads, then
//! reads slowly, then kills it. The host measures its own memory.

use std::io::Read;
use std::time::Duration;

use procbox_sdk::{Command, Stdio};

fn main() {
    scenarios::run(|_| {
        let mut child = Command::new("cat").arg("/dev/zero").stdout(Stdio::piped()).spawn()?;
        // Not synchronisation: the flood has to run unread for a while.
        std::thread::sleep(Duration::from_millis(700));
        let mut stdout = child.stdout.take().expect("piped");
        let mut buf = vec![0u8; 64 * 1024];
        let mut read = 0;
        for _ in 0..70 {
            read += stdout.read(&mut buf)?;
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(read > 0);
        child.kill()?;
        assert_eq!(child.wait()?.signal(), Some(9));
        Ok(())
    });
}
