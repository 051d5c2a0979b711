//! `fastest`: runs the same job several ways at once and keeps the first to
//! finish; the others are killed. Waiting on several children at once
//! (`wait_any`) and against a deadline (`wait_timeout`).
//!
//! `procbox run fastest.wasm --allow-run sleep -- 3 1 2`  (the "ways" are sleeps)

use std::time::Duration;

use procbox_sdk::{wait_any, Child, Command, Error};

fn main() {
    if let Err(err) = run() {
        eprintln!("fastest: {err}");
        procbox_sdk::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let delays: Vec<String> = std::env::args().skip(1).collect();
    let mut racers: Vec<Child> = delays
        .iter()
        .map(|d| Command::new("sleep").arg(d).spawn())
        .collect::<Result<_, _>>()?;
    let (winner, status) = {
        let mut refs: Vec<&mut Child> = racers.iter_mut().collect();
        wait_any(&mut refs)?
    };
    println!("winner: #{winner} (sleep {}) {status}", delays[winner]);
    // Give the others a moment to finish anyway, then stop them.
    for (i, racer) in racers.iter_mut().enumerate().filter(|(i, _)| *i != winner) {
        match racer.wait_timeout(Duration::from_millis(100))? {
            Some(status) => println!("#{i} also finished: {status}"),
            None => {
                racer.kill()?;
                println!("#{i} killed: {}", racer.wait()?);
            }
        }
    }
    Ok(())
}
