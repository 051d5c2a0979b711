//! The bench plugin (guests/rust/bench) runs every scenario and prints a
//! well-formed result line. Correctness only: each scenario runs in its
//! tiny `--quick` mode and nothing here measures time. In process
//! ([`run_guest`]): nothing here needs the binary.

use std::collections::HashMap;

use procbox_tests::{guests, run_guest, Outcome, TEST_DEADLINE};

const DD_RULE: &str = "dd if=/dev/zero bs=1M count=* status=none";

/// Runs the bench plugin with `args`, granting each of `rules`
/// (`--allow-run` rules), within the test deadline.
async fn bench(rules: &[&str], args: &[&str]) -> Outcome {
    let policy = |p| {
        rules
            .iter()
            .fold(p, |p: procbox::PolicyBuilder, rule| p.allow_run(rule))
    };
    tokio::time::timeout(TEST_DEADLINE, run_guest(guests::BENCH, policy, args))
        .await
        .expect("test deadline")
}

/// The fields of the run's one `result scenario=NAME ...` line; every field
/// but the scenario must be a non-negative number.
fn result(run: &Outcome, scenario: &str) -> HashMap<String, f64> {
    run.assert_passed();
    let lines: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("result ")).collect();
    assert_eq!(lines.len(), 1, "one result line: {run:?}");
    let mut words = lines[0].split_whitespace().skip(1);
    assert_eq!(words.next(), Some(format!("scenario={scenario}").as_str()), "{run:?}");
    words
        .map(|word| {
            let (key, value) = word
                .split_once('=')
                .unwrap_or_else(|| panic!("{word:?} is not key=value"));
            let number: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("{key}={value:?} is not a number in {:?}", lines[0]));
            assert!(number.is_finite() && number >= 0.0, "{key}={value}");
            (key.to_string(), number)
        })
        .collect()
}

fn assert_latency(fields: &HashMap<String, f64>, n: f64) {
    assert_eq!(fields["n"], n, "{fields:?}");
    assert!(fields["min_ns"] > 0.0, "{fields:?}");
    assert!(fields["min_ns"] <= fields["median_ns"], "{fields:?}");
    assert!(fields["median_ns"] <= fields["p90_ns"], "{fields:?}");
    assert!(fields["p90_ns"] <= fields["total_ns"], "{fields:?}");
}

#[tokio::test]
async fn noop_exits_cleanly_without_a_result() {
    let run = bench(&[], &["noop"]).await;
    run.assert_passed();
    assert!(!run.stdout.contains("result "), "{run:?}");
}

#[tokio::test]
async fn spawn_true_reports_latencies() {
    let run = bench(&["/bin/true"], &["spawn_true", "--quick"]).await;
    assert_latency(&result(&run, "spawn_true"), 5.0);
}

#[tokio::test]
async fn capture_echo_reports_latencies() {
    let run = bench(&["echo hello"], &["capture_echo", "--quick"]).await;
    assert_latency(&result(&run, "capture_echo"), 5.0);
}

#[tokio::test]
async fn burst_reports_a_rate() {
    let run = bench(&["/bin/true"], &["burst", "--quick"]).await;
    let fields = result(&run, "burst");
    assert_eq!(fields["n"], 10.0, "{fields:?}");
    assert!(fields["spawned_ns"] <= fields["total_ns"], "{fields:?}");
    assert!(fields["rate_per_s"] > 0.0, "{fields:?}");
}

#[tokio::test]
async fn read_reads_every_byte() {
    let run = bench(&[DD_RULE], &["read", "--quick"]).await;
    let fields = result(&run, "read");
    assert_eq!(fields["bytes"], (4u64 << 20) as f64, "{fields:?}");
    assert!(fields["gb_per_s"] > 0.0, "{fields:?}");
}

#[tokio::test]
async fn pipeline_counts_what_the_shell_counts() {
    let run = bench(&["seq 1 100000", "grep 7", "wc -l"], &["pipeline", "--quick"]).await;
    let fields = result(&run, "pipeline");
    assert_latency(&fields, 3.0);
    let native = std::process::Command::new("sh")
        .args(["-c", "seq 1 100000 | grep 7 | wc -l"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let expected: f64 = String::from_utf8_lossy(&native.stdout).trim().parse().unwrap();
    assert_eq!(fields["lines"], expected, "{fields:?}");
}

#[tokio::test]
async fn hold_keeps_every_child_running() {
    let run = bench(&["sleep 1000", "/bin/true"], &["hold", "--quick"]).await;
    let fields = result(&run, "hold");
    assert_eq!(fields["n"], 10.0, "{fields:?}");
    assert_eq!(fields["running"], 10.0, "{fields:?}");
}

#[tokio::test]
async fn an_ungranted_scenario_reports_the_denial() {
    let run = bench(&[], &["spawn_true", "--quick"]).await;
    assert!(matches!(run.code, Ok(1)), "{run:?}");
    assert!(
        run.stdout.contains("error scenario=spawn_true message=denied"),
        "{run:?}"
    );
    assert!(!run.stdout.contains("result "), "{run:?}");
}
