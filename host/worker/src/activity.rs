//! The `procbox.run` activity: one plugin run, through the library's one
//! run path (gate, confinement, containment, limits, audit), many at once
//! in one worker, each with its own policy, output and stop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use procbox::grants::broker::{Broker, PluginIdentity};
use procbox::wasmtime_wasi::p2::pipe::MemoryInputPipe;
use procbox::{AuditLog, Decision, Outcome, RunError, RunOptions, Runtime, SpawnError, SpawnRequest};
use procbox::{ExitEvent, Observer};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tokio::sync::watch;

use crate::capture::{Capture, Keep};
use crate::contract::{progress, Failure, Input, Output};
use crate::fixes::WorkerToml;
use crate::served::{Catalog, Served};

/// How often a run tells Temporal it is alive (and learns of a cancel).
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(500);

/// How long before the activity's deadline a run is stopped (at most a
/// tenth of the time it has): the library's final reaping takes up to 5 s.
const DEADLINE_MARGIN: Duration = Duration::from_secs(6);

/// Aborts a task when dropped, on every path out of the activity (a panic
/// included, which the SDK catches: the heartbeats must not go on).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What every run of one worker shares.
pub struct ProcboxActivities {
    /// The engine, kept warm.
    pub runtime: Runtime,
    /// The plugins, compiled.
    pub catalog: Catalog,
    /// The identity results name.
    pub identity: String,
    /// Bytes kept of each of stdout and stderr.
    pub output_cap: usize,
    /// `--audit`: every decision and exit of every run.
    pub audit: Option<Arc<AuditLog>>,
    /// The permission broker's socket (`PROCBOX_PERMISSION_BROKER`).
    pub broker: Option<std::ffi::OsString>,
    /// Becomes true when the drain after SIGTERM ends: every run stops.
    pub stop_all: watch::Receiver<bool>,
}

/// Why the worker stopped a run before the plugin ended.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Cancelled,
    Timeout(Duration),
    Drained,
}

#[activities]
impl ProcboxActivities {
    /// Runs the plugin a workflow names and returns its output.
    #[activity(name = crate::contract::RUN)]
    pub async fn run(self: Arc<Self>, ctx: ActivityContext, input: serde_json::Value) -> Result<Output, ActivityError> {
        let started = Instant::now();
        let input = Input::parse(input)?;
        // On the wall clock that Temporal's history and the plugin read, for
        // an operator's timeline (and the time to a plugin's `main` in
        // benches/warm_start.py).
        let wall_ns = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        tracing::debug!(plugin = %input.plugin, wall_ns, "run started");
        let served = self.catalog.get(&input.plugin, input.blake3.as_deref())?;
        if *self.stop_all.borrow() {
            return Err(Failure::WorkerStopped(
                "the worker is shutting down; another worker will take the retry".into(),
            )
            .into());
        }
        let run = Run::new(&self, served, &input);
        let _heartbeats = AbortOnDrop(tokio::spawn(heartbeat(ctx.clone(), run.progress())));
        let stopped = Arc::new(Mutex::new(None));
        let stop = stop_when(&ctx, &input, self.stop_all.clone(), stopped.clone());
        let result = self.runtime.run_until(&served.plugin, run.options.clone(), stop).await;
        let stop = *stopped.lock().unwrap_or_else(|e| e.into_inner());
        let output = run.output(&self, served, started);
        conclude(result, stop, output, &input)
    }
}

/// One run's own parts: its options, captures and child count.
struct Run {
    options: RunOptions,
    stdout: Capture,
    stderr: Capture,
    children: Arc<ChildCount>,
}

impl Run {
    fn new(worker: &ProcboxActivities, served: &Served, input: &Input) -> Run {
        let stdout = Capture::new(Keep::Head, worker.output_cap);
        let stderr = Capture::new(Keep::Tail, worker.output_cap);
        let children = Arc::new(ChildCount::default());
        let stdin = input.stdin.clone().unwrap_or_default();
        let (out, err) = (stdout.clone(), stderr.clone());
        let mut options = RunOptions::new(served.policy.clone())
            .args(input.args.clone())
            .fix_style(Arc::new(WorkerToml {
                plugin: served.name.clone(),
                config: worker.catalog.config.clone(),
            }))
            .observer(children.clone())
            .wasi(move |wasi| {
                wasi.stdin(MemoryInputPipe::new(stdin.clone().into_bytes()))
                    .stdout(out.clone())
                    .stderr(err.clone());
            });
        if let Some(audit) = &worker.audit {
            options = options.observer(audit.clone());
        }
        if let Some(socket) = &worker.broker {
            let identity = PluginIdentity {
                name: served.name.clone(),
                blake3: served.blake3.clone(),
            };
            options = options.escalation(Arc::new(Broker::new(socket, identity)));
        }
        Run {
            options,
            stdout,
            stderr,
            children,
        }
    }

    /// What a heartbeat reports, read when it is sent.
    fn progress(&self) -> impl Fn() -> serde_json::Value + Send + 'static {
        let (stdout, stderr, children) = (self.stdout.clone(), self.stderr.clone(), self.children.clone());
        move || progress(stdout.written(), stderr.written(), children.running())
    }

    fn output(&self, worker: &ProcboxActivities, served: &Served, started: Instant) -> Output {
        let (stdout, out_cut) = self.stdout.text();
        let (stderr, err_cut) = self.stderr.text();
        Output {
            exit_code: 0,
            stdout,
            stderr,
            truncated: out_cut || err_cut,
            duration_ms: started.elapsed().as_millis().try_into().unwrap_or(u64::MAX),
            plugin: served.name.clone(),
            blake3: served.blake3.clone(),
            worker: worker.identity.clone(),
        }
    }
}

