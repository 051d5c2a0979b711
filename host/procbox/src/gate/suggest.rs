//! The narrowest grant that would allow a refused request, as data
//! ([`Fix`]), so that a denial names its own fix in the words of whoever
//! shows it.

use std::path::Path;

use super::fix::{Fix, Grant};
use crate::policy::breadth::broad;

/// The narrowest `allow-run` rule that allows `program` with exactly
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

/// The narrowest grant that allows `program` (as the plugin wrote it) with
/// exactly `args`: an `allow-run` rule, or the list form where the one
/// word cannot say it; marked broad when the program runs others.
pub fn exec_rule(program: &str, args: &[String]) -> Fix {
    let grant = match narrowest_rule(program, args) {
        Some(rule) => Grant::AllowRun(rule),
        None => Grant::RunExactly {
            program: program.to_string(),
            args: args.iter().map(|a| literal(a)).collect(),
        },
    };
    Fix {
        runs_others: broad(program).map(str::to_string),
        ..Fix::new(grant)
    }
}

/// The fix for a variable the plugin may not set: exactly this value, or
/// any value when it cannot be one word.
pub fn env_rule(name: &str, value: &str) -> Fix {
    match literal_word(value) {
        Some(value) => Fix::new(Grant::AllowEnv(format!("{name}={value}"))),
        None => Fix {
            exactly: false,
            ..Fix::new(Grant::AllowEnv(format!("{name}=*")))
        },
    }
}

/// The fix for a directory outside the granted ones.
pub fn dir(path: &Path) -> Fix {
    Fix::new(Grant::Dir(path.to_path_buf()))
}

/// The fix for a file written outside the directories granted for writing.
pub fn write_dir(path: &Path) -> Fix {
    Fix::new(Grant::AllowWrite(path.to_path_buf()))
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

/// A word for a POSIX shell: single-quoted unless it is plain.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rule::ParsedRule;

    #[test]
    fn the_suggested_rule_parses_back_and_matches_only_the_request() {
        let args: Vec<String> = ["-l", "x*y", "[a]", "--format=%s?"].map(String::from).to_vec();
        let fix = exec_rule("wc", &args);
        let Grant::AllowRun(rule) = &fix.grant else {
            panic!("{fix:?}")
        };
        assert_eq!(rule, "wc -l x[*]y [[]a[]] --format=%s[?]");
        assert!(fix.exactly && fix.runs_others.is_none(), "{fix:?}");
        let parsed = ParsedRule::from_words(rule).unwrap();
        assert!(parsed.args.matches(&args), "{rule}");
        let other: Vec<String> = ["-l", "xzy", "[a]", "--format=%s?"].map(String::from).to_vec();
        assert!(!parsed.args.matches(&other), "{rule} is wider than the request");
    }

    #[test]
    fn arguments_with_spaces_get_the_list_form_and_shells_are_called_broad() {
        let fix = exec_rule("sh", &["-c".into(), "ls -l".into()]);
        assert_eq!(
            fix.grant.grants_file_line(),
            "[[run]] program = \"sh\" args = [\"-c\", \"ls -l\"]"
        );
        assert_eq!(fix.runs_others.as_deref(), Some("sh"));
        assert_eq!(exec_rule("git", &["log".into()]).runs_others, None);
        assert_eq!(exec_rule("python3.12", &[]).runs_others.as_deref(), Some("python3.12"));
    }

    #[test]
    fn a_request_without_arguments_is_never_suggested_a_rule_that_allows_any() {
        assert_eq!(narrowest_rule("/usr/bin/git", &[]), None);
        let fix = exec_rule("git", &[]);
        assert_eq!(fix.grant.grants_file_line(), "[[run]] program = \"git\" args = []");
    }

    #[test]
    fn env_and_dir_fixes() {
        let exact = env_rule("LANG", "C.UTF-8");
        assert_eq!(exact.grant.grants_file_line(), "allow-env = [\"LANG=C.UTF-8\"]");
        assert!(exact.exactly);
        let any = env_rule("MSG", "two words");
        assert_eq!(any.grant, Grant::AllowEnv("MSG=*".into()));
        assert!(!any.exactly);
        assert_eq!(
            dir(Path::new("/tmp/my dir")).grant.grants_file_line(),
            "dir = [\"/tmp/my dir\"]"
        );
    }
}
