//! `inherit granted|refused`: a child writes straight to procbox's own
//! stdout, which needs `--allow-inherit`.

use procbox_sdk::{Command, Error, Stdio};

fn main() {
    scenarios::run(|args| {
        let status = Command::new("echo")
            .arg("straight to the terminal")
            .stdout(Stdio::inherit())
            .status();
        match (args[0].as_str(), status) {
            ("granted", Ok(status)) => assert!(status.success(), "{status}"),
            ("refused", Err(Error::Denied(m))) => {
                assert!(m.contains("needs a grant") && m.contains("--allow-inherit"), "{m}")
            }
            (expected, other) => panic!("expected {expected}: {other:?}"),
        }
        Ok(())
    });
}
