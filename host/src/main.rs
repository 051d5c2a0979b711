//! The `procbox` command line.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use procbox::{
    containment, AuditLog, Outcome, PolicyBuilder, RunError, RunOptions, Runtime, SpawnHook, SpawnRequest, VerboseLog,
};

use cli::grants::{manifest_for, GrantArgs};

/// Exit status for a wrong command line, grant or policy file.
const EXIT_USAGE: u8 = 2;
/// The plugin ran out of its time budget (as GNU `timeout` reports it).
const EXIT_OUT_OF_TIME: u8 = 124;
/// How long the final sweep of adopted orphans may take.
const SWEEP_BOUND: std::time::Duration = std::time::Duration::from_secs(5);
/// procbox's own failures (a bad plugin, a trap) exit with this code, as
/// `env`, `timeout` and `docker run` do; a plugin's exit code passes
/// through unchanged.
const EXIT_PROCBOX_FAILED: u8 = 125;

#[derive(Parser)]
#[command(
    name = "procbox",
    version,
    about = "Run WebAssembly plugins that script OS processes, under limits you grant."
)]
struct Cli {
    /// Print each command the plugin runs, and how it ended, on stderr.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run a plugin. It may start only what you grant.
    #[command(
        after_help = "Examples:\n  procbox run report.wasm --allow-run 'git log **' --allow-run 'wc -l *' -- --since 1.week\n  procbox run report.wasm --grants grants.toml --audit audit.jsonl"
    )]
    Run(RunArgs),
    /// Dry-run one spawn request against the grants: prints `allowed` or
    /// `denied` with the rule, and exits 0 (allowed) or 3 (denied).
    #[command(
        after_help = "Examples:\n  procbox explain --allow-run git --deny-run 'git push **' -- git push origin\n  procbox explain --grants grants.toml --cwd src --env LANG=C -- wc -l main.rs"
    )]
    Explain(ExplainArgs),
    /// Compile a plugin ahead of time into the cache, so that runs start fast.
    #[command(
        after_help = "The cache is $PROCBOX_CACHE_DIR, else $XDG_CACHE_HOME/procbox, else ~/.cache/procbox.\n\nExample:\n  procbox compile report.wasm"
    )]
    Compile(CompileArgs),
    /// Show what a plugin imports and exports, and what its manifest requests.
    #[command(after_help = "Example:\n  procbox inspect report.wasm")]
    Inspect(InspectArgs),
    /// Run the bundled demo plugin (it grants itself echo, cat, grep and tee).
    Demo,
    /// Create a plugin crate NAME in the current directory, with the SDK
    /// vendored, ready for `cargo build --release`.
    #[command(after_help = "Example:\n  procbox new repo-tool && cd repo-tool && cargo build --release")]
    New(NewArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The plugin: a WebAssembly component built for wasm32-wasip2.
    plugin: PathBuf,
    #[command(flatten)]
    grants: GrantArgs,
    /// The plugin's manifest (default: PLUGIN.manifest.toml beside the
    /// plugin, if present). Requests it does not list are denied.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Append a JSON line per spawn decision and per exit to FILE.
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// Compile the plugin afresh instead of using the compilation cache.
    #[arg(long)]
    no_cache: bool,
    /// Arguments passed to the plugin (write them after `--`).
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

#[derive(Args)]
struct ExplainArgs {
    #[command(flatten)]
    grants: GrantArgs,
    /// Check against this plugin manifest too.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// The working directory the plugin would ask for.
    #[arg(long, value_name = "DIR")]
    cwd: Option<String>,
    /// A variable the plugin would set (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_var)]
    env: Vec<(String, String)>,
    /// The program and its arguments (after `--`).
    #[arg(last = true, required = true, value_name = "PROGRAM [ARGS]")]
    command: Vec<String>,
}

#[derive(Args)]
struct NewArgs {
    /// The crate's name (and directory).
    name: String,
}

#[derive(Args)]
struct CompileArgs {
    /// The plugin to compile.
    plugin: PathBuf,
}

#[derive(Args)]
struct InspectArgs {
    /// The plugin.
    plugin: PathBuf,
    /// Its manifest (default: PLUGIN.manifest.toml beside it, if present).
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not NAME=VALUE"))
}

/// How a command failed, and so which exit status it gets.
enum Failure {
    Usage(anyhow::Error),
    OutOfTime(anyhow::Error),
    Procbox(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure::Procbox(err.into())
    }
}

fn usage(err: impl Into<anyhow::Error>) -> Failure {
    Failure::Usage(err.into())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any thread exists: descriptors inherited without close-on-exec
    // must not reach the plugin's children.
    if let Err(e) = containment::cloexec_inherited_fds() {
        eprintln!("procbox: warning: cannot mark inherited descriptors close-on-exec: {e}");
    }
    let mut filter = tracing_subscriber::EnvFilter::from_env("PROCBOX_LOG");
    if cli.verbose {
        filter = filter.add_directive("procbox::verbose=info".parse().expect("a valid directive"));
    }
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            return report(Failure::Procbox(
                anyhow::Error::new(e).context("cannot start the async runtime"),
            ))
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => report(failure),
    }
}

