//! std's `Write` and `BufRead` on a child's stdin and stdout: each reply
//! arrives while `cat` still runs; closing stdin ends it.

use std::io::{BufRead, BufReader, Read, Write};

use procbox_sdk::{Command, Stdio};

fn main() {
    scenarios::run(|_| {
        let mut cat = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut stdin = cat.stdin.take().expect("piped");
        let mut stdout = BufReader::new(cat.stdout.take().expect("piped"));
        for i in 0..3 {
            writeln!(stdin, "line {i}")?;
            let mut reply = String::new();
            stdout.read_line(&mut reply)?;
            assert_eq!(reply, format!("line {i}\n"));
            assert!(cat.try_wait()?.is_none(), "cat still runs after reply {i}");
        }
        drop(stdin);
        let mut rest = String::new();
        stdout.read_to_string(&mut rest)?;
        assert_eq!(rest, "");
        assert_eq!(cat.wait()?.code(), Some(0));
        Ok(())
    });
}
