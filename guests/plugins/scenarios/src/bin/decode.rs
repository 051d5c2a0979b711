//! Output as text and JSON, input from a string, and `read()`; bad JSON and
//! bad UTF-8 are decode errors; a failure names the working directory.

use procbox_sdk::{Command, Error};

fn main() {
    scenarios::run(|_| {
        let json: serde_json::Value = Command::new("echo")
            .arg(r#"{"name":"procbox","n":3}"#)
            .output()?
            .json()?;
        assert_eq!(json["name"], "procbox");
        assert_eq!(json["n"], 3);

        let bad = Command::new("echo")
            .arg("not json")
            .output()?
            .json::<serde_json::Value>();
        assert!(matches!(bad, Err(Error::Decode(_))), "{bad:?}");

        let upper = Command::new("tr").args(["a-z", "A-Z"]).input("hello").read()?;
        assert_eq!(upper, "HELLO");

        let invalid = Command::new("printf").arg("\\377").output()?.stdout_text();
        assert!(matches!(invalid, Err(Error::Decode(_))), "{invalid:?}");

        let failed = Command::new("sh")
            .args(["-c", "exit 2"])
            .current_dir(".")
            .status()
            .expect_err("exit 2");
        assert!(failed.to_string().contains("(in .)"), "{failed}");
        Ok(())
    });
}
