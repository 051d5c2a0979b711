//! The embedding example (`host/procbox/examples/embed.rs`) run as a user of the
//! library would run it: its prompt is asked, its authorizer narrows, its
//! observer logs, and the plugin's output is captured instead of printed.

#[path = "../../../host/procbox/examples/embed.rs"]
mod example;

use std::path::Path;

use procbox::{Answer, Outcome};
use procbox_tests::{bounded, guests};

#[tokio::test]
async fn the_prompt_is_asked_the_authorizer_narrows_and_the_output_is_captured() {
    // The user allows grep once, then also allows rm; the application's own
    // authorizer refuses rm all the same.
    let answers = vec![Answer::AllowOnce, Answer::AllowOnce];
    let report = bounded!(example::embed(Path::new(guests::DEMO), answers)).unwrap();

    assert_eq!(report.outcome, Outcome::Exited(0), "{}", report.plugin_stdout);
    // Asked exactly about what the policy does not grant: grep, then rm.
    assert_eq!(report.questions.len(), 2, "{:?}", report.questions);
    assert!(report.questions[0].contains("/grep "), "{:?}", report.questions);
    assert!(report.questions[1].contains("/rm -rf"), "{:?}", report.questions);
    // The demo saw rm refused, with the application's reason.
    assert!(
        report
            .plugin_stdout
            .contains("this editor never lets plugins delete files"),
        "{}",
        report.plugin_stdout
    );
    assert!(
        report.plugin_stdout.contains("All steps done"),
        "{}",
        report.plugin_stdout
    );
    // The log holds the final verdicts: grep ran, rm was refused.
    let log = report.activity.join("\n");
    assert!(log.contains("ran /") && log.contains("grep"), "{log}");
    assert!(log.contains("refused rm: denied"), "{log}");
    assert!(
        !log.contains("ran /usr/bin/rm") && !log.contains("ran /bin/rm"),
        "{log}"
    );
    // Every child that ran was reported as ended before `run` returned.
    let ran = report.activity.iter().filter(|l| l.starts_with("ran ")).count();
    let ended = report.activity.iter().filter(|l| l.contains(" ended: ")).count();
    assert_eq!((ran, ended), (4, 4), "{log}");
}

#[tokio::test]
async fn a_user_who_says_no_stops_the_plugin_at_that_step() {
    let answers = vec![Answer::Deny("not now".into())];
    let report = bounded!(example::embed(Path::new(guests::DEMO), answers)).unwrap();
    // The demo stops at its first error: grep was refused.
    assert_eq!(report.outcome, Outcome::Exited(1));
    assert_eq!(report.questions.len(), 1, "{:?}", report.questions);
    assert!(report
        .activity
        .iter()
        .any(|l| l.contains("refused by the host application: not now")));
}
