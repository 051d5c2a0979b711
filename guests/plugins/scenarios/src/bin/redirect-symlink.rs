//! `redirect-symlink DIR`: DIR is granted for writing, but DIR/out.txt is a symlink,
//! which could point anywhere: writing to it is refused.

use procbox_sdk::{Command, Error, Stdio};

fn main() {
    scenarios::run(|args| {
        let file = format!("{}/out.txt", args[0]);
        match Command::new("echo").arg("hello").stdout(Stdio::file(&file)).status() {
            Err(Error::Denied(m)) => assert!(m.contains("a symlink, which could point anywhere"), "{m}"),
            other => panic!("writing through a symlink: {other:?}"),
        }
        Ok(())
    });
}
