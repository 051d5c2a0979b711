//! The first gate: nothing runs unless granted, and a refusal is an error
//! value in the plugin that says why.

use procbox_tests::scenario;

const TEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

#[tokio::test]
async fn an_ungranted_program_is_denied_with_its_reason() {
    let run = tokio::time::timeout(TEST_DEADLINE, scenario(&["echo"], &["spawn", "rm", "-rf", "/tmp/x"]))
        .await
        .expect("test deadline");
    assert_eq!(run.code, Some(0), "the denial is a value, not a trap: {run:?}");
    let denied = run.line("denied").unwrap_or_else(|| panic!("not denied: {run:?}"));
    assert!(denied.contains("rm -rf /tmp/x"), "names the request: {denied}");
    assert!(denied.contains("no --allow-run rule grants"), "says why: {denied}");
}

#[tokio::test]
async fn nothing_is_granted_by_default() {
    let run = tokio::time::timeout(TEST_DEADLINE, scenario(&[], &["spawn", "true"]))
        .await
        .expect("test deadline");
    let line = run.line("denied").unwrap_or_else(|| panic!("{run:?}"));
    assert!(line.contains("granted: nothing"), "{line}");
}

#[tokio::test]
async fn a_missing_program_is_not_found_rather_than_denied() {
    let run = tokio::time::timeout(
        TEST_DEADLINE,
        scenario(&["echo"], &["spawn", "no-such-program-procbox"]),
    )
    .await
    .expect("test deadline");
    let line = run.line("not_found").unwrap_or_else(|| panic!("{run:?}"));
    assert!(
        line.contains("no-such-program-procbox: no such program on the host's PATH"),
        "{line}"
    );
}

#[tokio::test]
async fn a_grant_for_a_missing_program_is_a_clear_startup_error() {
    let run = tokio::time::timeout(TEST_DEADLINE, scenario(&["no-such-program-procbox"], &["echo"]))
        .await
        .expect("test deadline");
    assert_eq!(run.code, Some(125), "{run:?}");
    assert!(
        run.stderr.contains("--allow-run no-such-program-procbox: not found"),
        "{run:?}"
    );
}

#[tokio::test]
async fn huge_argument_lists_are_invalid_input_not_a_crash() {
    let run = tokio::time::timeout(TEST_DEADLINE, scenario(&["echo"], &["huge-args"]))
        .await
        .expect("test deadline");
    assert_eq!(run.code, Some(0), "{run:?}");
    let long = run.line("long").unwrap_or_else(|| panic!("{run:?}"));
    assert!(
        long.starts_with("invalid_input") && long.contains("longer than the limit"),
        "{long}"
    );
    let many = run.line("many").unwrap_or_else(|| panic!("{run:?}"));
    assert!(
        many.starts_with("invalid_input") && many.contains("more than the limit"),
        "{many}"
    );
}
