//! `both-streams [MIB]`: `tee /dev/stderr` writes MIB MiB (default 1) to
//! stdout and to stderr; both are read at once, without deadlock.

use procbox_sdk::{Command, Stdio};

fn main() {
    scenarios::run(|args| {
        let data = scenarios::pattern(scenarios::mib(args));
        let tee = Command::new("tee")
            .arg("/dev/stderr")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let out = tee.communicate(&data)?;
        assert_eq!(out.stdout.len(), data.len());
        assert_eq!(out.stderr.len(), data.len());
        assert!(out.stdout == data && out.stderr == data, "both copies intact");
        Ok(())
    });
}
