//! `ps-top`: the processes using the most memory, read line by line as
//! `ps` prints them. Reading: a line iterator with a maximum line length,
//! strict text, and `read_until`.
//!
//! `procbox run ps-top.wasm --manifest ps-top.manifest.toml --allow-run ps -- 5`

use std::io::{BufRead, BufReader};

use procbox_sdk::{Command, Error, Stdio};

fn main() {
    if let Err(err) = run() {
        eprintln!("ps-top: {err}");
        procbox_sdk::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let count: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(5);
    let mut ps = Command::new("ps")
        .args(["-eo", "rss=,comm=", "--sort=-rss"])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdout = ps.stdout.take().expect("piped");
    // The first field of the first line, up to a space: read_until.
    let mut first = Vec::new();
    BufReader::new(&mut stdout).read_until(b'\n', &mut first)?;
    let mut rows = vec![String::from_utf8_lossy(&first).trim().to_string()];
    // The rest, as lines of at most 4 KiB; a longer one would be skipped
    // with a recoverable error instead of ending the stream.
    for line in stdout.lines_with_max(4096) {
        match line {
            Ok(line) => rows.push(line.trim().to_string()),
            Err(Error::LineTooLong { max }) => eprintln!("ps-top: skipped a line over {max} bytes"),
            Err(err) => return Err(err),
        }
    }
    ps.wait()?;
    println!("top {count} by resident memory (KiB, command):");
    for row in rows.iter().filter(|r| !r.is_empty()).take(count) {
        println!("  {row}");
    }
    Ok(())
}
