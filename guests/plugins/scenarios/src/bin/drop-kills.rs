//! Dropping a child kills and reaps it at once: when `drop` returns, `ps`
//! finds no process with its pid, not even a zombie. Prints the tree
//! (`child= grandchild= escaped=`) for the host to check after the run.

use procbox_sdk::Command;

fn main() {
    scenarios::run(|_| {
        let child = scenarios::start_tree()?;
        let pid = child.id();
        drop(child);
        let ps = Command::new("ps")
            .args(["-o", "stat=", "-p", &pid.to_string()])
            .unchecked()
            .output()?;
        assert_eq!(ps.status.code(), Some(1), "ps found {pid}: {:?}", ps.stdout_lossy());
        assert_eq!(ps.stdout_lossy().trim(), "");
        Ok(())
    });
}
