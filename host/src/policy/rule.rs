//! Exec rules: which program, with which arguments.
//!
//! Grammar of the one-word form (`--allow-run 'git log **'`): split on
//! whitespace; the first word is the program, each further word is one
//! pattern that matches one argument **by position**:
//! - a literal matches exactly that argument;
//! - `*` matches exactly one argument, whatever it is (even empty);
//! - `**` matches all remaining arguments (zero or more); in an allow rule
//!   it may only be the last pattern;
//! - a word with glob characters (`*`, `?`, `[...]`) matches one argument
//!   against that glob, e.g. `--format=*`. `[*]` matches a literal `*`.
//!
//! In a **deny** rule, words after `**` match an argument **anywhere** in
//! what `**` covers, as options are parsed: `git log ** --output` denies
//! `--output` in any position and spelling (see [`super::anywhere`]).
//!
//! A program with no patterns allows any arguments. Arguments are never
//! joined or re-split, so an argument with spaces, `=` or a newline is
//! only ever compared as the one argument it is.

use std::fmt;
use std::path::PathBuf;

use super::anywhere::AnyArg;
use super::Source;

/// One pattern for one argument position.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgPattern {
    /// Exactly this argument.
    Literal(String),
    /// Any one argument (`*`).
    One,
    /// All remaining arguments, zero or more (`**`).
    Rest,
    /// One argument matching a glob (e.g. `--format=*`).
    Glob(glob::Pattern),
}

/// What a rule says about the arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgsPattern {
    /// Any arguments (the rule named only the program).
    Any,
    /// Positional patterns.
    Positional(Vec<ArgPattern>),
    /// Positional patterns, then `**`, then patterns that must each match
    /// some argument in what `**` covers (deny rules only).
    Containing(Vec<ArgPattern>, Vec<AnyArg>),
}

/// A rule about one program: an allow rule, a deny rule, or a manifest
/// request.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecRule {
    /// The rule as written, for messages (`git log **`).
    pub written: String,
    /// The program as written (`git`).
    pub program: String,
    /// The canonical file the program resolved to when the policy was built.
    pub path: PathBuf,
    /// The argument patterns.
    pub args: ArgsPattern,
    /// If set, the program file must have this SHA-256 digest.
    pub sha256: Option<[u8; 32]>,
    /// Where the rule came from.
    pub source: Source,
}

/// A rule that is written wrongly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule '{written}': {reason}")]
pub struct RuleError {
    /// The rule as written.
    pub written: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A rule before its program is resolved: what parsing produces.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRule {
    /// The rule as written.
    pub written: String,
    /// Its program, as written.
    pub program: String,
    /// Its argument patterns.
    pub args: ArgsPattern,
}

impl ParsedRule {
    /// Parses the one-word form `PROGRAM [PATTERN...]`.
    ///
    /// # Errors
    /// [`RuleError`] for an empty rule, a `**` before the last position, or
    /// a malformed glob.
    pub fn from_words(written: &str) -> Result<ParsedRule, RuleError> {
        let mut words = written.split_whitespace();
        let program = words.next().ok_or_else(|| RuleError {
            written: written.to_string(),
            reason: "the rule is empty; write PROGRAM [PATTERN...]".into(),
        })?;
        let patterns: Vec<String> = words.map(str::to_string).collect();
        let args = if patterns.is_empty() { None } else { Some(patterns) };
        ParsedRule::from_parts(written, program, args)
    }

    /// Builds a rule from a program and an optional list of patterns, each
    /// matching one argument (the grants file's `[[run]]` form, which allows
    /// spaces inside an argument). `None` allows any arguments; `Some(vec![])`
    /// allows none.
    ///
    /// # Errors
    /// As [`from_words`](Self::from_words).
    pub fn from_parts(written: &str, program: &str, args: Option<Vec<String>>) -> Result<ParsedRule, RuleError> {
        let error = |reason: String| RuleError {
            written: written.to_string(),
            reason,
        };
        if program.is_empty() || program.contains('\0') {
            return Err(error("the program is empty or contains a NUL byte".into()));
        }
        let args = match args {
            None => ArgsPattern::Any,
            Some(patterns) => parse_patterns(&patterns).map_err(error)?,
        };
        Ok(ParsedRule {
            written: written.to_string(),
            program: program.to_string(),
            args,
        })
    }
}

/// Positional patterns, or positional ones, `**` and anywhere patterns.
fn parse_patterns(patterns: &[String]) -> Result<ArgsPattern, String> {
    let rest = patterns.iter().position(|p| p == "**");
    if let Some(at) = rest.filter(|&at| at + 1 < patterns.len()) {
        let positional = patterns[..at]
            .iter()
            .map(|p| parse_pattern(p, false))
            .collect::<Result<Vec<_>, _>>()?;
        let anywhere = patterns[at + 1..]
            .iter()
            .map(|p| match p.as_str() {
                "**" => Err("`**` may appear once".to_string()),
                p => AnyArg::parse(p),
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(ArgsPattern::Containing(positional, anywhere));
    }
    let count = patterns.len();
    let parsed = patterns
        .iter()
        .enumerate()
        .map(|(i, p)| parse_pattern(p, i + 1 == count))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ArgsPattern::Positional(parsed))
}

fn parse_pattern(pattern: &str, is_last: bool) -> Result<ArgPattern, String> {
    match pattern {
        "**" if is_last => Ok(ArgPattern::Rest),
        "**" => Err("`**` matches all remaining arguments, so it may only be the last pattern".into()),
        "*" => Ok(ArgPattern::One),
        p if p.contains(['*', '?', '[']) => glob::Pattern::new(p)
            .map(ArgPattern::Glob)
            .map_err(|e| format!("pattern {p:?} is not a valid glob: {e}")),
        p => Ok(ArgPattern::Literal(p.to_string())),
    }
}

impl ArgsPattern {
    /// Whether `args` (without the program name) match.
    pub fn matches(&self, args: &[String]) -> bool {
        match self {
            ArgsPattern::Any => true,
            ArgsPattern::Positional(patterns) => positional(patterns, args),
            ArgsPattern::Containing(patterns, anywhere) => {
                let (head, tail) = args.split_at(patterns.len().min(args.len()));
                head.len() == patterns.len()
                    && positional(patterns, head)
                    && anywhere.iter().all(|pattern| pattern.found_in(tail))
            }
        }
    }

    /// Whether this pattern can only narrow (an "anywhere" pattern, which
    /// only a deny rule may use).
    pub fn is_anywhere(&self) -> bool {
        matches!(self, ArgsPattern::Containing(..))
    }
}

/// Whether `args` match `patterns` position by position.
fn positional(patterns: &[ArgPattern], args: &[String]) -> bool {
    for (i, pattern) in patterns.iter().enumerate() {
        let arg = args.get(i);
        let ok = match pattern {
            ArgPattern::Rest => return true,
            ArgPattern::One => arg.is_some(),
            ArgPattern::Literal(literal) => arg == Some(literal),
            ArgPattern::Glob(glob) => arg.is_some_and(|a| glob.matches(a)),
        };
        if !ok {
            return false;
        }
    }
    patterns.len() == args.len()
}

impl ExecRule {
    /// Whether this rule covers running `path` with `args`.
    pub fn matches(&self, path: &std::path::Path, args: &[String]) -> bool {
        self.path == path && self.args.matches(args)
    }
}

impl fmt::Display for ExecRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' ({})", self.written, self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn matches(rule: &str, request: &[&str]) -> bool {
        ParsedRule::from_words(rule).unwrap().args.matches(&args(request))
    }

