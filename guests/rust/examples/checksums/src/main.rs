//! `checksums`: sha256 of many files, several at a time, results in the
//! order given; a file that fails does not stop the others (keep-going),
//! unless `--fail-fast`.
//!
//! `procbox run checksums.wasm --allow-run 'sha256sum *' -- FILE...`

use procbox_sdk::{Command, Error, Queue};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fail_fast = args.iter().any(|a| a == "--fail-fast");
    let files: Vec<&String> = args.iter().filter(|a| *a != "--fail-fast").collect();
    let commands = files.iter().map(|file| {
        let mut sum = Command::new("sha256sum");
        sum.arg(file.as_str());
        sum
    });
    let queue = Queue::new(commands).parallel(3);
    let queue = if fail_fast { queue } else { queue.keep_going() };
    let mut failures = 0;
    for (file, result) in files.iter().zip(queue.run()) {
        match result {
            Ok(out) => println!(
                "{}  {file}",
                out.stdout_trimmed().split_whitespace().next().unwrap_or("?")
            ),
            Err(err @ (Error::Failed(_) | Error::Cancelled(_))) => {
                failures += 1;
                println!("FAILED  {file}: {}", err.to_string().lines().next().unwrap_or(""));
            }
            Err(err) => {
                eprintln!("checksums: {err}");
                procbox_sdk::exit(2);
            }
        }
    }
    procbox_sdk::exit(if failures == 0 { 0 } else { 1 });
}
