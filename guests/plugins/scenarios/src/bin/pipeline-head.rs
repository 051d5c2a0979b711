//! `seq 1 200000 | sort -rn | head -n 3`: `head` exits after three lines,
//! so `sort`, with about 1.3 MB still to write (far more than a pipe
//! holds), is killed by SIGPIPE. The pipeline succeeds anyway (the pipeline
//! rule's SIGPIPE exception).

use procbox_sdk::Command;

fn main() {
    scenarios::run(|_| {
        let out = Command::new("seq")
            .args(["1", "200000"])
            .pipe(Command::new("sort").arg("-rn"))
            .pipe(Command::new("head").args(["-n", "3"]))
            .output()?;
        let stdout = out.stdout_lossy();
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines, ["200000", "199999", "199998"]);
        let signals: Vec<Option<i32>> = out.statuses.iter().map(|s| s.signal()).collect();
        assert_eq!(signals, [None, Some(13), None], "sort really was killed by SIGPIPE");
        assert_eq!(out.failed_stage(), None);
        Ok(())
    });
}
