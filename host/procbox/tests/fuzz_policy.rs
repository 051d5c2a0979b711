//! Property tests ("fuzzing") of the rule parser, the argument matcher, the
//! env rules and the TOML documents: arbitrary input never panics, and the
//! matcher keeps its promises.
//!
//! Run more cases with `PROPTEST_CASES=100000 cargo test -p procbox --test library --release fuzz_policy::`.

use std::path::Path;

use proptest::prelude::*;

use procbox::policy::document::{self, Kind};
use procbox::policy::env::{is_injection, EnvRule};
use procbox::policy::rule::{ArgsPattern, ParsedRule};
use procbox::Source;

/// Words that exercise the pattern syntax: literals, wildcards, globs,
/// brackets, spaces, `=`, newlines and NUL bytes.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z-]{0,6}",
        Just("*".to_string()),
        Just("**".to_string()),
        "[-a-z=*?\\[\\]!\\\\ \n\t\0]{0,8}",
    ]
}

fn args() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(word(), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    /// Any text is either a rule or an error that quotes it; never a panic.
    #[test]
    fn parsing_a_rule_never_panics(text in "\\PC{0,40}") {
        match ParsedRule::from_words(&text) {
            Ok(rule) => prop_assert_eq!(rule.written, text),
            Err(err) => {
                let prefix = format!("rule '{}'", text);
                prop_assert!(err.to_string().starts_with(&prefix));
            }
        }
    }

    /// The list form never panics either, whatever the patterns hold.
    #[test]
    fn parsing_the_list_form_never_panics(program in word(), patterns in prop::option::of(args())) {
        let _ = ParsedRule::from_parts("fuzz", &program, patterns);
    }

    /// Matching never panics, and a rule of literals matches only that exact
    /// argument list.
    #[test]
    fn literal_rules_match_only_themselves(literals in prop::collection::vec("[a-z=-]{1,6}", 0..5), request in args()) {
        let rule = ParsedRule::from_parts("fuzz", "prog", Some(literals.clone())).unwrap();
        prop_assert_eq!(rule.args.matches(&request), request == literals);
    }

    /// `PREFIX **` matches exactly the argument lists that start with PREFIX.
    #[test]
    fn rest_matches_exactly_the_extensions_of_its_prefix(prefix in prop::collection::vec("[a-z]{1,4}", 0..4), request in args()) {
        let mut patterns = prefix.clone();
        patterns.push("**".into());
        let rule = ParsedRule::from_parts("fuzz", "prog", Some(patterns)).unwrap();
        prop_assert_eq!(rule.args.matches(&request), request.starts_with(&prefix));
    }

    /// Positional patterns never match a list of a different length (unless
    /// they end in `**`).
    #[test]
    fn positional_rules_fix_the_argument_count(patterns in prop::collection::vec(word(), 0..5), request in args()) {
        if let Ok(rule) = ParsedRule::from_parts("fuzz", "prog", Some(patterns.clone())) {
            if let ArgsPattern::Positional(parsed) = &rule.args {
                let ends_in_rest = patterns.last().is_some_and(|p| p == "**");
                if !ends_in_rest && rule.args.matches(&request) {
                    prop_assert_eq!(parsed.len(), request.len());
                }
            }
        }
    }

    /// Env rules parse or fail cleanly, and a glob name never reaches an
    /// injection variable.
    #[test]
    fn env_globs_never_match_injection_variables(rule in "[A-Z_*?=]{1,12}", name in "(LD_|DYLD_|GIT_CONFIG_KEY_|BASH_ENV|PYTHONPATH)[A-Z_]{0,6}") {
        if let Ok(parsed) = EnvRule::parse(&rule, Source::Api) {
            let named_exactly = rule.split('=').next() == Some(name.as_str());
            if is_injection(&name) && !named_exactly {
                prop_assert!(!parsed.allows_setting(&name, "x"));
                prop_assert!(!parsed.passes(&name));
            }
        }
    }

    /// Any text as a grants file or manifest is a document or an error that
    /// names the file; never a panic.
    #[test]
    fn documents_never_panic(text in "(\\PC|\n){0,120}") {
        for kind in [Kind::Grants, Kind::Manifest] {
            if let Err(err) = document::parse(&text, Path::new("fuzz.toml"), kind) {
                prop_assert!(err.to_string().starts_with("fuzz.toml"), "{}", err);
            }
        }
    }

    /// Documents built from valid keys with arbitrary values never panic.
    #[test]
    fn structured_documents_never_panic(rules in prop::collection::vec("[ -~]{0,12}", 0..4), limit in "[ -~]{0,8}") {
        let list = rules.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(", ");
        let text = format!("allow-run = [{list}]\ndeny-run = [{list}]\nallow-env = [{list}]\n[limits]\nmax-runtime = {limit:?}\nmax-output = {limit:?}\n");
        let _ = document::parse(&text, Path::new("fuzz.toml"), Kind::Grants);
    }
}
