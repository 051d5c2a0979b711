//! The plugin behind `procbox demo`: the original asyncio design's workflow,
//! step by step, against real processes. The host grants it echo, cat, grep
//! and tee, and nothing else.

use std::io::{BufRead, BufReader, Write};

use procbox_sdk::{Command, Error, Stdio};

fn main() {
    if let Err(err) = run() {
        eprintln!("demo failed: {err}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Error> {
    capture_output()?;
    stdin_round_trip()?;
    stream_lines()?;
    both_pipes_at_once()?;
    denied_command()?;
    println!("\nAll steps done; every child was reaped.");
    Ok(())
}

fn step(title: &str) {
    println!("\n== {title}");
}

fn capture_output() -> Result<(), Error> {
    step("1. Run a command and capture what it prints");
    let out = Command::new("echo").args(["hello", "world"]).output()?;
    println!("   echo printed {:?}", out.stdout_lossy().trim_end());
    println!(
        "   {}; cpu {}µs user + {}µs system; peak memory {} KiB",
        out.status,
        out.status.usage.user_cpu.as_micros(),
        out.status.usage.system_cpu.as_micros(),
        out.status.usage.max_rss_bytes / 1024
    );
    Ok(())
}

fn stdin_round_trip() -> Result<(), Error> {
    step("2. Send text through cat's stdin and read it back");
    let text = "procbox writes this to cat's stdin\nand reads it back from cat's stdout\n";
    let cat = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let out = cat.communicate(text.as_bytes())?;
    for line in out.stdout_lossy().lines() {
        println!("   cat: {line}");
    }
    println!("   round trip intact: {}", out.stdout == text.as_bytes());
    Ok(())
}

fn stream_lines() -> Result<(), Error> {
    step("3. Stream a running child's output line by line");
    let log = [
        "INFO  starting up",
        "ERROR disk almost full",
        "INFO  request served",
        "ERROR connection reset",
        "INFO  shutting down",
    ];
    let mut grep = Command::new("grep")
        .args(["--line-buffered", "ERROR"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = grep.stdin.take().expect("stdin is piped");
    let mut matches = BufReader::new(grep.stdout.take().expect("stdout is piped")).lines();
    for entry in log {
        writeln!(stdin, "{entry}")?;
        println!("   -> fed grep: {entry}");
        if entry.starts_with("ERROR") {
            let line = matches.next().transpose()?.unwrap_or_default();
            let running = grep.try_wait()?.is_none();
            println!(
                "   <- grep (pid {}, still running: {running}) matched: {line}",
                grep.id()
            );
        }
    }
    drop(stdin);
    let status = grep.wait()?;
    println!("   grep finished: {status}");
    Ok(())
}

fn both_pipes_at_once() -> Result<(), Error> {
    step("4. Read 1 MiB of stdout and 1 MiB of stderr from one child, without deadlock");
    let payload: Vec<u8> = (0..1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let tee = Command::new("tee")
        .arg("/dev/stderr")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = tee.communicate(&payload)?;
    println!(
        "   wrote {} bytes to tee; read {} bytes of stdout and {} bytes of stderr concurrently",
        payload.len(),
        out.stdout.len(),
        out.stderr.len()
    );
    println!(
        "   both copies intact: {}",
        out.stdout == payload && out.stderr == payload
    );
    Ok(())
}

fn denied_command() -> Result<(), Error> {
    step("5. A command that was not granted");
    match Command::new("rm").args(["-rf", "/tmp/procbox-demo"]).status() {
        Err(err @ Error::Denied(_)) => {
            println!("   refused, as it should be:\n   {err}");
            Ok(())
        }
        Err(err) => Err(err),
        Ok(status) => Err(Error::Io(format!(
            "rm was allowed to run ({status}): the policy is broken"
        ))),
    }
}
