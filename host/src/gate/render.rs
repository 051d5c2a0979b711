//! How the gate writes requests and reasons into messages. One renderer:
//! every message, log line and `explain` output quotes arguments the same
//! way.

use std::path::{Path, PathBuf};

use crate::policy::env::{is_inert, is_injection, is_shell_function};
use crate::policy::rule::ExecRule;

use super::fix::Denial;

/// The program and its arguments as one line, each word quoted as
/// [`quote`] does (the SDK's `Display` for `Command` follows the same rule).
pub fn command_line(program: &Path, args: &[String]) -> String {
    std::iter::once(quote(&program.to_string_lossy()))
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An argument as a reader should see it: quoted (as a Rust string literal)
/// when it is empty or has whitespace, quotes or control characters.
pub fn quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains(|c: char| c.is_whitespace() || c.is_control() || c == '"' || c == '\'') {
        return arg.to_string();
    }
    format!("{arg:?}")
}

/// Why no allow rule matched: other rules for the same program, or none.
pub(super) fn no_match_reason(allow: &[ExecRule], program: &Path) -> String {
    let same_program: Vec<String> = allow
        .iter()
        .filter(|r| r.path == program)
        .map(ToString::to_string)
        .collect();
    if !same_program.is_empty() {
        return format!(
            "no allow rule matches these arguments (rules for {}: {})",
            program.display(),
            same_program.join(", ")
        );
    }
    let mut granted: Vec<String> = allow.iter().map(|r| r.path.display().to_string()).collect();
    granted.dedup();
    let granted = match granted.len() {
        0 => "nothing".to_string(),
        n if n > 8 => format!("{} and {} more", granted[..8].join(", "), n - 8),
        _ => granted.join(", "),
    };
    format!("no allow rule grants {} (granted: {granted})", program.display())
}

/// Why a rule of the bare name is not the fix for a variable the plugin
/// sets: that form passes the user's own value.
fn set_by_plugin(name: &str) -> String {
    format!("; a rule of the bare name ({name}) passes only the user's own value to children, never one the plugin sets; {name}=VALUE or {name}=* lets the plugin set it")
}

/// Why the plugin may not set variable `name`, and the rule that would
/// let it (none for an exported shell function).
pub(super) fn env_denial(program: &str, name: &str, value: &str) -> Denial {
    let fix = super::suggest::env_rule(name, value);
    if is_shell_function(name) {
        Denial::new(format!("{program}: environment variable {name} is an exported shell function, which bash runs as code; procbox never passes one"))
    } else if is_injection(name) {
        Denial::with_fix(
            format!("{program}: environment variable {name} can make the child load or run code of the plugin's choosing, so only a rule that names it exactly ({name}=GLOB) allows it{}", set_by_plugin(name)),
            fix,
        )
    } else if !is_inert(name) {
        Denial::with_fix(
            format!("{program}: environment variable {name}: no rule names it, and name globs cover only inert variables (locale, TZ, TERM, colours, author identity); grant it by its exact name ({name}=GLOB){}", set_by_plugin(name)),
            fix,
        )
    } else {
        Denial::with_fix(
            format!(
                "{program}: environment variable {name}: no env rule lets the plugin set it ({name}=GLOB){}",
                set_by_plugin(name)
            ),
            fix,
        )
    }
}

/// The granted directories, for a denial.
pub(super) fn granted_dirs(dirs: &[PathBuf]) -> String {
    match dirs {
        [] => "none is granted".to_string(),
        dirs => dirs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_the_plugin_sets_is_denied_with_the_form_that_lets_it_and_why() {
        for (name, value, fix) in [
            ("MSG", "two words", "allow-env = [\"MSG=*\"]"),
            ("HOME", "/tmp/h", "allow-env = [\"HOME=/tmp/h\"]"),
            ("LD_PRELOAD", "/tmp/x.so", "allow-env = [\"LD_PRELOAD=/tmp/x.so\"]"),
        ] {
            let text = env_denial("env", name, value).to_string();
            assert!(text.contains(fix), "{text}");
            assert!(
                text.contains(&format!(
                    "a rule of the bare name ({name}) passes only the user's own value to children, never one the plugin sets; {name}=VALUE or {name}=* lets the plugin set it"
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn arguments_are_quoted_only_when_a_reader_needs_it() {
        let cases: &[(&str, &str)] = &[
            // plain words stay as they are
            ("-n", "-n"),
            ("--format=%H", "--format=%H"),
            // empty, spaces, quotes and control characters are quoted
            ("", "\"\""),
            ("two words", "\"two words\""),
            ("it's", "\"it's\""),
            ("a\"b", "\"a\\\"b\""),
            ("line\nbreak", "\"line\\nbreak\""),
        ];
        for (arg, shown) in cases {
            assert_eq!(quote(arg), *shown, "quote({arg:?})");
        }
    }
}
