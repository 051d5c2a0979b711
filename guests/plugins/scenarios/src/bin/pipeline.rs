//! `printf 'b\na\nb\n' | sort | uniq -c`, child to child: the counts, and a
//! status for each of the three stages.
//!
//! `pipeline denied`: the policy does not grant `uniq`, so the pipeline is
//! refused at that stage.

use procbox_sdk::{Command, Error};

fn main() {
    scenarios::run(|args| {
        let result = Command::new("printf")
            .arg("b\na\nb\n")
            .pipe(&Command::new("sort"))
            .pipe(Command::new("uniq").arg("-c"))
            .output();
        if args.first().map(String::as_str) == Some("denied") {
            match result {
                Err(Error::Denied(m)) => assert!(m.contains("uniq -c"), "{m}"),
                other => panic!("expected uniq to be denied: {other:?}"),
            }
            return Ok(());
        }
        let out = result?;
        let counts: Vec<String> = out
            .stdout_lossy()
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(":"))
            .collect();
        assert_eq!(counts, ["1:a", "2:b"]);
        assert_eq!(out.statuses.len(), 3);
        Ok(())
    });
}
