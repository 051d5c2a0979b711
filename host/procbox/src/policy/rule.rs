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
//! A deny rule is a promise of "never", and people write it as they read
//! flags, so a deny rule **without `**`** that names an option (a word
//! that starts with `-`, is longer than one character and is not `--`) is
//! matched anywhere from its first option on ([`ArgsPattern::for_deny`]):
//! `git log --output=*` is matched as `git log ** --output=*`, and
//! `rm -rf *` as `rm ** -rf *`. Such a rule still matches whatever it
//! matched as written, and its [`Display`](fmt::Display) shows both forms.
//! A rule with `**` says where it matches, and is taken as written; allow
//! rules are never changed.
//!
//! A program with no patterns allows any arguments. Arguments are never
//! joined or re-split, so an argument with spaces, `=` or a newline is
//! only ever compared as the one argument it is.

use std::fmt;
use std::path::PathBuf;

use super::anywhere::{AnyArg, PatternError};
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
    /// some argument in what `**` covers (deny rules only). The third field
    /// holds the positional patterns of a deny rule that was written
    /// without `**` and is matched anywhere ([`ArgsPattern::for_deny`]):
    /// the rule also matches what they match.
    Containing(Vec<ArgPattern>, Vec<AnyArg>, Option<Vec<ArgPattern>>),
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
            Some(patterns) => parse_patterns(&patterns).map_err(|e| error(e.to_string()))?,
        };
        Ok(ParsedRule {
            written: written.to_string(),
            program: program.to_string(),
            args,
        })
    }
}

/// Positional patterns, or positional ones, `**` and anywhere patterns.
fn parse_patterns(patterns: &[String]) -> Result<ArgsPattern, PatternError> {
    let rest = patterns.iter().position(|p| p == "**");
    if let Some(at) = rest.filter(|&at| at + 1 < patterns.len()) {
        let positional = patterns[..at]
            .iter()
            .map(|p| parse_pattern(p, false))
            .collect::<Result<Vec<_>, _>>()?;
        let anywhere = patterns[at + 1..]
            .iter()
            .map(|p| match p.as_str() {
                "**" => Err(PatternError::RestTwice),
                p => AnyArg::parse(p),
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(ArgsPattern::Containing(positional, anywhere, None));
    }
    let count = patterns.len();
    let parsed = patterns
        .iter()
        .enumerate()
        .map(|(i, p)| parse_pattern(p, i + 1 == count))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ArgsPattern::Positional(parsed))
}

fn parse_pattern(pattern: &str, is_last: bool) -> Result<ArgPattern, PatternError> {
    match pattern {
        "**" if is_last => Ok(ArgPattern::Rest),
        "**" => Err(PatternError::RestNotLast),
        "*" => Ok(ArgPattern::One),
        p if p.contains(['*', '?', '[']) => super::anywhere::glob(p).map(ArgPattern::Glob),
        p => Ok(ArgPattern::Literal(p.to_string())),
    }
}

impl ArgsPattern {
    /// Whether `args` (without the program name) match.
    pub fn matches(&self, args: &[String]) -> bool {
        match self {
            ArgsPattern::Any => true,
            ArgsPattern::Positional(patterns) => positional(patterns, args),
            ArgsPattern::Containing(patterns, anywhere, as_written) => {
                let (head, tail) = args.split_at(patterns.len().min(args.len()));
                (head.len() == patterns.len()
                    && positional(patterns, head)
                    && anywhere.iter().all(|pattern| pattern.found_in(tail)))
                    || as_written.as_ref().is_some_and(|written| positional(written, args))
            }
        }
    }

    /// Whether this pattern can only narrow (an "anywhere" pattern, which
    /// only a deny rule may use).
    pub fn is_anywhere(&self) -> bool {
        matches!(self, ArgsPattern::Containing(..))
    }

    /// The patterns as a deny rule matches them: positional patterns
    /// without `**` that hold an option (a word that starts with `-`, is
    /// longer than one character and is not `--`) become
    /// `HEAD ** ANYWHERE`, where HEAD are the words before the first option
    /// and ANYWHERE that option and every later word. Words after a `--`
    /// match as plain words (operands), and `--` itself as the literal
    /// argument. The result also matches what the patterns matched as
    /// written. Anything else is returned unchanged.
    ///
    /// # Errors
    /// A word that is not a valid anywhere pattern (none that parsed as a
    /// positional pattern is known to be).
    pub fn for_deny(self) -> Result<ArgsPattern, PatternError> {
        let ArgsPattern::Positional(patterns) = self else {
            return Ok(self);
        };
        let words: Vec<String> = patterns.iter().map(ArgPattern::source).collect();
        let first = words.iter().position(|w| looks_like_an_option(w));
        let Some(first) = first.filter(|_| !patterns.contains(&ArgPattern::Rest)) else {
            return Ok(ArgsPattern::Positional(patterns));
        };
        let mut operands = false;
        let anywhere = words[first..]
            .iter()
            .map(|word| {
                let plain = operands || word == "--";
                operands |= word == "--";
                if plain {
                    AnyArg::word(word)
                } else {
                    AnyArg::parse(word)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ArgsPattern::Containing(
            patterns[..first].to_vec(),
            anywhere,
            Some(patterns),
        ))
    }

    /// Whether this is a deny rule's pattern that was written positionally
    /// and is matched anywhere ([`for_deny`](Self::for_deny)).
    pub fn is_matched_anywhere(&self) -> bool {
        matches!(self, ArgsPattern::Containing(_, _, Some(_)))
    }
}

/// Whether a word of a rule looks like an option: it starts with `-`, is
/// longer than one character (`-` alone is standard input) and is not `--`
/// (the end of options).
fn looks_like_an_option(word: &str) -> bool {
    word.starts_with('-') && word.len() > 1 && word != "--"
}

impl ArgPattern {
    /// The pattern as it is written in a rule.
    fn source(&self) -> String {
        match self {
            ArgPattern::Literal(literal) => literal.clone(),
            ArgPattern::One => "*".into(),
            ArgPattern::Rest => "**".into(),
            ArgPattern::Glob(glob) => glob.as_str().into(),
        }
    }
}

impl fmt::Display for ArgPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&quote(&self.source()))
    }
}

