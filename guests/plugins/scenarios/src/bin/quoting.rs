//! A command line as the SDK shows it (`Display`), next to the host's
//! refusal of the same command (`echo` is not granted), which shows it by
//! the host's rule: the same quoting, the program by its resolved path.

use procbox_sdk::{Command, Error};

fn main() {
    scenarios::run(|_| {
        let mut echo = Command::new("echo");
        echo.args([
            "plain",
            "",
            "two words",
            "tab\there",
            "it's",
            "say \"hi\"",
            "\u{1b}[31m",
            "ünï",
            "a\\b",
        ]);
        let shown = echo.to_string();
        assert_eq!(
            shown,
            r#"echo plain "" "two words" "tab\there" "it's" "say \"hi\"" "\u{1b}[31m" ünï a\b"#
        );
        let refused = match echo.output() {
            Err(err @ Error::Denied(_)) => err.to_string(),
            other => panic!("echo is not granted: {other:?}"),
        };
        let args = shown.strip_prefix("echo").expect("the program comes first");
        assert!(
            refused.starts_with("denied: /") && refused.contains(&format!("/echo{args}: ")),
            "the host's line {refused:?} should end with the SDK's arguments {args:?}"
        );
        Ok(())
    });
}
