//! Patterns that match an argument **at any position**: the words after
//! `**` in a deny rule, e.g. `--deny-run 'git log ** --output'` or
//! `--deny-run 'sort ** -o'`. Positional patterns cannot say "this flag
//! anywhere": `git log -1 --output=F` or `git log --output F -1` slip past
//! `git log --output=*`.
//!
//! Options are matched as the programs that parse them read them, erring
//! toward a match, because these rules deny:
//! - `--name` matches `--name`, `--name=VALUE`, and any unambiguous-looking
//!   abbreviation (`--out`, `--outp=F`), which GNU `getopt_long` and git
//!   accept; `--name=GLOB` also requires the value (attached, or the next
//!   argument) to match GLOB;
//! - `-x` matches the letter in any cluster of short options (`-rno F`,
//!   `-oF`, `-xo`), wherever it stands; `-x=GLOB` also requires its value
//!   (the rest of the cluster, or the next argument) to match GLOB;
//! - options end at a `--` argument: what follows are operands;
//! - any other word (a literal or a glob) matches one argument anywhere,
//!   operands included: `--` itself, a word of several letters after one
//!   dash (`-rf`), and an option whose name holds glob characters (`-*`,
//!   `--out*`), which matches the one argument against the glob.
//!
//! A deny rule written positionally with an option is matched with these
//! patterns from its first option on (see [`super::rule`]).

use std::fmt;

use glob::Pattern;

/// An argument pattern of a rule that is written wrongly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// A glob that does not parse.
    #[error("pattern {pattern:?} is not a valid glob: {why}")]
    Glob {
        /// The pattern as written.
        pattern: String,
        /// Why it does not parse.
        why: glob::PatternError,
    },
    /// A second `**`.
    #[error("`**` may appear once")]
    RestTwice,
    /// A `**` before the last pattern (of a rule that is not matched
    /// anywhere).
    #[error("`**` matches all remaining arguments, so it may only be the last pattern")]
    RestNotLast,
}

/// One "anywhere" pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyArg {
    /// A long option, by name without the dashes, and an optional value glob.
    Long(String, Option<Pattern>),
    /// A short option letter, and an optional value glob.
    Short(char, Option<Pattern>),
    /// Any one argument matching this glob (a literal is a glob too).
    Word(Pattern),
}

impl AnyArg {
    /// Parses one word after `**`.
    ///
    /// # Errors
    /// A malformed glob.
    pub fn parse(word: &str) -> Result<AnyArg, PatternError> {
        let option = word.split_once('=').map_or(word, |(option, _)| option);
        if option.contains(['*', '?', '[']) {
            return AnyArg::word(word);
        }
        let value = word.split_once('=').map(|(_, value)| glob(value)).transpose()?;
        if let Some(name) = option.strip_prefix("--").filter(|n| !n.is_empty()) {
            return Ok(AnyArg::Long(name.to_string(), value));
        }
        let mut letters = option.strip_prefix('-').unwrap_or_default().chars();
        if let (Some(letter), None) = (letters.next(), letters.next()) {
            if letter != '-' {
                return Ok(AnyArg::Short(letter, value));
            }
        }
        AnyArg::word(word)
    }

    /// A word that matches any one argument against its glob, options or
    /// not (a literal is a glob of itself).
    ///
    /// # Errors
    /// A malformed glob.
    pub fn word(word: &str) -> Result<AnyArg, PatternError> {
        glob(word).map(AnyArg::Word)
    }

    /// Whether some argument of `args` matches.
    pub fn found_in(&self, args: &[String]) -> bool {
        let options_end = args.iter().position(|a| a == "--").unwrap_or(args.len());
        match self {
            AnyArg::Word(glob) => args.iter().any(|a| glob.matches(a)),
            AnyArg::Long(name, value) => (0..options_end).any(|i| long_at(args, i, name, value.as_ref())),
            AnyArg::Short(letter, value) => (0..options_end).any(|i| short_at(args, i, *letter, value.as_ref())),
        }
    }
}

/// `text` as a glob.
pub(super) fn glob(text: &str) -> Result<Pattern, PatternError> {
    Pattern::new(text).map_err(|why| PatternError::Glob {
        pattern: text.to_string(),
        why,
    })
}

/// The word as a rule writes it.
impl fmt::Display for AnyArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (option, value) = match self {
            AnyArg::Long(name, value) => (format!("--{name}"), value),
            AnyArg::Short(letter, value) => (format!("-{letter}"), value),
            AnyArg::Word(glob) => return f.write_str(glob.as_str()),
        };
        match value {
            Some(value) => write!(f, "{option}={}", value.as_str()),
            None => f.write_str(&option),
        }
    }
}

