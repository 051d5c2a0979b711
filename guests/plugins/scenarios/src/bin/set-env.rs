//! `set-env NAME VALUE`: runs `printenv NAME` with NAME set to VALUE by the
//! plugin and prints what the child saw. A refusal is left to
//! `scenarios::run`, which prints it as the user sees a plugin's error
//! (`error: denied: ...` on stderr, exit code 1).

use procbox_sdk::Command;

fn main() {
    scenarios::run(|args| {
        let [name, value] = args else {
            panic!("usage: set-env NAME VALUE")
        };
        let out = Command::new("printenv").arg(name).env(name, value).output()?;
        print!("child saw: {}", out.stdout_lossy());
        Ok(())
    });
}
