//! `exit CODE`: ends the plugin with exactly that exit code, and starts
//! nothing (the command-line tests use it as the smallest plugin).

fn main() {
    let code = std::env::args().nth(1).map_or(0, |a| a.parse().expect("an exit code"));
    procbox_sdk::exit(code)
}
