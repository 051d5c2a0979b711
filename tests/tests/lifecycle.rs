//! Nothing a plugin starts outlives it: not when it drops a handle, not
//! when it ends without waiting, not when it traps.

use procbox_tests::{process_exists, scenario};

const TEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

fn pid(run: &procbox_tests::Run, key: &str) -> u32 {
    run.value(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {run:?}"))
}

#[tokio::test]
async fn dropping_a_child_kills_and_reaps_it_at_once() {
    let run = tokio::time::timeout(TEST_DEADLINE, scenario(&["sleep", "ps"], &["drop-kills"]))
        .await
        .expect("test deadline");
    assert_eq!(run.code, Some(0), "{run:?}");
    // Checked inside the plugin, while procbox still runs: `ps` finds no
    // process with that pid, not even a zombie.
    assert_eq!(run.value("ps_code").as_deref(), Some("Some(1)"), "{run:?}");
    assert_eq!(run.value("ps_out").as_deref(), Some("\"\""), "{run:?}");
    assert!(!process_exists(pid(&run, "pid")));
}

#[tokio::test]
async fn ending_without_waiting_kills_the_child_and_its_grandchildren() {
    let run = tokio::time::timeout(TEST_DEADLINE, scenario(&["sh"], &["leave-running"]))
        .await
        .expect("test deadline");
    assert_eq!(run.code, Some(0), "{run:?}");
    let (child, grandchild) = (pid(&run, "child"), pid(&run, "grandchild"));
    assert!(!process_exists(child), "child {child} survived the plugin");
    assert!(
        procbox_tests::exits_within(grandchild, std::time::Duration::from_secs(10)),
        "grandchild {grandchild} survived the plugin"
    );
}

#[tokio::test]
async fn a_trapping_plugin_still_has_its_children_killed() {
    let run = tokio::time::timeout(TEST_DEADLINE, scenario(&["sleep"], &["trap-with-child"]))
        .await
        .expect("test deadline");
    assert_eq!(run.code, Some(125), "a trap is procbox's failure: {run:?}");
    assert!(run.stderr.contains("trapped"), "{run:?}");
    assert!(!process_exists(pid(&run, "child")));
}
