//! Composition: pipelines between children and redirections, each stage
//! and file under the policy. In process ([`run_guest`]), except where a
//! child writes to procbox's own stdout.

use procbox_tests::{bounded, guests, procbox_run, run_guest};

#[tokio::test]
async fn a_three_stage_pipeline_runs_child_to_child() {
    let run = bounded!(run_guest(
        guests::PIPELINE,
        |p| p.allow_run("printf").allow_run("sort").allow_run("uniq"),
        &[]
    ));
    run.assert_passed();
}

#[tokio::test]
async fn every_stage_is_checked_by_the_policy() {
    // uniq is not granted: the pipeline is refused at that stage.
    let run = bounded!(run_guest(
        guests::PIPELINE,
        |p| p.allow_run("printf").allow_run("sort"),
        &["denied"]
    ));
    run.assert_passed();
}

#[tokio::test]
async fn a_failing_pipeline_reports_the_rightmost_failure() {
    let run = bounded!(run_guest(
        guests::PIPELINE_FAIL,
        |p| p.allow_run("sh").allow_run("cat"),
        &[]
    ));
    run.assert_passed();
}

#[tokio::test]
async fn a_stage_killed_by_sigpipe_after_head_exited_is_not_a_failure() {
    let run = bounded!(run_guest(
        guests::PIPELINE_HEAD,
        |p| p.allow_run("seq").allow_run("sort").allow_run("head"),
        &[]
    ));
    run.assert_passed();
}

#[tokio::test]
async fn a_failing_checked_middle_stage_is_reported_even_beside_an_unchecked_stage() {
    let run = bounded!(run_guest(
        guests::PIPELINE_MIDDLE_FAILS,
        |p| p.allow_run("seq").allow_run("sh").allow_run("cat"),
        &[]
    ));
    run.assert_passed();
}

#[tokio::test]
async fn the_sdk_writes_a_command_line_as_the_host_does() {
    // `echo` is not granted, so the host refuses it and shows the command
    // line by its own rule.
    bounded!(run_guest(guests::QUOTING, |p| p.allow_run("true"), &[])).assert_passed();
}

#[tokio::test]
async fn files_and_merged_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let run = bounded!(run_guest(
        guests::REDIRECT,
        // Redirects that write need a write grant; reading one back, any grant.
        |p| p.allow_run("echo").allow_run("cat").allow_run("sh").allow_write(&root),
        &[root.to_str().unwrap()]
    ));
    run.assert_passed();
    assert_eq!(std::fs::read_to_string(root.join("out.txt")).unwrap(), "hello\nagain\n");
    assert!(!std::path::Path::new("/etc/procbox-escape").exists());
}

#[tokio::test]
async fn a_symlinked_output_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::os::unix::fs::symlink("/tmp/procbox-symlink-target", root.join("out.txt")).unwrap();
    let run = bounded!(run_guest(
        guests::REDIRECT_SYMLINK,
        |p| p.allow_run("echo").allow_write(&root),
        &[root.to_str().unwrap()]
    ));
    run.assert_passed();
    assert!(!std::path::Path::new("/tmp/procbox-symlink-target").exists());
}

#[tokio::test]
async fn inheriting_procbox_stdout_needs_a_grant() {
    // The binary: what the child writes goes to procbox's own stdout, which
    // in process would be the test's.
    let denied = bounded!(procbox_run(guests::INHERIT, &["--allow-run=echo"], &["refused"]));
    assert_eq!(denied.code, Some(0), "{denied:?}");
    let allowed = bounded!(procbox_run(
        guests::INHERIT,
        &["--allow-run=echo", "--allow-inherit"],
        &["granted"]
    ));
    assert_eq!(allowed.code, Some(0), "{allowed:?}");
    assert!(allowed.stdout.contains("straight to the terminal"), "{allowed:?}");
}

#[tokio::test]
async fn an_over_long_line_is_a_recoverable_error() {
    bounded!(run_guest(guests::LINES, |p| p.allow_run("printf"), &[])).assert_passed();
}

#[tokio::test]
async fn text_json_input_and_read() {
    let cwd = std::env::current_dir().unwrap();
    let run = bounded!(run_guest(
        guests::DECODE,
        |p| p
            .allow_run("echo")
            .allow_run("tr")
            .allow_run("printf")
            .allow_run("sh")
            .allow_dir(cwd),
        &[]
    ));
    run.assert_passed();
}

#[tokio::test]
async fn waiting_for_any_child_and_with_a_deadline() {
    bounded!(run_guest(guests::WAIT_ANY, |p| p.allow_run("sleep"), &[])).assert_passed();
}

#[tokio::test]
async fn a_queue_keeps_input_order_and_fails_fast_or_keeps_going() {
    let run = bounded!(run_guest(
        guests::QUEUE,
        |p| p
            .allow_run("sh")
            .allow_run("echo")
            .allow_run("false")
            .allow_run("sleep"),
        &[]
    ));
    run.assert_passed();
}
