//! `log-watcher`: runs a command, streams its output line by line as it
//! arrives, stops it as soon as a line matches a pattern (or a deadline
//! passes), and reports what it saw.
//!
//! `procbox run log-watcher.wasm --allow-run sh -- READY 10 sh -c 'echo starting; sleep 0.2; echo READY; sleep 1000'`

use std::time::{Duration, Instant};

use procbox_sdk::{Command, Error, Signal, Stdio};

fn main() {
    if let Err(err) = run() {
        eprintln!("log-watcher: {err}");
        procbox_sdk::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [pattern, seconds, program, rest @ ..] = args.as_slice() else {
        return Err(Error::InvalidInput(
            "usage: log-watcher PATTERN SECONDS PROGRAM [ARGS...]".into(),
        ));
    };
    let deadline = Duration::from_secs(
        seconds
            .parse()
            .map_err(|_| Error::InvalidInput("SECONDS must be a number".into()))?,
    );
    let started = Instant::now();
    // The deadline is the host's: SIGTERM, then SIGKILL after a grace.
    let mut child = Command::new(program)
        .args(rest)
        .stdout(Stdio::piped())
        .stderr_to_stdout()
        .timeout(deadline)
        .kill_grace(Duration::from_millis(500))
        .spawn()?;
    let mut seen = 0;
    let mut matched = None;
    for line in child
        .stdout
        .take()
        .expect("piped")
        .lines()
        .map(|l| l.unwrap_or_else(|e| format!("<{e}>")))
    {
        seen += 1;
        println!("[{:>6.3}s] {line}", started.elapsed().as_secs_f64());
        if line.contains(pattern.as_str()) {
            matched = Some(line);
            break;
        }
    }
    // Stop it politely; dropping the handle would SIGKILL the whole group.
    child.signal(Signal::Terminate)?;
    let status = child.wait()?;
    match matched {
        Some(line) => println!("matched {pattern:?} after {seen} lines: {line:?}; stopped it ({status})"),
        None => println!("no line matched {pattern:?} in {seen} lines; it ended: {status}"),
    }
    Ok(())
}
