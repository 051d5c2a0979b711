//! A real plugin spawns, streams and waits on real processes through the
//! real `procbox` binary.

use procbox_tests::{bounded, scenario};

#[tokio::test]
async fn echo_output_is_captured() {
    let run = bounded!(scenario(&["echo"], &["echo"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.line("stdout").as_deref(), Some("\"hello world\\n\""), "{run:?}");
    assert_eq!(run.value("code").as_deref(), Some("Some(0)"));
    assert_eq!(run.value("duration_ns_positive").as_deref(), Some("true"));
}

#[tokio::test]
async fn ten_mib_round_trip_through_cat() {
    let run = bounded!(scenario(&["cat"], &["cat-round-trip", "10"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.value("sent").as_deref(), Some("10485760"));
    assert_eq!(run.value("received").as_deref(), Some("10485760"));
    assert_eq!(run.value("equal").as_deref(), Some("true"));
}

#[tokio::test]
async fn std_read_and_write_traits_stream_while_the_child_runs() {
    let run = bounded!(scenario(&["cat"], &["read-write-traits"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    for i in 0..3 {
        assert!(
            run.stdout.contains(&format!("reply=\"line {i}\\n\" running=true")),
            "{run:?}"
        );
    }
    assert!(run.stdout.contains("rest=\"\" code=Some(0)"), "{run:?}");
}

#[tokio::test]
async fn one_mib_on_stdout_and_stderr_are_read_concurrently() {
    let run = bounded!(scenario(&["tee"], &["both-streams", "1"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.value("stdout").as_deref(), Some("1048576"));
    assert_eq!(run.value("stderr").as_deref(), Some("1048576"));
    assert_eq!(run.value("equal").as_deref(), Some("true"));
}

#[tokio::test]
async fn exit_codes_are_reported() {
    for code in ["0", "3", "255"] {
        let run = bounded!(scenario(&["sh"], &["exit-code", code]));
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.value("code"), Some(format!("Some({code})")), "{run:?}");
        assert_eq!(run.value("signal").as_deref(), Some("None"));
        assert_eq!(run.value("success"), Some((code == "0").to_string()));
    }
}

#[tokio::test]
async fn death_by_signal_is_reported_as_a_signal() {
    let run = bounded!(scenario(&["sh"], &["signalled"]));
    assert_eq!(run.value("code").as_deref(), Some("None"), "{run:?}");
    assert_eq!(run.value("signal").as_deref(), Some("Some(9)"), "{run:?}");
}

#[tokio::test]
async fn signals_reach_the_child_and_repeat_signals_are_harmless() {
    let run = bounded!(scenario(&["sleep"], &["send-signal"]));
    assert_eq!(run.value("signal").as_deref(), Some("Some(15)"), "{run:?}");
    assert_eq!(run.value("second_signal").as_deref(), Some("ok"), "{run:?}");
}

#[tokio::test]
async fn kill_stops_the_child_and_is_idempotent() {
    let run = bounded!(scenario(&["sleep"], &["kill"]));
    assert_eq!(run.value("signal").as_deref(), Some("Some(9)"), "{run:?}");
    assert_eq!(run.value("second_kill").as_deref(), Some("ok"), "{run:?}");
}

#[tokio::test]
async fn try_wait_tells_running_from_finished() {
    let run = bounded!(scenario(&["sleep"], &["try-wait"]));
    assert_eq!(run.value("before").as_deref(), Some("None"), "{run:?}");
    assert_eq!(run.value("after").as_deref(), Some("Some(Some(9))"), "{run:?}");
}

#[tokio::test]
async fn a_timeout_stops_the_child_and_says_so() {
    let run = bounded!(scenario(&["sleep"], &["timeout"]));
    assert_eq!(run.value("timed_out").as_deref(), Some("true"), "{run:?}");
    assert_eq!(run.value("signal").as_deref(), Some("Some(15)"), "{run:?}");
}

#[tokio::test]
async fn a_failing_command_is_an_error_with_its_stderr() {
    let run = bounded!(scenario(&["sh"], &["checked-failure"]));
    assert!(
        run.stdout
            .contains(r#"message=`sh -c "echo one >&2; echo two >&2; exit 3"` failed: exit code 3"#),
        "{run:?}"
    );
    assert!(run.stdout.contains("stderr ends with:\none\ntwo"), "{run:?}");
}

#[tokio::test]
async fn output_with_piped_stdin_and_no_input_closes_stdin() {
    let run = bounded!(scenario(&["cat"], &["empty-stdin"]));
    assert_eq!(run.value("empty_stdin_out").as_deref(), Some("\"\""), "{run:?}");
}

#[tokio::test]
async fn the_plugin_exit_code_becomes_procbox_exit_code() {
    let run = bounded!(scenario(&[], &["exit", "7"]));
    assert_eq!(run.code, Some(7), "{run:?}");
}
