//! Many workers and their lifecycle: two on one task queue both take work,
//! SIGTERM drains running plugins, and a workflow written in Python runs a
//! plugin through the activity.

use super::*;

#[test]
fn two_workers_on_one_task_queue_both_take_work() {
    let Some(temporal) = Temporal::start() else { return };
    let _one = Worker::start(&temporal, "shared", "w-a", &["--max-concurrent", "1"]);
    let _two = Worker::start(&temporal, "shared", "w-b", &["--max-concurrent", "1"]);
    // Each run holds its worker's only slot for two seconds: four runs
    // started at once cannot all go to one worker.
    let ids: Vec<String> = (0..4).map(|i| format!("shared-{i}")).collect();
    for id in &ids {
        temporal.start_workflow("shared", id, json!({"plugin": "job", "args": ["run", "sleep", "1"]}));
    }
    let workers: std::collections::BTreeSet<String> = ids
        .iter()
        .map(|id| {
            let result = temporal.result(id);
            let worker = result.pointer("/result/worker").or_else(|| result.get("worker"));
            worker
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{id}: {result:#}"))
                .to_string()
        })
        .collect();
    assert_eq!(workers.into_iter().collect::<Vec<_>>(), ["w-a", "w-b"]);
}

#[test]
fn sigterm_drains_running_plugins_then_stops_the_rest_and_exits_0() {
    let Some(temporal) = Temporal::start() else { return };
    let q = "drain";
    let mut worker = Worker::start(&temporal, q, "w-drain", &["--drain", "5s"]);
    // One run that ends within the drain, one that never ends; both run
    // when the SIGTERM comes.
    temporal.start_workflow(
        q,
        "drain-short",
        json!({"plugin": "job", "args": ["run", "sleep", "2.5"]}),
    );
    temporal.start_workflow(q, "drain-long", json!({"plugin": "job", "args": ["hold", "1002"]}));
    wait_for_sleeps("2.5", 1);
    wait_for_sleeps("1002", 3);
    // SAFETY: a plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(worker.pid(), libc::SIGTERM) }, 0);
    worker.wait_for_line("shutting down");
    assert_eq!(
        worker.exit_code(Duration::from_secs(30)),
        Some(0),
        "{}",
        worker.log.join("\n")
    );
    assert!(sleeps("1002").is_empty(), "left running: {:?}", sleeps("1002"));
    // The workflows' own tasks (after their activities ended) need a worker
    // on the queue: in a fleet, the other workers; here, a new one.
    let _after = Worker::start(&temporal, q, "w-after", &[]);
    let short = temporal.result("drain-short");
    let short = short.get("result").unwrap_or(&short);
    assert_eq!(
        (&short["exit_code"], &short["worker"]),
        (&json!(0), &json!("w-drain")),
        "{short:#}"
    );
    let long = temporal.result("drain-long");
    assert!(long.to_string().contains("ProcboxWorkerStopped"), "{long:#}");
}

#[test]
fn a_python_workflow_runs_a_plugin_through_the_activity() {
    let Some(temporal) = Temporal::start() else { return };
    let _worker = Worker::start(&temporal, "q-python", "w-python", &[]);
    let script = repo().join("host/worker/examples/run_plugin.py");
    let run = |input: Value| {
        Command::new(temporal.venv.join("bin/python"))
            .arg(&script)
            .args(["--address", &temporal.address, "--task-queue", "q-python"])
            .arg(input.to_string())
            .stdin(Stdio::null())
            .output()
            .expect("run run_plugin.py")
    };
    let out = run(json!({"plugin": "job", "args": ["hello", "py"]}));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(result["stdout"], "hello from a worker: args=[\"py\"] stdin=\"\"\n");
    let failed = run(json!({"plugin": "job", "args": ["fail", "4"]}));
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&failed.stderr).trim(),
        "ProcboxExit: plugin job exited with 4: failing on purpose"
    );
}
