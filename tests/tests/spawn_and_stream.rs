//! A real plugin spawns, streams and waits on real processes. Each guest
//! checks what it saw (see its file in guests/plugins/scenarios/src/bin);
//! these run in process ([`run_guest`]), except where the `procbox` binary
//! itself is under test.

use procbox_tests::{bounded, guests, procbox_run, run_guest};

#[tokio::test]
async fn echo_output_is_captured() {
    bounded!(run_guest(guests::ECHO, |p| p.allow_run("echo"), &[])).assert_passed();
}

#[tokio::test]
async fn ten_mib_round_trip_through_cat() {
    bounded!(run_guest(guests::CAT_ROUND_TRIP, |p| p.allow_run("cat"), &["10"])).assert_passed();
}

#[tokio::test]
async fn std_read_and_write_traits_stream_while_the_child_runs() {
    bounded!(run_guest(guests::READ_WRITE_TRAITS, |p| p.allow_run("cat"), &[])).assert_passed();
}

#[tokio::test]
async fn one_mib_on_stdout_and_stderr_are_read_concurrently() {
    bounded!(run_guest(guests::BOTH_STREAMS, |p| p.allow_run("tee"), &["1"])).assert_passed();
}

#[tokio::test]
async fn exit_codes_are_reported() {
    for code in ["0", "3", "255"] {
        bounded!(run_guest(guests::EXIT_CODE, |p| p.allow_run("sh"), &[code])).assert_passed();
    }
}

#[tokio::test]
async fn death_by_signal_is_reported_as_a_signal() {
    bounded!(run_guest(guests::SIGNALLED, |p| p.allow_run("sh"), &[])).assert_passed();
}

#[tokio::test]
async fn signals_reach_the_child_and_repeat_signals_are_harmless() {
    bounded!(run_guest(guests::SEND_SIGNAL, |p| p.allow_run("sleep"), &[])).assert_passed();
}

#[tokio::test]
async fn kill_stops_the_child_and_is_idempotent() {
    bounded!(run_guest(guests::KILL, |p| p.allow_run("sleep"), &[])).assert_passed();
}

#[tokio::test]
async fn try_wait_tells_running_from_finished() {
    bounded!(run_guest(guests::TRY_WAIT, |p| p.allow_run("sleep"), &[])).assert_passed();
}

#[tokio::test]
async fn a_timeout_stops_the_child_and_says_so() {
    bounded!(run_guest(guests::TIMEOUT, |p| p.allow_run("sleep"), &[])).assert_passed();
}

#[tokio::test]
async fn a_failing_command_is_an_error_with_its_stderr() {
    bounded!(run_guest(guests::CHECKED_FAILURE, |p| p.allow_run("sh"), &[])).assert_passed();
}

#[tokio::test]
async fn output_with_piped_stdin_and_no_input_closes_stdin() {
    bounded!(run_guest(guests::EMPTY_STDIN, |p| p.allow_run("cat"), &[])).assert_passed();
}

#[tokio::test]
async fn a_guest_that_fails_a_check_fails_its_run() {
    // The harness itself: a guest whose check fails does not pass. Here
    // `exit-code 3` runs `sh -c "exit 3"` but the policy lets nothing run,
    // so the guest's `?` ends it with exit code 1 and the error on stderr.
    let run = bounded!(run_guest(guests::EXIT_CODE, |p| p, &["3"]));
    assert!(matches!(run.code, Ok(1)), "{run:?}");
    assert!(run.stderr.starts_with("error: denied"), "{run:?}");
}

#[tokio::test]
async fn the_plugin_exit_code_becomes_procbox_exit_code() {
    // The binary: its exit status is the plugin's.
    let run = bounded!(procbox_run(guests::EXIT, &[], &["7"]));
    assert_eq!(run.code, Some(7), "{run:?}");
}
