//! A child sees only its own stdio: 0-2, and 3, the directory `ls` itself
//! opened to list. Nothing of procbox's leaks into it.

use procbox_sdk::Command;

fn main() {
    scenarios::run(|_| {
        let out = Command::new("ls").arg("/proc/self/fd").output()?;
        let fds: Vec<String> = out.stdout_lossy().split_whitespace().map(String::from).collect();
        assert_eq!(fds, ["0", "1", "2", "3"]);
        Ok(())
    });
}