/// The patterns, as a rule writes them after its program: each word
/// quoted when it is empty or holds whitespace (the list form allows it).
impl fmt::Display for ArgsPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = match self {
            ArgsPattern::Any => Vec::new(),
            ArgsPattern::Positional(patterns) => patterns.iter().map(ToString::to_string).collect(),
            ArgsPattern::Containing(head, anywhere, _) => head
                .iter()
                .map(ToString::to_string)
                .chain(["**".to_string()])
                .chain(anywhere.iter().map(|a| quote(&a.to_string())))
                .collect(),
        };
        f.write_str(&words.join(" "))
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

    /// This rule as a deny rule matches it ([`ArgsPattern::for_deny`]).
    ///
    /// # Errors
    /// [`RuleError`] naming the rule, as [`ArgsPattern::for_deny`].
    pub fn for_deny(self) -> Result<ExecRule, RuleError> {
        let args = self.args.for_deny().map_err(|e| RuleError {
            written: self.written.clone(),
            reason: e.to_string(),
        })?;
        Ok(ExecRule { args, ..self })
    }

    /// The rule in the form it is matched as: the program, then its
    /// patterns (`git log ** --output=*`).
    pub fn matched_as(&self) -> String {
        match &self.args {
            ArgsPattern::Any => quote(&self.program),
            args => format!("{} {args}", quote(&self.program)),
        }
    }
}

/// `'git push **' (--deny-run)`; a deny rule matched anywhere shows the
/// form it is matched as, then as written:
/// `'git log ** --output=*' (--deny-run, written 'git log --output=*':
/// matched anywhere)`.
impl fmt::Display for ExecRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.args {
            ArgsPattern::Containing(_, _, Some(as_written)) => {
                let written = ArgsPattern::Positional(as_written.clone());
                write!(
                    f,
                    "'{}' ({}, written '{} {written}': matched anywhere)",
                    self.matched_as(),
                    self.source,
                    quote(&self.program)
                )
            }
            _ => write!(f, "'{}' ({})", self.written, self.source),
        }
    }
}

/// An argument as a reader should see it: quoted (as a Rust string literal)
/// when it is empty or has whitespace, quotes or control characters.
pub fn quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains(|c: char| c.is_whitespace() || c.is_control() || c == '"' || c == '\'') {
        return arg.to_string();
    }
    format!("{arg:?}")
}

#[cfg(test)]
mod tests;