fn report(failure: Failure) -> ExitCode {
    let (err, code) = match failure {
        Failure::Usage(err) => (err, EXIT_USAGE),
        Failure::OutOfTime(err) => (err, EXIT_OUT_OF_TIME),
        Failure::Procbox(err) => (err, EXIT_PROCBOX_FAILED),
    };
    eprintln!("procbox: error: {err:#}");
    ExitCode::from(code)
}

async fn dispatch(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Commands::Run(args) => run(args, cli.verbose).await,
        Commands::Explain(args) => explain(args),
        Commands::Inspect(args) => {
            let manifest = manifest_for(&args.plugin, args.manifest.as_deref());
            cli::inspect::inspect(&runtime(false)?, &args.plugin, manifest.as_deref())?;
            Ok(0)
        }
        Commands::Compile(args) => compile(args),
        Commands::Demo => demo().await,
        Commands::New(args) => {
            let here = std::env::current_dir().context("cannot find the current directory")?;
            cli::scaffold::new_plugin(&here, &args.name).map_err(usage)?;
            println!("created {0}/: cd {0} && cargo build --release", args.name);
            Ok(0)
        }
    }
}

/// A runtime, with the compilation cache unless `no_cache` (or there is no
/// home directory to put it in).
fn runtime(no_cache: bool) -> anyhow::Result<Runtime> {
    let runtime = Runtime::new()?;
    Ok(match procbox::cache::Cache::default_dir() {
        Some(dir) if !no_cache => runtime.with_cache(dir),
        _ => runtime,
    })
}

fn compile(args: CompileArgs) -> Result<u8, Failure> {
    let runtime = runtime(false)?;
    let cache = runtime
        .cache()
        .ok_or_else(|| usage(anyhow::anyhow!("no cache directory: set PROCBOX_CACHE_DIR or HOME")))?;
    let name = args.plugin.display().to_string();
    let bytes = std::fs::read(&args.plugin).with_context(|| format!("cannot read plugin {name}"))?;
    let started = std::time::Instant::now();
    let (_, origin) = runtime.compile_cached(&name, &bytes)?;
    // Loading also checks that it is a procbox plugin.
    runtime.load_bytes(&name, &bytes)?;
    let entry = cache.entry_path(&bytes);
    match origin {
        procbox::cache::Origin::Compiled => {
            println!("compiled {name} in {:.0?} into {}", started.elapsed(), entry.display())
        }
        procbox::cache::Origin::Cached => println!("{name} is already compiled: {}", entry.display()),
    }
    Ok(0)
}