    #[test]
    fn positional_matching() {
        let cases: &[(&str, &[&str], bool)] = &[
            // a deny rule's words after `**` match anywhere, however written
            ("git log ** --output", &["log", "-1", "--output=F"], true),
            ("git log ** --output", &["log", "--output", "F", "-1"], true),
            ("git log ** --output", &["log", "--oneline"], false),
            ("git log ** --output", &["show", "--output=F"], false),
            ("git log ** --output", &["log", "--", "--output=F"], false),
            ("sort ** -o", &["-rno", "F", "in"], true),
            ("sort ** -o", &["-oF", "in"], true),
            ("sort ** -o", &["-rn", "in"], false),
            // every word after `**` must be found
            ("git ** -c core.pager=*", &["-c", "core.pager=sh", "log"], true),
            ("git ** -c core.pager=*", &["-c", "user.name=me", "log"], false),
            // a bare program allows any arguments
            ("git", &["push", "--force"], true),
            ("git", &[], true),
            // literals match exactly, position by position
            ("git log", &["log"], true),
            ("git log", &["log", "-p"], false),
            ("git log", &[], false),
            ("git log", &["LOG"], false),
            // `*` is exactly one argument, even an empty one
            ("wc -l *", &["-l", "a.txt"], true),
            ("wc -l *", &["-l", ""], true),
            ("wc -l *", &["-l"], false),
            ("wc -l *", &["-l", "a", "b"], false),
            // `**` is zero or more remaining arguments
            ("git log **", &["log"], true),
            ("git log **", &["log", "-p", "--stat"], true),
            ("git log **", &["push"], false),
            // a glob matches inside one argument
            ("git log --format=*", &["log", "--format=%h"], true),
            ("git log --format=*", &["log", "--pretty=%h"], false),
            ("ls [*]", &["*"], true),
            ("ls [*]", &["a"], false),
            // sloppy matching would join and re-split arguments; we never do
            ("git log", &["log", ""], false),
            ("git log", &["log --exec=evil"], false),
            ("git log", &["log\n--upload-pack=evil"], false),
            ("git log -p", &["log -p"], false),
            ("git --format=*", &["--format=x", "--exec=y"], false),
            // a glob matches the one argument as a whole, `=` and spaces included
            ("git --format=*", &["--format=x --exec=y"], true),
        ];
        for (rule, request, expected) in cases {
            assert_eq!(matches(rule, request), *expected, "rule {rule:?} vs {request:?}");
        }
    }

    #[test]
    fn malformed_rules_are_errors_that_name_the_rule() {
        let cases = [
            // `**` twice
            ("git ** **", "`**` may appear once"),
            ("git ** --output **", "`**` may appear once"),
            // nothing at all
            ("", "the rule is empty"),
            ("   ", "the rule is empty"),
            // a broken glob
            ("ls [a", "not a valid glob"),
        ];
        for (rule, reason) in cases {
            let err = ParsedRule::from_words(rule).unwrap_err();
            assert!(err.to_string().contains(reason), "{rule:?}: {err}");
            assert!(err.to_string().starts_with(&format!("rule '{rule}'")), "{err}");
        }
    }

    #[test]
    fn the_list_form_keeps_spaces_inside_one_argument() {
        let rule = ParsedRule::from_parts("printf", "printf", Some(args(&["%s\n", "hello world"]))).unwrap();
        assert!(rule.args.matches(&args(&["%s\n", "hello world"])));
        assert!(!rule.args.matches(&args(&["%s\n", "hello", "world"])));
        let none = ParsedRule::from_parts("true", "true", Some(vec![])).unwrap();
        assert!(none.args.matches(&[]));
        assert!(!none.args.matches(&args(&["x"])));
    }
}