/// Sends a heartbeat with the run's progress every [`HEARTBEAT_EVERY`]
/// until aborted; a cancel reaches the activity through their replies.
async fn heartbeat(ctx: ActivityContext, progress: impl Fn() -> serde_json::Value) {
    let mut ticks = tokio::time::interval(HEARTBEAT_EVERY);
    loop {
        ticks.tick().await;
        if let Err(e) = ctx.record_heartbeat(progress()).await {
            tracing::warn!("cannot record a heartbeat: {e}");
        }
    }
}

/// Completes (with a shell-like code the library ignores here) when the
/// run must stop: a cancel, its time, or the end of the worker's drain;
/// records which in `stopped`.
fn stop_when(
    ctx: &ActivityContext,
    input: &Input,
    mut stop_all: watch::Receiver<bool>,
    stopped: Arc<Mutex<Option<Stop>>>,
) -> impl std::future::Future<Output = i32> + Send + 'static {
    let ctx = ctx.clone();
    let timeout = time_left(input, ctx.info().deadline);
    async move {
        let sleep = async {
            match timeout {
                Some(timeout) => tokio::time::sleep(timeout).await,
                None => std::future::pending().await,
            }
        };
        let reason = tokio::select! {
            () = ctx.cancelled() => Stop::Cancelled,
            () = sleep => Stop::Timeout(timeout.unwrap_or_default()),
            _ = stop_all.wait_for(|stop| *stop) => Stop::Drained,
        };
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
        137
    }
}

/// The input's `timeout_s`, or the time to the activity's deadline if that
/// comes first, less a margin so that the plugin's tree is gone and the
/// worker's `ProcboxTimeout` reaches the server before Temporal times the
/// attempt out itself.
fn time_left(input: &Input, deadline: Option<SystemTime>) -> Option<Duration> {
    let asked = input.timeout_s.map(Duration::from_secs_f64);
    let until_deadline = deadline.map(|d| {
        let left = d.duration_since(SystemTime::now()).unwrap_or_default();
        left.saturating_sub(DEADLINE_MARGIN.min(left / 10))
    });
    match (asked, until_deadline) {
        (Some(a), Some(d)) => Some(a.min(d)),
        (a, d) => a.or(d),
    }
}

/// The activity's result from how the run ended.
fn conclude(
    result: Result<Outcome, RunError>,
    stop: Option<Stop>,
    mut output: Output,
    input: &Input,
) -> Result<Output, ActivityError> {
    let name = &output.plugin;
    match (result, stop) {
        (Ok(Outcome::Exited(code)), _) => {
            output.exit_code = code;
            match code != 0 && input.check {
                true => Err(Failure::Exit(Box::new(output)).into()),
                false => Ok(output),
            }
        }
        (Ok(Outcome::Stopped(_)), Some(Stop::Cancelled) | None) => Err(ActivityError::cancelled()),
        (Ok(Outcome::Stopped(_)), Some(Stop::Timeout(after))) => Err(Failure::Timeout(format!(
            "plugin {name} ran out of time after {} ({}); it was stopped and its children were killed",
            humantime::format_duration(Duration::from_millis(after.as_millis().try_into().unwrap_or(u64::MAX))),
            match input.timeout_s {
                Some(_) if after.as_secs_f64() + 0.001 >= input.timeout_s.unwrap_or(0.0) => "timeout_s",
                _ => "the activity's start-to-close timeout, less a margin to report it",
            }
        ))
        .into()),
        (Ok(Outcome::Stopped(_)), Some(Stop::Drained)) => Err(Failure::WorkerStopped(format!(
            "plugin {name} was stopped because worker {} shut down and its drain ended; its children were killed",
            output.worker
        ))
        .into()),
        (Err(e @ RunError::OutOfTime { .. }), _) => Err(Failure::Timeout(e.to_string()).into()),
        // A granted directory missing here, say: another worker may do.
        (Err(e @ (RunError::Unconfinable { .. } | RunError::Instantiate { .. })), _) => {
            Err(Failure::NotStarted(e.to_string()).into())
        }
        (Err(e @ RunError::Aborted { .. }), _) => Err(Failure::WorkerStopped(e.to_string()).into()),
        (Err(e), _) => Err(Failure::Trap(e.to_string()).into()),
    }
}

/// Counts the run's children that started and were not reaped yet.
#[derive(Default)]
struct ChildCount {
    started: AtomicU64,
    ended: AtomicU64,
}

impl ChildCount {
    fn running(&self) -> u64 {
        let ended = self.ended.load(Ordering::Relaxed);
        self.started.load(Ordering::Relaxed).saturating_sub(ended)
    }
}

impl Observer for ChildCount {
    fn on_verdict(&self, _request: &SpawnRequest, verdict: Result<&Decision, &SpawnError>) {
        if verdict.is_ok() {
            self.started.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_exit(&self, _exit: &ExitEvent<'_>) {
        self.ended.fetch_add(1, Ordering::Relaxed);
    }
}
