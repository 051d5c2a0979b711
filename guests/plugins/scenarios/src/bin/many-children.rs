//! `many-children COUNT LIMIT FLAG`: starts COUNT children without waiting;
//! the policy lets exactly LIMIT start, and the next spawn is
//! `limit-exceeded`, naming the limit FLAG.

use procbox_sdk::{Command, Error};

fn main() {
    scenarios::run(|args| {
        let count: usize = args[0].parse().expect("a count");
        let limit: usize = args[1].parse().expect("a limit");
        let flag = &args[2];
        let mut children = Vec::new();
        for i in 0..count {
            match Command::new("sleep").arg("1000").spawn() {
                Ok(child) => children.push(child),
                Err(Error::LimitExceeded(m)) => {
                    assert_eq!(i, limit, "spawns before the limit: {m}");
                    assert!(m.contains(flag.as_str()), "{flag:?} is not in {m:?}");
                    return Ok(());
                }
                Err(other) => return Err(other),
            }
        }
        panic!("all {count} children started; the limit was {limit}")
    });
}
