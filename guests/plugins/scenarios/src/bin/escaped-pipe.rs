//! A grandchild that escaped the process group with setsid and keeps the
//! child's stdout open does not hang the plugin's reads: the stream ends
//! when the child is reaped, and a timeout still ends the child.

use std::io::Read;
use std::time::Duration;

use procbox_sdk::{Command, Error, Stdio};

fn main() {
    scenarios::run(|_| {
        // The escapee only holds the pipe.
        let out = Command::new("sh")
            .args(["-c", "/usr/bin/setsid /usr/bin/sleep 1000 & echo hi"])
            .output()?;
        assert_eq!(out.stdout_lossy(), "hi\n");

        // The escapee writes without end: once the child is reaped, the
        // stream delivers what the pipe held then, and ends. The child exits
        // only when its stdin closes, which happens once the escapee's output
        // has arrived: the escapee is writing when the child goes.
        let mut child = Command::new("sh")
            .args(["-c", "/usr/bin/setsid /usr/bin/yes escaped & echo hi; read _"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut stdout = child.stdout.take().expect("piped");
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(8).any(|w| w == b"escaped\n") {
            match stdout.read(&mut buf).map_err(Error::from)? {
                0 => break,
                n => head.extend_from_slice(&buf[..n]),
            }
        }
        drop(child.stdin.take());
        let mut rest = Vec::new();
        stdout.read_to_end(&mut rest).map_err(Error::from)?;
        child.wait()?;
        assert!(String::from_utf8_lossy(&head).lines().any(|line| line == "hi"));
        // At most what the pipe and procbox's chunks held at the reap.
        assert!(
            rest.len() <= 4 << 20,
            "{} bytes after the exit: the drain did not stop at the reap",
            rest.len()
        );

        let timed = Command::new("sh")
            .args(["-c", "/usr/bin/setsid /usr/bin/sleep 1000 & exec /usr/bin/sleep 1000"])
            .timeout(Duration::from_millis(300))
            .unchecked()
            .output()?;
        assert!(timed.status.timed_out);
        assert_eq!(timed.status.signal(), Some(15));
        Ok(())
    });
}
