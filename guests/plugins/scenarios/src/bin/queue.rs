//! A queue runs commands in parallel and returns results in input order;
//! by default a failure cancels what has not started, `keep_going` runs
//! everything.

use procbox_sdk::{Command, Error, Output, Queue};

fn describe(results: Vec<Result<Output, Error>>) -> Vec<String> {
    results
        .into_iter()
        .map(|r| match r {
            Ok(_) => "ok".to_string(),
            Err(Error::Failed(_)) => "failed".to_string(),
            Err(Error::Cancelled(_)) => "cancelled".to_string(),
            Err(other) => format!("{other}"),
        })
        .collect()
}

fn mixed() -> Vec<Command> {
    let mut list = vec![
        Command::new("echo"),
        Command::new("false"),
        Command::new("sleep"),
        Command::new("echo"),
    ];
    list[2].arg("0.1");
    list
}

fn main() {
    scenarios::run(|_| {
        // Later commands finish first.
        let commands = (0..6).map(|i| {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("sleep 0.{}; echo {i}", 6 - i)]);
            c
        });
        let outputs: Vec<String> = Queue::new(commands)
            .parallel(3)
            .run()
            .into_iter()
            .map(|r| r.map(|o| o.stdout_trimmed()).unwrap_or_else(|e| e.to_string()))
            .collect();
        assert_eq!(outputs, ["0", "1", "2", "3", "4", "5"]);
        assert_eq!(
            describe(Queue::new(mixed()).run()),
            ["ok", "failed", "cancelled", "cancelled"]
        );
        assert_eq!(
            describe(Queue::new(mixed()).keep_going().parallel(4).run()),
            ["ok", "failed", "ok", "ok"]
        );
        Ok(())
    });
}
