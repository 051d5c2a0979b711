//! A 100-byte line among short ones, read with a 50-byte maximum: the long
//! line is a recoverable error, and the lines after it still arrive.

use procbox_sdk::{Command, Error, Stdio};

fn main() {
    scenarios::run(|_| {
        let long = "x".repeat(100);
        let mut child = Command::new("printf")
            .args(["%s\\n%s\\n%s\\n", "short", &long, "after"])
            .stdout(Stdio::piped())
            .spawn()?;
        let items: Vec<String> = child
            .stdout
            .take()
            .expect("piped")
            .lines_with_max(50)
            .map(|line| match line {
                Ok(text) => text,
                Err(Error::LineTooLong { max }) => format!("<over {max}>"),
                Err(other) => format!("<{other}>"),
            })
            .collect();
        child.wait()?;
        assert_eq!(items, ["short", "<over 50>", "after"]);
        Ok(())
    });
}
