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

fn denies(rule: &str, request: &[&str]) -> bool {
    let args_pattern = ParsedRule::from_words(rule).unwrap().args.for_deny().unwrap();
    args_pattern.matches(&args(request))
}

#[test]
fn a_deny_rule_written_with_an_option_matches_it_anywhere() {
    let cases: &[(&str, &[&str], bool)] = &[
        // the option in any position and spelling
        ("git log --output=*", &["log", "-1", "--output=F"], true),
        ("git log --output=*", &["log", "--output", "F", "-1"], true),
        ("git log --output=*", &["log", "--output=F"], true),
        ("git log --output=*", &["log", "--outp=F"], true),
        ("git log --output=*", &["log", "-1"], false),
        ("git log --output=*", &["show", "--output=F"], false),
        // words before the first option stay positional
        ("git log --output=*", &["-1", "log", "--output=F"], false),
        // a word of several letters after one dash, and every later word,
        // matches one argument anywhere
        ("rm -rf *", &["x", "-rf"], true),
        ("rm -rf *", &["-rf", "x"], true),
        ("rm -rf *", &["-r", "x"], false),
        ("sort -o *", &["-rno", "F", "in"], true),
        // after `--` in the rule, words are operands, `--` included
        ("cmd -v -- -x", &["-v", "a", "--", "-x"], true),
        ("cmd -v -- -x", &["-v", "-x"], false),
        // an option name with glob characters is a glob over one argument
        ("git -*", &["log", "-p"], true),
        ("git -*", &["log"], false),
        // still whatever it matched as written: here `*` takes the `--`
        // that ends options for the anywhere form
        ("cmd --a * --b", &["--a", "--", "--b"], true),
        ("cmd -x=foo", &["-x=foo"], true),
        // without an option, a deny rule stays positional
        ("git push origin", &["push", "origin"], true),
        ("git push origin", &["push", "origin", "main"], false),
        ("git push origin", &["push", "-f", "origin"], false),
        ("cat -", &["x", "-"], false),
        ("cat - *", &["-", "x"], true),
        // `--` is not an option
        ("git log --", &["log", "-1", "--"], false),
        // a rule with `**` is taken as written
        ("git log ** --output", &["log", "-1", "--output=F"], true),
        ("git log ** --output", &["show", "--output=F"], false),
        ("git push --force **", &["push", "--force", "origin"], true),
        ("git push --force **", &["push", "origin", "--force"], false),
        ("git", &["log", "--output=F"], true),
    ];
    for (rule, request, expected) in cases {
        assert_eq!(denies(rule, request), *expected, "deny {rule:?} vs {request:?}");
    }
}

#[test]
fn a_deny_rule_matched_anywhere_says_so_with_both_forms() {
    let rule = |written: &str| ExecRule {
        written: written.to_string(),
        program: "git".into(),
        path: "/usr/bin/git".into(),
        args: ParsedRule::from_words(written).unwrap().args,
        sha256: None,
        source: Source::Flag("--deny-run"),
    };
    let shown = |written: &str| rule(written).for_deny().unwrap().to_string();
    let cases = [
        (
            "git log --output=*",
            "'git log ** --output=*' (--deny-run, written 'git log --output=*': matched anywhere)",
        ),
        ("git push --force **", "'git push --force **' (--deny-run)"),
        ("git log ** --output", "'git log ** --output' (--deny-run)"),
        ("git push origin", "'git push origin' (--deny-run)"),
        ("git", "'git' (--deny-run)"),
    ];
    for (written, expected) in cases {
        assert_eq!(shown(written), expected);
    }
    // The list form's words keep their spaces, quoted.
    let listed = ExecRule {
        args: ParsedRule::from_parts("git", "git", Some(args(&["log", "--format=%s x"])))
            .unwrap()
            .args,
        ..rule("git")
    };
    assert_eq!(
        listed.for_deny().unwrap().to_string(),
        "'git log ** \"--format=%s x\"' (--deny-run, written 'git log \"--format=%s x\"': matched anywhere)"
    );
    // An allow rule is never rewritten (only deny rules are passed on).
    assert_eq!(
        rule("git log --output=*").to_string(),
        "'git log --output=*' (--deny-run)"
    );
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
