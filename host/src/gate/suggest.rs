//! The narrowest grant that would allow a refused request, written as a
//! flag and as a grants-file line, so that a denial names its own fix.

use std::path::Path;

/// Programs that run other programs as they are told: a rule for one of
/// them is broad, whatever its arguments say.
const RUNS_OTHERS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "fish",
    "busybox",
    "env",
    "xargs",
    "find",
    "nice",
    "nohup",
    "timeout",
    "setsid",
    "sudo",
    "doas",
    "su",
    "ssh",
    "make",
    "python",
    "python3",
    "perl",
    "ruby",
    "node",
    "deno",
    "bun",
    "php",
    "lua",
    "awk",
    "gawk",
    "tclsh",
    "osascript",
];

/// The narrowest `--allow-run` rule that allows `program` with exactly
/// `args` (glob characters escaped), or `None` when the one-word form
/// cannot say it: an argument holds whitespace, or there are no arguments
/// (`PROGRAM` alone allows *any* arguments). Only a grants file's `[[run]]`
/// can say those.
pub fn narrowest_rule(program: &str, args: &[String]) -> Option<String> {
    if args.is_empty() {
        return None;
    }
    let words: Option<Vec<String>> = std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .map(literal_word)
        .collect();
    words.map(|words| words.join(" "))
}

/// "to allow exactly this: --allow-run 'wc -l x' (grants file: allow-run =
/// ["wc -l x"])", for `program` as the plugin wrote it and its arguments.
pub fn exec_rule(program: &str, args: &[String]) -> String {
    let fix = match narrowest_rule(program, args) {
        Some(rule) => format!(
            "to allow exactly this: --allow-run {} (grants file: allow-run = [{}])",
            shell_quote(&rule),
            toml_string(&rule)
        ),
        // Without arguments, `--allow-run PROGRAM` would allow any.
        None if args.is_empty() => format!(
            "to allow exactly this (no arguments), in a grants file: [[run]] program = {} args = []; --allow-run {} would allow any arguments",
            toml_string(program),
            shell_quote(program)
        ),
        // An argument with whitespace has no one-word form: only the list.
        None => format!(
            "to allow exactly this, in a grants file: [[run]] program = {} args = [{}]",
            toml_string(program),
            args.iter()
                .map(|a| toml_string(&literal(a)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    match broad(program) {
        Some(name) => format!(
            "{fix}; that rule is broad: {name} runs other programs (children execute only the helpers you grant it with --allow-helper)"
        ),
        None => fix,
    }
}

/// The fix for a variable the plugin may not set.
pub fn env_rule(name: &str, value: &str) -> String {
    match literal_word(value) {
        Some(value) => {
            let rule = format!("{name}={value}");
            format!(
                "to allow exactly this: --allow-env {} (grants file: allow-env = [{}])",
                shell_quote(&rule),
                toml_string(&rule)
            )
        }
        None => format!("to allow it: --allow-env '{name}=*' (any value)"),
    }
}

/// The fix for a directory outside the granted ones.
pub fn dir(path: &Path) -> String {
    let path = path.to_string_lossy();
    format!(
        "to allow it: --dir {} (grants file: dir = [{}])",
        shell_quote(&path),
        toml_string(&path)
    )
}

/// The fix for a file written outside the directories granted for writing.
pub fn write_dir(path: &Path) -> String {
    let path = path.to_string_lossy();
    format!(
        "to allow it: --allow-write {} (grants file: allow-write = [{}])",
        shell_quote(&path),
        toml_string(&path)
    )
}

/// `word` as a literal pattern of the one-word rule form; `None` when it
/// cannot be one word (empty, or with whitespace).
fn literal_word(word: &str) -> Option<String> {
    (!word.is_empty() && !word.contains(char::is_whitespace)).then(|| literal(word))
}

/// `arg` as a pattern that matches only itself: glob characters made
/// literal (`*` → `[*]`).
fn literal(arg: &str) -> String {
    arg.chars()
        .map(|c| match c {
            '*' | '?' | '[' | ']' => format!("[{c}]"),
            c => c.to_string(),
        })
        .collect()
}

/// The program's name if it runs other programs as it is told.
pub(crate) fn broad(program: &str) -> Option<&str> {
    let name = Path::new(program).file_name()?.to_str()?;
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    RUNS_OTHERS.iter().any(|r| *r == name || *r == base).then_some(name)
}

/// A word for a POSIX shell: single-quoted unless it is plain.
fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rule::ParsedRule;

    #[test]
    fn the_suggested_rule_parses_back_and_matches_only_the_request() {
        let args: Vec<String> = ["-l", "x*y", "[a]", "--format=%s?"].map(String::from).to_vec();
        let fix = exec_rule("wc", &args);
        assert!(
            fix.starts_with("to allow exactly this: --allow-run 'wc -l x[*]y [[]a[]] --format=%s[?]'"),
            "{fix}"
        );
        let rule = fix.split('\'').nth(1).unwrap();
        let parsed = ParsedRule::from_words(rule).unwrap();
        assert!(parsed.args.matches(&args), "{rule}");
        let other: Vec<String> = ["-l", "xzy", "[a]", "--format=%s?"].map(String::from).to_vec();
        assert!(!parsed.args.matches(&other), "{rule} is wider than the request");
    }

    #[test]
    fn arguments_with_spaces_get_the_list_form_and_shells_are_called_broad() {
        let fix = exec_rule("sh", &["-c".into(), "ls -l".into()]);
        assert!(
            fix.contains("[[run]] program = \"sh\" args = [\"-c\", \"ls -l\"]"),
            "{fix}"
        );
        assert!(fix.contains("that rule is broad: sh runs other programs"), "{fix}");
        assert!(!exec_rule("git", &["log".into()]).contains("broad"));
        assert!(exec_rule("python3.12", &[]).contains("broad"));
    }

    #[test]
    fn a_request_without_arguments_is_never_suggested_a_rule_that_allows_any() {
        assert_eq!(narrowest_rule("/usr/bin/git", &[]), None);
        let fix = exec_rule("git", &[]);
        assert!(fix.contains("[[run]] program = \"git\" args = []"), "{fix}");
        assert!(fix.contains("--allow-run git would allow any arguments"), "{fix}");
    }

    #[test]
    fn env_and_dir_fixes() {
        assert_eq!(
            env_rule("LANG", "C.UTF-8"),
            "to allow exactly this: --allow-env LANG=C.UTF-8 (grants file: allow-env = [\"LANG=C.UTF-8\"])"
        );
        assert!(env_rule("MSG", "two words").contains("'MSG=*'"));
        assert_eq!(
            dir(Path::new("/tmp/my dir")),
            "to allow it: --dir '/tmp/my dir' (grants file: dir = [\"/tmp/my dir\"])"
        );
    }
}