async fn run(args: RunArgs, verbose: bool) -> Result<u8, Failure> {
    let manifest = manifest_for(&args.plugin, args.manifest.as_deref());
    let policy = args.grants.policy(manifest.as_deref()).map_err(usage)?;
    let mut hooks: Vec<Arc<dyn SpawnHook>> = Vec::new();
    if verbose {
        hooks.push(Arc::new(VerboseLog));
    }
    if let Some(path) = &args.audit {
        let log = AuditLog::open(path).with_context(|| format!("cannot open the audit log {}", path.display()))?;
        hooks.push(Arc::new(log));
    }
    let runtime = runtime(args.no_cache)?;
    let plugin = runtime.load_file(&args.plugin)?;
    let options = RunOptions {
        policy: Arc::new(policy),
        args: args.args,
        hooks,
    };
    execute(&runtime, &plugin, options).await
}

fn explain(args: ExplainArgs) -> Result<u8, Failure> {
    let policy = args.grants.policy(args.manifest.as_deref()).map_err(usage)?;
    let (program, rest) = args.command.split_first().expect("clap requires the command");
    let request = SpawnRequest {
        program: program.clone(),
        args: rest.to_vec(),
        env: args.env,
        cwd: args.cwd,
        stdio: Default::default(),
    };
    Ok(cli::explain::explain(policy, request))
}

/// The demo's grants: exactly the programs the bundled plugin uses.
#[cfg(feature = "demo")]
const DEMO_GRANTS: &[&str] = &["echo", "cat", "grep", "tee"];

#[cfg(feature = "demo")]
async fn demo() -> Result<u8, Failure> {
    const DEMO_WASM: &[u8] = include_bytes!(env!("PROCBOX_DEMO_WASM"));
    let policy = DEMO_GRANTS
        .iter()
        .fold(PolicyBuilder::new(), |builder, program| builder.allow_run(program))
        .build()
        .context("the demo needs echo, cat, grep and tee on PATH")?;
    let granted: Vec<String> = policy
        .grants()
        .allow_rules()
        .iter()
        .map(|r| r.path.display().to_string())
        .collect();
    println!("procbox demo: the bundled plugin may run only {}", granted.join(", "));
    let runtime = runtime(false)?;
    let plugin = runtime.load_bytes("demo.wasm", DEMO_WASM)?;
    execute(&runtime, &plugin, RunOptions::new(Arc::new(policy))).await
}

#[cfg(not(feature = "demo"))]
async fn demo() -> Result<u8, Failure> {
    Err(usage(anyhow::anyhow!(
        "this procbox was built without the `demo` feature"
    )))
}

/// Runs the plugin until it ends or procbox receives SIGINT, SIGTERM or
/// SIGHUP; then kills whatever its children left behind.
async fn execute(runtime: &Runtime, plugin: &procbox::Plugin, options: RunOptions) -> Result<u8, Failure> {
    // Grandchildren that leave their process group (setsid, daemons) are
    // re-parented to procbox instead of init, so the sweep below finds them.
    if let Err(e) = containment::become_subreaper() {
        tracing::warn!(
            "cannot become the child subreaper ({e}); processes that leave their group may outlive the plugin"
        );
    }
    let stop = shutdown_signal()?;
    let outcome = runtime.run_until(plugin, options, stop).await;
    let adopted = containment::kill_adopted(SWEEP_BOUND).await;
    if adopted > 0 {
        tracing::info!("killed {adopted} processes that had left their children's process groups");
    }
    match outcome {
        Ok(Outcome::Exited(code)) => Ok(exit_byte(code)),
        Ok(Outcome::Stopped(code)) => {
            eprintln!("procbox: stopped by a signal; the plugin's children were killed");
            Ok(exit_byte(code))
        }
        Err(err @ RunError::OutOfTime { .. }) => Err(Failure::OutOfTime(err.into())),
        Err(err) => Err(err.into()),
    }
}

/// Resolves to the shell's exit code (128 + signal) for the first SIGINT,
/// SIGTERM or SIGHUP.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = i32>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => 128 + libc::SIGINT,
            _ = terminate.recv() => 128 + libc::SIGTERM,
            _ = hangup.recv() => 128 + libc::SIGHUP,
        }
    })
}

/// An exit code as the shell sees it (the low 8 bits).
fn exit_byte(code: i32) -> u8 {
    (code & 0xff) as u8
}
