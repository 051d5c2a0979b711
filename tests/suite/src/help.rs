//! Reading `procbox --help` the way a user reads it: the subcommands it
//! lists and the long flags each defines, for the tests that check that
//! completions, man pages and docs/reference.md cover all of them.

/// The commands a `--help` lists under "Commands:" (not `help`).
pub fn commands_in(help: &str) -> Vec<String> {
    let listed = help.split("Commands:\n").nth(1).expect("a Commands section");
    listed
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter(|line| !line[2..].starts_with(' ')) // not a wrapped description
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// The long flags a `--help` defines: its option lines, not flags its
/// descriptions mention.
pub fn flags_in(help: &str) -> Vec<String> {
    let mut flags: Vec<String> = help
        .lines()
        .filter(|line| line.trim_start().starts_with('-'))
        .filter_map(|line| {
            line.split(|c: char| c.is_whitespace() || c == ',' || c == '=' || c == '[' || c == '<')
                .find(|word| word.starts_with("--") && word.len() > 2)
        })
        .map(str::to_string)
        .collect();
    flags.sort();
    flags.dedup();
    flags
}
