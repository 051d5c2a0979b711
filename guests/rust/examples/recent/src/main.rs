//! recent: the last N commits of the repository it runs in, one line each.
//! The same small task is written in Python (guests/python/examples/recent) and
//! JavaScript (guests/js/examples/recent), side by side in the README.
//!
//!     procbox run recent.wasm --allow-run 'git log **' -- 3

use procbox_sdk::{Command, Error};

fn main() -> Result<(), Error> {
    let n = std::env::args().nth(1).unwrap_or_else(|| "5".into());
    for line in Command::new("git").args(["log", "--oneline", "-n", &n]).read()?.lines() {
        println!("{line}");
    }
    Ok(())
}
