//! Composition: pipelines between children and redirections, through the
//! real binary, each stage and file under the policy.

use procbox_tests::{bounded, scenario, scenario_with};

#[tokio::test]
async fn a_three_stage_pipeline_runs_child_to_child() {
    let run = bounded!(scenario(&["printf", "sort", "uniq"], &["pipeline"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.value("pipeline_out").as_deref(), Some("1:a,2:b"), "{run:?}");
    assert_eq!(run.value("stages").as_deref(), Some("3"), "{run:?}");
}

#[tokio::test]
async fn every_stage_is_checked_by_the_policy() {
    // uniq is not granted: the pipeline is refused at that stage.
    let run = bounded!(scenario(&["printf", "sort"], &["pipeline"]));
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.line("error")
            .is_some_and(|e| e.starts_with("denied:") && e.contains("uniq -c")),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_failing_pipeline_reports_the_rightmost_failure() {
    let run = bounded!(scenario(&["sh", "cat"], &["pipeline-fail"]));
    let error = run.line("pipeline_error").unwrap_or_else(|| panic!("{run:?}"));
    assert!(
        error.contains(r#"`sh -c "cat >/dev/null; echo oops >&2; exit 4"` failed: exit code 4"#),
        "{error}"
    );
    assert!(error.contains("oops"), "the failing stage's stderr: {error}");
}

#[tokio::test]
async fn a_stage_killed_by_sigpipe_after_head_exited_is_not_a_failure() {
    // `seq 1 200000 | sort -rn | head -n 3`: about 1.3 MB goes from sort to
    // head, far more than a pipe holds, so sort is still writing when head
    // exits, and SIGPIPE kills it.
    let run = bounded!(scenario(&["seq", "sort", "head"], &["pipeline-head"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.value("head_out").as_deref(),
        Some("200000,199999,199998"),
        "{run:?}"
    );
    assert_eq!(
        run.value("head_signals").as_deref(),
        Some("None,Some(13),None"),
        "sort really was killed by SIGPIPE: {run:?}"
    );
    assert_eq!(run.value("head_failed_stage").as_deref(), Some("None"), "{run:?}");
}

#[tokio::test]
async fn a_failing_checked_middle_stage_is_reported_even_beside_an_unchecked_stage() {
    let run = bounded!(scenario(&["seq", "sh", "cat"], &["pipeline-middle-fails"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    let middle = r#"`sh -c "cat >/dev/null; echo middle broke >&2; exit 5"` failed: exit code 5"#;
    let error = run.line("middle_error").unwrap_or_else(|| panic!("{run:?}"));
    assert!(error.contains(middle), "{error}");
    assert!(error.contains("middle broke"), "the stage's stderr: {error}");
    // The last stage is unchecked and fails too: the checked middle stage
    // is still reported (duct's rule).
    let error = run.line("duct_error").unwrap_or_else(|| panic!("{run:?}"));
    assert!(error.contains(middle), "{error}");
    // With every stage unchecked, the statuses come back and the rule still
    // names the middle stage.
    assert_eq!(
        run.value("unchecked_failed_stage").as_deref(),
        Some("Some(1)"),
        "{run:?}"
    );
}

#[tokio::test]
async fn the_sdk_writes_a_command_line_as_the_host_does() {
    // `echo` is not granted: the host's refusal shows the command line by
    // its own rule, next to the SDK's `Display` of the same command.
    let run = bounded!(scenario(&["true"], &["quoting"]));
    let shown = run.line("shown").unwrap_or_else(|| panic!("{run:?}"));
    assert_eq!(
        shown, r#"echo plain "" "two words" "tab\there" "it's" "say \"hi\"" "\u{1b}[31m" ünï a\b"#,
        "{run:?}"
    );
    let refused = run.line("refused").unwrap_or_else(|| panic!("{run:?}"));
    // The host names the program by its resolved path, unquoted.
    let args = shown.strip_prefix("echo").expect("the program comes first");
    assert!(
        refused.starts_with("denied: /") && refused.contains(&format!("/echo{args}: ")),
        "the host's line {refused:?} should end with the SDK's arguments {args:?}"
    );
}

#[tokio::test]
async fn files_and_merged_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let grant = format!("--dir={}", root.display());
    let run = bounded!(scenario_with(
        &["--allow-run=echo", "--allow-run=cat", "--allow-run=sh", &grant],
        &["redirect", root.to_str().unwrap()]
    ));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.value("file_round_trip").as_deref(),
        Some("\"hello\\nagain\\n\""),
        "{run:?}"
    );
    assert_eq!(std::fs::read_to_string(root.join("out.txt")).unwrap(), "hello\nagain\n");
    assert_eq!(run.value("merged").as_deref(), Some("\"out\\nerr\\n\""), "{run:?}");
    let outside = run.line("outside").unwrap_or_else(|| panic!("{run:?}"));
    assert!(
        outside.starts_with("denied:") && outside.contains("outside the granted directories"),
        "{outside}"
    );
    assert!(!std::path::Path::new("/etc/procbox-escape").exists());
}

#[tokio::test]
async fn a_symlinked_output_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::os::unix::fs::symlink("/tmp/procbox-symlink-target", root.join("out.txt")).unwrap();
    let grant = format!("--dir={}", root.display());
    let run = bounded!(scenario_with(
        &["--allow-run=echo", "--allow-run=cat", "--allow-run=sh", &grant],
        &["redirect", root.to_str().unwrap()]
    ));
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.line("error")
            .is_some_and(|e| e.contains("a symlink, which could point anywhere")),
        "{run:?}"
    );
    assert!(!std::path::Path::new("/tmp/procbox-symlink-target").exists());
}

#[tokio::test]
async fn inheriting_procbox_stdout_needs_a_grant() {
    let denied = bounded!(scenario(&["echo"], &["inherit"]));
    assert!(
        denied
            .line("inherit_error")
            .is_some_and(|e| e.contains("needs --allow-inherit")),
        "{denied:?}"
    );
    let allowed = bounded!(scenario_with(&["--allow-run=echo", "--allow-inherit"], &["inherit"]));
    assert!(allowed.stdout.contains("straight to the terminal"), "{allowed:?}");
    assert!(
        allowed
            .line("inherit_status")
            .is_some_and(|s| s.starts_with("exit code 0")),
        "{allowed:?}"
    );
}

#[tokio::test]
async fn an_over_long_line_is_a_recoverable_error() {
    let run = bounded!(scenario(&["printf"], &["lines"]));
    assert_eq!(run.line("lines").as_deref(), Some("short|<over 50>|after"), "{run:?}");
}

#[tokio::test]
async fn text_json_input_and_read() {
    let run = bounded!(scenario_with(
        &[
            "--allow-run=echo",
            "--allow-run=tr",
            "--allow-run=printf",
            "--allow-run=sh",
            "--dir=."
        ],
        &["decode"]
    ));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.value("json_name").as_deref(), Some("procbox"), "{run:?}");
    assert_eq!(run.value("json_n").as_deref(), Some("3"), "{run:?}");
    assert_eq!(
        run.value("bad_json_is_decode_error").as_deref(),
        Some("true"),
        "{run:?}"
    );
    assert_eq!(run.value("upper").as_deref(), Some("HELLO"), "{run:?}");
    assert_eq!(
        run.value("invalid_utf8_is_decode_error").as_deref(),
        Some("true"),
        "{run:?}"
    );
    assert_eq!(run.value("failure_names_cwd").as_deref(), Some("true"), "{run:?}");
}

#[tokio::test]
async fn waiting_for_any_child_and_with_a_deadline() {
    let run = bounded!(scenario(&["sleep"], &["wait-any"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.value("first").as_deref(), Some("1"), "the quick one: {run:?}");
    assert_eq!(run.line("slow_after_200ms").as_deref(), Some("None"), "{run:?}");
    assert_eq!(run.line("slow_after_kill").as_deref(), Some("Some(Some(9))"), "{run:?}");
}

#[tokio::test]
async fn a_queue_keeps_input_order_and_fails_fast_or_keeps_going() {
    let run = bounded!(scenario(&["sh", "echo", "false", "sleep"], &["queue"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.value("parallel_in_order").as_deref(),
        Some("0,1,2,3,4,5"),
        "{run:?}"
    );
    assert_eq!(
        run.value("fail_fast").as_deref(),
        Some("ok,failed,cancelled,cancelled"),
        "{run:?}"
    );
    assert_eq!(run.value("keep_going").as_deref(), Some("ok,failed,ok,ok"), "{run:?}");
}
