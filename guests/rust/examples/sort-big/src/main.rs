//! `sort-big`: sorts 200000 numbers with `sort -n`, writing them to its
//! stdin while reading its stdout, then counts lines with `wc -l` through
//! `std::io::Write`. Writing: backpressure, end-of-file by dropping stdin,
//! and feeding input without deadlock.
//!
//! `procbox run sort-big.wasm --manifest sort-big.manifest.toml --allow-run 'sort -n' --allow-run 'wc -l'`

use std::io::{Read, Write};

use procbox_sdk::{Command, Error, Stdio};

fn main() {
    if let Err(err) = run() {
        eprintln!("sort-big: {err}");
        procbox_sdk::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let numbers: String = (0..200_000u64).map(|i| format!("{}\n", (i * 7919) % 200_003)).collect();
    // input(): written while stdout is read, so neither pipe can fill up.
    let sorted = Command::new("sort").arg("-n").input(numbers.clone()).output()?;
    let text = sorted.stdout_text()?;
    let lines: Vec<&str> = text.lines().collect();
    println!(
        "sorted {} numbers: first {}, last {}",
        lines.len(),
        lines[0],
        lines[lines.len() - 1]
    );

    // By hand: write_all honours backpressure (each write waits until the
    // pipe took it); dropping stdin sends end-of-file.
    let mut wc = Command::new("wc")
        .arg("-l")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = wc.stdin.take().expect("piped");
    stdin.write_all(numbers.as_bytes())?;
    stdin.flush()?;
    drop(stdin);
    let mut count = String::new();
    wc.stdout.take().expect("piped").read_to_string(&mut count)?;
    wc.wait()?;
    println!("wc -l counted {} lines", count.trim());
    Ok(())
}
