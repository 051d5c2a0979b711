//! `child-rlimits OPEN_FILES FILE_SIZE CPU_SECONDS`: the child sees the
//! policy's rlimits (as soft and hard limit) in `/proc/self/limits`.

use procbox_sdk::Command;

fn main() {
    scenarios::run(|args| {
        let limits = Command::new("cat").arg("/proc/self/limits").read()?;
        let limit = |name: &str| {
            let line = limits
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("no {name} in {limits}"));
            line[name.len()..]
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let both = |value: &String| format!("{value} {value}");
        assert_eq!(limit("Max open files"), both(&args[0]));
        assert_eq!(limit("Max file size"), both(&args[1]));
        assert_eq!(limit("Max cpu time"), both(&args[2]));
        Ok(())
    });
}
