//! `cat-round-trip [MIB]`: MIB MiB (default 1) through `cat` and back,
//! intact.

use procbox_sdk::{Command, Stdio};

fn main() {
    scenarios::run(|args| {
        let data = scenarios::pattern(scenarios::mib(args));
        let cat = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let out = cat.communicate(&data)?;
        assert_eq!(out.stdout.len(), data.len(), "received all that was sent");
        assert!(out.stdout == data, "received what was sent");
        Ok(())
    });
}