/// Whether `args[i]` is the long option `name` (or an abbreviation of it)
/// with a value matching `value`, if one is required.
fn long_at(args: &[String], i: usize, name: &str, value: Option<&Pattern>) -> bool {
    let Some(given) = args[i].strip_prefix("--") else {
        return false;
    };
    let (given_name, attached) = match given.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (given, None),
    };
    if given_name.is_empty() || !name.starts_with(given_name) {
        return false;
    }
    value_matches(value, attached.or(args.get(i + 1).map(String::as_str)))
}

/// Whether `args[i]` is a cluster of short options holding `letter` with a
/// value matching `value`, if one is required.
fn short_at(args: &[String], i: usize, letter: char, value: Option<&Pattern>) -> bool {
    let arg = &args[i];
    if arg.starts_with("--") || arg.len() < 2 {
        return false;
    }
    let Some(cluster) = arg.strip_prefix('-') else {
        return false;
    };
    let Some(at) = cluster.find(letter) else {
        return false;
    };
    let rest = &cluster[at + letter.len_utf8()..];
    let attached = (!rest.is_empty()).then_some(rest);
    value_matches(value, attached.or(args.get(i + 1).map(String::as_str)))
}

/// No value required, or the value (when there is one) matches. A missing
/// value still counts as a match: a deny rule errs toward refusing.
fn value_matches(pattern: Option<&Pattern>, value: Option<&str>) -> bool {
    match (pattern, value) {
        (None, _) | (Some(_), None) => true,
        (Some(pattern), Some(value)) => pattern.matches(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(word: &str, args: &[&str]) -> bool {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        AnyArg::parse(word).unwrap().found_in(&args)
    }

    #[test]
    fn an_option_is_found_however_it_is_written() {
        let cases: &[(&str, &[&str], bool)] = &[
            // long options: alone, with = or the next argument, anywhere
            ("--output", &["-1", "--output=F"], true),
            ("--output", &["--output", "F", "-1"], true),
            ("--output", &["-p", "--output=F", "--stat"], true),
            // abbreviations that getopt_long and git accept
            ("--output", &["--out=F"], true),
            ("--output", &["--outp", "F"], true),
            // other options are not it
            ("--output", &["--oneline", "-1"], false),
            ("--output", &["--output-indicator-new=x"], false),
            // short options, alone, attached or clustered
            ("-o", &["-o", "F"], true),
            ("-o", &["-oF"], true),
            ("-o", &["-rno", "F"], true),
            ("-o", &["-r", "-n"], false),
            ("-o", &["--foo"], false),
            // after `--` everything is an operand
            ("--output", &["--", "--output=F"], false),
            ("-o", &["--", "-o"], false),
            // a value glob narrows the match
            ("--output=/etc/*", &["--output=/etc/passwd"], true),
            ("--output=/etc/*", &["--output", "/etc/passwd"], true),
            ("--output=/etc/*", &["--output=out.txt"], false),
            ("-o=/etc/*", &["-o/etc/passwd"], true),
            ("-o=/etc/*", &["-rno", "/etc/passwd"], true),
            ("-o=/etc/*", &["-o", "out.txt"], false),
            // a plain word matches any one argument, operands too
            ("HEAD", &["--", "HEAD"], true),
            ("*.pem", &["cat", "key.pem"], true),
            ("*.pem", &["key.txt"], false),
            // `--` and several letters after one dash are plain words
            ("--", &["a", "--", "b"], true),
            ("--", &["-x"], false),
            ("-rf", &["x", "-rf"], true),
            ("-rf", &["-r", "-f"], false),
            // an option name with glob characters is a glob over one argument
            ("-*", &["log", "-p"], true),
            ("-*", &["log"], false),
            ("-?", &["--"], true),
            ("--out*", &["--output=F"], true),
            ("--out*", &["--oneline"], false),
        ];
        for (word, args, expected) in cases {
            assert_eq!(found(word, args), *expected, "{word} in {args:?}");
        }
    }

    #[test]
    fn a_pattern_is_shown_as_a_rule_writes_it() {
        for word in ["--output", "--output=/etc/*", "-o", "-o=F*", "-rf", "--", "*.pem", "-*"] {
            assert_eq!(AnyArg::parse(word).unwrap().to_string(), word);
        }
    }
}
