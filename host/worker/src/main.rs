//! `procbox-worker` (run as `procbox worker`): serves plugin runs as
//! Temporal activities of type `procbox.run`, and the built-in workflow of
//! the same name, on one task queue. The plugins and their grants are the
//! operator's (`worker.toml`); a workflow names a plugin and gives it
//! arguments and input, never grants.
//!
//! A crate of its own so that Temporal's dependency tree is built only by
//! those who build the worker.

// As in the library: one unsafe operation per `unsafe` block, each with
// its reason, and none unmarked inside an `unsafe fn`.
#![deny(unsafe_op_in_unsafe_fn, clippy::multiple_unsafe_ops_per_block)]

mod activity;
mod capture;
mod contract;
mod fixes;
mod served;
mod shutdown;
mod workflow;

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use procbox::{process_tree, AuditLog, Runtime};
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};
use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder};
use temporalio_sdk::{Worker, WorkerOptions};

use activity::ProcboxActivities;
use served::Catalog;

/// Serve procbox plugin runs as Temporal activities (`procbox.run`).
#[derive(Parser, Debug)]
#[command(name = "procbox worker", bin_name = "procbox worker", version)]
struct Args {
    /// The Temporal frontend, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    temporal: String,
    /// The Temporal namespace.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// The task queue to poll; every worker on it must serve the same plugins.
    #[arg(long, value_name = "QUEUE")]
    task_queue: String,
    /// The plugins this worker serves and their grants (`[plugins.NAME]`).
    #[arg(long, value_name = "worker.toml")]
    config: PathBuf,
    /// Plugin runs at once (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    max_concurrent: Option<usize>,
    /// How this worker names itself to Temporal and in results (default PID@HOST).
    #[arg(long, value_name = "ID")]
    identity: Option<String>,
    /// After SIGTERM or SIGINT, how long running plugins may finish before they are stopped.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    drain: Duration,
    /// Appends every decision and child exit of every run to FILE (JSON lines).
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
}

/// Writes the worker's man page (roff), named `procbox-worker` like the
/// pages of procbox's other subcommands.
fn print_man_page() -> ExitCode {
    use clap::CommandFactory;
    use std::io::Write;
    let page = Args::command().name("procbox-worker");
    let mut out = Vec::new();
    let written = clap_mangen::Man::new(page)
        .render(&mut out)
        .and_then(|()| std::io::stdout().write_all(&out));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("procbox worker: cannot write the man page: {e}");
            ExitCode::from(1)
        }
    }
}

/// The first bytes of stdout and the last of stderr a result keeps: two
/// of them stay well under Temporal's 2 MB payload limit.
const OUTPUT_CAP: usize = 256 * 1024;

