//! How the gate writes requests and reasons into messages. One renderer:
//! every message, log line and `explain` output quotes arguments the same
//! way.

use std::path::{Path, PathBuf};

use crate::policy::env::{is_inert, is_injection, is_shell_function, EnvRule, NamePattern};
use crate::policy::rule::{quote, ExecRule};

use super::fix::Denial;

/// The program and its arguments as one line, each word quoted as
/// [`quote`] does (the SDK's `Display` for `Command` follows the same rule).
pub fn command_line(program: &Path, args: &[String]) -> String {
    std::iter::once(quote(&program.to_string_lossy()))
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
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

/// Why the plugin may not set variable `name` to `value` under the
/// grants' env `rules`, and the rule that would let it (none for an
/// exported shell function). The reason looks at the rules that name the
/// variable: a pass-through rule (`NAME`) reads like a grant to set it, so
/// its denial says which form sets it and why.
pub(super) fn env_denial(program: &str, name: &str, value: &str, rules: &[EnvRule]) -> Denial {
    if is_shell_function(name) {
        return Denial::new(format!("{program}: environment variable {name} is an exported shell function, which bash runs as code; procbox never passes one"));
    }
    let reason = format!("{program}: environment variable {name}{}", env_reason(name, rules));
    Denial::with_fix(reason, super::suggest::env_rule(name, value))
}

/// The rest of an env denial's reason, after the variable's name.
fn env_reason(name: &str, rules: &[EnvRule]) -> String {
    let naming = |sets: bool| -> Vec<String> {
        rules
            .iter()
            .filter(|r| r.value.is_some() == sets && r.name.matches(name))
            .map(ToString::to_string)
            .collect()
    };
    let (setting, passing) = (naming(true), naming(false));
    if !setting.is_empty() {
        return format!(": rule {} does not allow this value", setting.join(", "));
    }
    if !passing.is_empty() {
        return format!(
            " is granted only as your own value, passed through to children (rule {}){}; to let the plugin set it, grant {name}=VALUE, or {name}=* for any value",
            passing.join(", "),
            globs_skipping(name, rules)
        );
    }
    let bare = format!("(a rule of the bare name, {name}, would pass only your own value)");
    if is_injection(name) {
        format!(" can make the child load or run code of the plugin's choosing, so only a rule that names it exactly ({name}=GLOB) allows it {bare}")
    } else if !is_inert(name) {
        format!(": no rule names it, and name globs cover only inert variables (locale, TZ, TERM, colours, author identity); grant it by its exact name ({name}=GLOB) {bare}")
    } else {
        format!(": no env rule lets the plugin set it ({name}=GLOB) {bare}")
    }
}

/// The value rules whose name glob spells `name` but may not cover it, as
/// a clause (empty when there are none): the user may think they grant it.
fn globs_skipping(name: &str, rules: &[EnvRule]) -> String {
    let skipping: Vec<String> = rules
        .iter()
        .filter(|r| r.value.is_some() && matches!(&r.name, NamePattern::Glob(g) if g.matches(name)))
        .map(ToString::to_string)
        .collect();
    match skipping.is_empty() || is_inert(name) {
        true => String::new(),
        false => format!(
            "; name globs cover only inert variables, so rule {} does not name it",
            skipping.join(", ")
        ),
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

    use crate::policy::Source;

    fn rules(written: &[&str]) -> Vec<EnvRule> {
        let source = Source::Flag("--allow-env");
        written
            .iter()
            .map(|w| EnvRule::parse(w, source.clone()).unwrap())
            .collect()
    }

    #[test]
    fn a_variable_granted_only_as_the_users_value_is_denied_with_the_form_that_sets_it() {
        let cases: &[(&[&str], &str, &str, &str)] = &[
            // the bare name: it passes the user's value, never one the plugin sets
            (
                &["GREETING"],
                "GREETING",
                "hello",
                "env: environment variable GREETING is granted only as your own value, passed through to children (rule 'GREETING' (--allow-env)); to let the plugin set it, grant GREETING=VALUE, or GREETING=* for any value; to allow exactly this, grant: allow-env = [\"GREETING=hello\"]",
            ),
            // a name glob passes inert variables in the same way
            (
                &["LC_*"],
                "LC_ALL",
                "C",
                "env: environment variable LC_ALL is granted only as your own value, passed through to children (rule 'LC_*' (--allow-env)); to let the plugin set it, grant LC_ALL=VALUE, or LC_ALL=* for any value; to allow exactly this, grant: allow-env = [\"LC_ALL=C\"]",
            ),
            // a value that cannot be one word gets the any-value form
            (
                &["MSG"],
                "MSG",
                "two words",
                "env: environment variable MSG is granted only as your own value, passed through to children (rule 'MSG' (--allow-env)); to let the plugin set it, grant MSG=VALUE, or MSG=* for any value; to allow it, grant: allow-env = [\"MSG=*\"]",
            ),
            // a name glob that spells it but may not cover it is named too
            (
                &["HOME", "*=*"],
                "HOME",
                "/tmp/h",
                "env: environment variable HOME is granted only as your own value, passed through to children (rule 'HOME' (--allow-env)); name globs cover only inert variables, so rule '*=*' (--allow-env) does not name it; to let the plugin set it, grant HOME=VALUE, or HOME=* for any value; to allow exactly this, grant: allow-env = [\"HOME=/tmp/h\"]",
            ),
            // a rule that sets it, to other values, is named as such
            (
                &["LANG", "LANG=C*"],
                "LANG",
                "en_US",
                "env: environment variable LANG: rule 'LANG=C*' (--allow-env) does not allow this value; to allow exactly this, grant: allow-env = [\"LANG=en_US\"]",
            ),
        ];
        for (written, name, value, expected) in cases {
            let text = env_denial("env", name, value, &rules(written)).to_string();
            assert_eq!(&text, expected, "{written:?} vs {name}={value}");
            assert!(!text.contains("no rule names it"), "{text}");
        }
    }

    #[test]
    fn a_variable_no_rule_names_is_denied_with_why_and_the_form_that_sets_it() {
        for (name, value, why, fix) in [
            ("MSG", "two words", "no rule names it", "allow-env = [\"MSG=*\"]"),
            (
                "HOME",
                "/tmp/h",
                "grant it by its exact name",
                "allow-env = [\"HOME=/tmp/h\"]",
            ),
            (
                "LD_PRELOAD",
                "/tmp/x.so",
                "only a rule that names it exactly",
                "allow-env = [\"LD_PRELOAD=/tmp/x.so\"]",
            ),
            (
                "TZ",
                "UTC",
                "no env rule lets the plugin set it",
                "allow-env = [\"TZ=UTC\"]",
            ),
        ] {
            // A rule for another variable names none of these.
            let text = env_denial("env", name, value, &rules(&["OTHER"])).to_string();
            assert!(text.contains(why) && text.contains(fix), "{text}");
            assert!(
                text.contains(&format!(
                    "(a rule of the bare name, {name}, would pass only your own value)"
                )),
                "{text}"
            );
        }
        let function = env_denial("env", "BASH_FUNC_ls%%", "() { x; }", &rules(&["*=*"]));
        assert!(
            function.fix.is_none() && function.reason.contains("never passes one"),
            "{function:?}"
        );
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
