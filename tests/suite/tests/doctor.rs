//! `procbox doctor --require LIST`: an entrypoint's fail-closed check.
//! Exit 0 when every named mechanism is enforced here, 1 with one line
//! naming each one that is not, 2 for a name it does not know. A missing
//! mechanism is simulated with the probe's `PROCBOX_PRETEND_*` variables
//! (which only lower what the probe found) or, for cgroups, by running as
//! `nobody`, who cannot write this machine's cgroup hierarchies.

use std::path::Path;

use procbox_tests::{bounded, procbox, procbox_with_env, Run};

const ALL: &str = "landlock,seccomp,pidns,cgroup";

/// Variables for procbox's environment.
type Env<'a> = &'a [(&'a str, &'a Path)];

/// The lines of `text` that say `name` is required and not enforced.
fn missing<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let prefix = format!("procbox doctor: required {name} is not enforced here: ");
    text.lines().filter(|l| l.starts_with(&prefix)).collect()
}

/// The lines of `text` that say `name` is required and enforced.
fn met<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let prefix = format!("procbox doctor: required {name} is enforced here: ");
    text.lines().filter(|l| l.starts_with(&prefix)).collect()
}

/// Whether the full report says both tree limits work here (root on the
/// test machines; not where no cgroup hierarchy is writable).
async fn cgroups_here() -> bool {
    let run = bounded!(procbox(&["doctor"]));
    run.stdout.contains("yes --max-processes") && run.stdout.contains("yes --max-tree-memory")
}

#[tokio::test]
async fn required_and_present_exits_0_with_a_line_each() {
    // The machines the tests run on have Landlock ABI 3+, seccomp and PID
    // namespaces (the probe's and the namespace's unit tests say so too).
    let run = bounded!(procbox(&["doctor", "--require", "landlock,seccomp,pidns"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    for name in ["landlock", "seccomp", "pidns"] {
        assert_eq!(met(&run.stdout, name).len(), 1, "{name}: {run:?}");
    }
    assert_eq!(run.stderr, "", "{run:?}");
    // Only the requirements: not the whole report.
    assert!(!run.stdout.contains("what confinement does not stop"), "{run:?}");

    let run = bounded!(procbox(&["doctor", "--require", ALL]));
    if cgroups_here().await {
        assert_eq!(run.code, Some(0), "{run:?}");
        let lines = met(&run.stdout, "cgroup");
        assert_eq!(lines.len(), 1, "{run:?}");
        // Made and joined for real, and removed after.
        assert!(lines[0].contains("made, limited and joined just now"), "{run:?}");
    } else {
        eprintln!("no writable cgroup hierarchy here: cgroup counts as missing");
        assert_eq!(run.code, Some(1), "{run:?}");
        assert_eq!(missing(&run.stderr, "cgroup").len(), 1, "{run:?}");
    }
}

#[tokio::test]
async fn each_missing_requirement_exits_1_and_is_named_on_a_line_of_its_own() {
    let one = Path::new("1");
    // (requirement, what simulates its absence, what the line says)
    let cases: [(&str, Env, &str); 4] = [
        ("landlock", &[("PROCBOX_PRETEND_LANDLOCK_ABI", Path::new("0"))], "ABI 3"),
        // ABI 1 and 2 work but lack truncation: not enough for the grants.
        ("landlock", &[("PROCBOX_PRETEND_LANDLOCK_ABI", Path::new("2"))], "ABI 3"),
        (
            "seccomp",
            &[("PROCBOX_PRETEND_NO_SECCOMP", one)],
            "PROCBOX_PRETEND_NO_SECCOMP",
        ),
        ("pidns", &[("PROCBOX_PRETEND_NO_PIDNS", one)], "PID namespace"),
    ];
    for (name, env, why) in cases {
        let run = bounded!(procbox_with_env(env, &["doctor", "--require", name]));
        assert_eq!(run.code, Some(1), "{name}: {run:?}");
        let lines = missing(&run.stderr, name);
        assert_eq!(lines.len(), 1, "{name}: {run:?}");
        assert!(lines[0].contains(why), "{name}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{name}: {run:?}");
    }
    // All three at once: three lines, and what is still present is said
    // to be so.
    let env = [
        ("PROCBOX_PRETEND_LANDLOCK_ABI", Path::new("0")),
        ("PROCBOX_PRETEND_NO_SECCOMP", one),
        ("PROCBOX_PRETEND_NO_PIDNS", one),
    ];
    let run = bounded!(procbox_with_env(&env, &["doctor", "--require", ALL]));
    assert_eq!(run.code, Some(1), "{run:?}");
    for name in ["landlock", "seccomp", "pidns"] {
        assert_eq!(missing(&run.stderr, name).len(), 1, "{name}: {run:?}");
        assert!(met(&run.stdout, name).is_empty(), "{name}: {run:?}");
    }
    // A requirement not asked for is not checked: pidns alone still passes
    // with no Landlock.
    let env = [("PROCBOX_PRETEND_LANDLOCK_ABI", Path::new("0"))];
    let run = bounded!(procbox_with_env(&env, &["doctor", "--require", "pidns"]));
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[tokio::test]
async fn cgroup_is_missing_for_a_user_who_cannot_create_one() {
    // nobody cannot write the cgroup hierarchies here (as in
    // containment.rs's refused tree limit): the requirement fails closed.
    if !procbox_tests::can_run_as_nobody() {
        return;
    }
    let run = bounded!(tokio::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(procbox_tests::procbox_bin())
        .args(["doctor", "--require", "cgroup"])
        .stdin(std::process::Stdio::null())
        .output())
    .unwrap();
    let run = Run {
        code: run.status.code(),
        stdout: String::from_utf8_lossy(&run.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&run.stderr).into_owned(),
    };
    assert_eq!(run.code, Some(1), "{run:?}");
    let lines = missing(&run.stderr, "cgroup");
    assert_eq!(lines.len(), 1, "{run:?}");
    assert!(
        lines[0].contains("not writable by this user") && lines[0].contains("--max-processes"),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_bad_name_exits_2_with_one_line_listing_the_valid_ones() {
    for list in [
        "landlock,selinux",
        "",
        "landlock,",
        "LANDLOCK",
        "pid-ns",
        "landlock;seccomp",
    ] {
        let run = bounded!(procbox(&["doctor", "--require", list]));
        assert_eq!(run.code, Some(2), "{list:?}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{list:?}: {run:?}");
        assert!(
            run.stderr.starts_with("procbox: error: --require: ")
                && run.stderr.contains("landlock, seccomp, pidns, cgroup"),
            "{list:?}: {run:?}"
        );
        assert_eq!(run.stdout, "", "nothing is checked: {run:?}");
        assert!(!run.stderr.contains("panicked"), "{run:?}");
    }
    let run = bounded!(procbox(&["doctor", "--require"]));
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
}

#[tokio::test]
async fn doctor_without_require_still_prints_the_whole_report() {
    let run = bounded!(procbox(&["doctor"]));
    assert!(run.stdout.contains("what confinement does not stop"), "{run:?}");
    assert!(!run.stdout.contains("procbox doctor: required"), "{run:?}");
}