/// `procbox man worker` asks for the worker's page with this, the only
/// argument (the flags are defined here, not in `procbox`).
const MAN_PAGE: &str = "--man-page";

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if argv.len() == 1 && argv[0] == MAN_PAGE {
        return print_man_page();
    }
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            // clap's message up to its usage, on one line.
            let text = err.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("procbox worker: {}", message.join(" ").trim_start_matches("error: "));
            eprintln!("procbox worker: see `procbox worker --help`");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = prepare_process() {
        eprintln!("procbox worker: {e:#}");
        return ExitCode::from(1);
    }
    init_logs();
    let tokio = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(tokio) => tokio,
        Err(e) => {
            eprintln!("procbox worker: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match tokio.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("procbox worker: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// What must happen while the process has one thread: as `procbox run`
/// does (see its `main`).
fn prepare_process() -> anyhow::Result<()> {
    if let Err(e) = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable) {
        tracing::warn!("cannot make the worker non-dumpable ({e}); children of its user can read its environment");
    }
    process_tree::cloexec_inherited_fds().context("cannot mark inherited descriptors close-on-exec")?;
    procbox::start_launcher_early().context("cannot start the launcher of children")?;
    Ok(())
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROCBOX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .init();
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let runtime = runtime()?;
    let catalog = Catalog::load(&runtime, &args.config)?;
    let identity = args.identity.clone().unwrap_or_else(default_identity);
    let audit = match &args.audit {
        Some(path) => {
            Some(Arc::new(AuditLog::open(path).with_context(|| {
                format!("cannot open the audit log {}", path.display())
            })?))
        }
        None => None,
    };
    // Grandchildren that leave their process group are re-parented to the
    // worker and reaped as they exit; what is left is swept at exit only
    // (a sweep per run would kill other runs' processes).
    if let Err(e) = process_tree::become_subreaper() {
        tracing::warn!(
            "cannot become the child subreaper ({e}); processes that leave their group may outlive their plugin"
        );
    }
    let reaper = shutdown::reap_adopted_zombies()?;
    let (stop_all, stop_rx) = tokio::sync::watch::channel(false);
    let plugins = catalog.len();
    let activities = ProcboxActivities {
        runtime,
        catalog,
        identity: identity.clone(),
        output_cap: OUTPUT_CAP,
        audit,
        broker: std::env::var_os("PROCBOX_PERMISSION_BROKER").filter(|s| !s.is_empty()),
        stop_all: stop_rx,
    };
    let client = connect(&args.temporal, &args.namespace).await?;
    let mut worker = Worker::new(
        &temporalio_sdk::Runtime::from_current_tokio(Default::default())?,
        client,
        worker_options(&args, identity.clone(), activities)?,
    )
    .context("cannot create the Temporal worker")?;
    let signals = shutdown::on_signals(worker.shutdown_handle(), args.drain, stop_all)?;
    tracing::info!(
        "worker {identity} serves {plugins} plugin(s) on task queue {} of {} at {}",
        args.task_queue,
        args.namespace,
        args.temporal
    );
    let result = worker.run().await;
    signals.abort();
    reaper.abort();
    let adopted = process_tree::kill_adopted(Duration::from_secs(2)).await;
    if adopted > 0 {
        tracing::info!("killed {adopted} processes that had left their plugin's process groups");
    }
    result.context("the Temporal worker stopped")?;
    tracing::info!("worker {identity} stopped; nothing of its runs is left running");
    Ok(())
}

/// The engine, with the compile cache where `procbox run` keeps it.
fn runtime() -> anyhow::Result<Runtime> {
    let runtime = Runtime::new()?.with_compile_hook(Box::new(|name: &str, size: usize| {
        tracing::info!("compiling {name} ({} MB), once", size >> 20);
        Box::new(()) as Box<dyn std::any::Any>
    }));
    Ok(match procbox::Cache::default_dir() {
        Some(dir) => runtime.with_cache_reporting(dir, |warning| tracing::warn!("{warning}")),
        None => runtime,
    })
}

async fn connect(address: &str, namespace: &str) -> anyhow::Result<Client> {
    let url = Url::from_str(&format!("http://{address}"))
        .with_context(|| format!("--temporal {address}: give HOST:PORT, e.g. 127.0.0.1:7233"))?;
    let connection = Connection::connect(ConnectionOptions::new(url).build())
        .await
        .with_context(|| format!("cannot connect to Temporal at {address}: is the server running there?"))?;
    Ok(Client::new(connection, ClientOptions::new(namespace).build())?)
}

fn worker_options(args: &Args, identity: String, activities: ProcboxActivities) -> anyhow::Result<WorkerOptions> {
    let runs = args
        .max_concurrent
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    anyhow::ensure!(runs > 0, "--max-concurrent 0: give at least 1");
    let tuner = TunerHolder::builder()
        .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(100))
        .activity_task_slot_supplier(FixedSizeSlotSupplier::new(runs))
        .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(runs))
        .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(1))
        .build();
    Ok(WorkerOptions::new(args.task_queue.clone())
        .register_activities(activities)
        .register_workflow::<workflow::RunWorkflow>()?
        .client_identity_override(identity)
        .tuner(temporalio_sdk::runtime::worker_tuner::WorkerTuner::from(tuner))
        // Heartbeats reach the server at least every second, so a cancel
        // reaches the run within about a second (Temporal's default
        // throttle is 0.8 × the heartbeat timeout).
        .max_heartbeat_throttle_interval(Duration::from_secs(1))
        .default_heartbeat_throttle_interval(Duration::from_secs(1))
        // The worker stops what is left itself when the drain ends; this
        // is the SDK's own cancel, a little later, should that fail.
        .graceful_shutdown_period(args.drain + Duration::from_secs(5))
        .build())
}

/// `PID@HOST`, as Temporal's SDKs name a worker by default.
fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}@{}", std::process::id(), host.trim())
}
