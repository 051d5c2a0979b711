//! `du-sort-head DIR`: `du -a DIR | sort -rn | head -n 5`, the pipeline a
//! new user writes first. On a large directory `sort` still has most of its
//! output to write when `head` exits, and is killed by SIGPIPE; the
//! pipeline succeeds anyway (the pipeline rule's SIGPIPE exception).

use procbox_sdk::Command;

fn main() {
    scenarios::run(|args| {
        let dir = args.first().expect("a directory");
        let out = Command::new("du")
            .args(["-a", dir.as_str()])
            .pipe(Command::new("sort").arg("-rn"))
            .pipe(Command::new("head").args(["-n", "5"]))
            .output()?;
        let text = out.stdout_lossy();
        assert_eq!(text.lines().count(), 5, "{text}");
        println!("{text}");
        Ok(())
    });
}
