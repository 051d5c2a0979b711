//! A job for `procbox worker` tests, chosen by its first argument:
//! - `hello ARGS...`: prints its arguments and its stdin on stdout, a line
//!   on stderr;
//! - `run PROGRAM ARGS...`: runs PROGRAM and prints its output (a denial is
//!   the error, on stderr, exit 1);
//! - `fail CODE`: says so on stderr and exits with CODE;
//! - `hold SECONDS`: starts a tree of three `sleep SECONDS` (one leaves
//!   its process group with `setsid`) and never ends;
//! - `flood BYTES [BYTE]`: writes BYTES on stdout and on stderr, lines of
//!   1023 BYTEs (a number, default `x`) and a newline.

use std::io::{Read, Write};

use procbox_sdk::Command;

fn main() {
    scenarios::run(|args| {
        let rest = &args[1.min(args.len())..];
        match args.first().map(String::as_str) {
            Some("hello") => {
                let mut stdin = String::new();
                std::io::stdin().read_to_string(&mut stdin)?;
                println!("hello from a worker: args={rest:?} stdin={stdin:?}");
                eprintln!("a line on stderr");
            }
            Some("run") => {
                let out = Command::new(&rest[0]).args(&rest[1..]).output()?;
                print!("{}", out.stdout_lossy());
            }
            Some("fail") => {
                eprintln!("failing on purpose");
                procbox_sdk::exit(rest[0].parse().expect("an exit code"));
            }
            Some("hold") => {
                let seconds = &rest[0];
                let script = format!("/usr/bin/setsid /usr/bin/sleep {seconds} & /usr/bin/sleep {seconds} & exec /usr/bin/sleep {seconds}");
                let _tree = Command::new("sh").args(["-c", &script]).spawn()?;
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(1000));
                }
            }
            Some("flood") => {
                let bytes: usize = rest[0].parse().expect("a byte count");
                let byte: u8 = rest.get(1).map_or(b'x', |b| b.parse().expect("a byte value"));
                let line = [byte; 1023].iter().copied().chain([b'\n']).collect::<Vec<u8>>();
                for chunk in line.iter().cycle().take(bytes).collect::<Vec<_>>().chunks(1 << 16) {
                    let chunk: Vec<u8> = chunk.iter().map(|b| **b).collect();
                    std::io::stdout().write_all(&chunk)?;
                    std::io::stderr().write_all(&chunk)?;
                }
            }
            other => panic!("unknown job {other:?}"),
        }
        Ok(())
    });
}
