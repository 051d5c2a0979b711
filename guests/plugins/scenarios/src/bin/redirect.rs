//! `redirect DIR`: files as stdout (truncating, then appending) and stdin,
//! stderr merged into stdout, and a file outside the granted directory
//! refused. DIR is granted for writing; the host checks the file it leaves.

use procbox_sdk::{Command, Error, Stdio};

fn main() {
    scenarios::run(|args| {
        let file = format!("{}/out.txt", args[0]);
        Command::new("echo").arg("hello").stdout(Stdio::file(&file)).status()?;
        Command::new("echo")
            .arg("again")
            .stdout(Stdio::append(&file))
            .status()?;
        let back = Command::new("cat").stdin(Stdio::file(&file)).output()?;
        assert_eq!(back.stdout_lossy(), "hello\nagain\n");

        let merged = Command::new("sh")
            .args(["-c", "echo out; echo err >&2"])
            .stderr_to_stdout()
            .output()?;
        assert_eq!(merged.stdout_lossy(), "out\nerr\n");

        let outside = Command::new("echo")
            .arg("x")
            .stdout(Stdio::file("/etc/procbox-escape"))
            .status();
        match outside {
            Err(Error::Denied(m)) => assert!(m.contains("outside the directories granted for writing"), "{m}"),
            other => panic!("writing to /etc: {other:?}"),
        }
        Ok(())
    });
}
