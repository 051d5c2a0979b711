//! `repo-report`: who wrote a git repository, and how big its files are.
//! A pipeline in the spirit of `git log | sort | uniq -c | sort -rn`
//! (child to child, never through the plugin), then a parallel queue that
//! counts the lines of every tracked file.
//!
//! `procbox run repo-report.wasm --manifest repo-report.manifest.toml --dir REPO --allow-run 'git -C * log --format=%an' --allow-run 'git -C * ls-files' --allow-run sort --allow-run 'uniq -c' --allow-run 'wc -l *' -- REPO`

use procbox_sdk::{Command, Error, Queue};

fn main() {
    if let Err(err) = run() {
        eprintln!("repo-report: {err}");
        procbox_sdk::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let repo = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let authors = Command::new("git")
        .args(["-C", &repo, "log", "--format=%an"])
        .pipe(&Command::new("sort"))
        .pipe(Command::new("uniq").arg("-c"))
        .pipe(Command::new("sort").arg("-rn"))
        .output()?;
    println!("commits by author:");
    for line in authors.stdout_lossy().lines() {
        println!("  {}", line.trim());
    }
    let files = Command::new("git").args(["-C", &repo, "ls-files"]).read()?;
    let counts = files.lines().map(|file| {
        let mut wc = Command::new("wc");
        wc.args(["-l", &format!("{repo}/{file}")]);
        wc
    });
    // Four at a time; results come back in the order of `git ls-files`.
    let results = Queue::new(counts).parallel(4).keep_going().run();
    let mut total = 0u64;
    println!("lines per file:");
    for (file, result) in files.lines().zip(results) {
        match result {
            Ok(out) => {
                let n: u64 = out
                    .stdout_trimmed()
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                total += n;
                println!("  {n:>6} {file}");
            }
            Err(err) => println!("  ?????? {file}: {err}"),
        }
    }
    println!("total: {total} lines in {} files", files.lines().count());
    Ok(())
}
