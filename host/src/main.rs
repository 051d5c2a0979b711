//! The `procbox` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use procbox::{Outcome, PolicyBuilder, RunOptions, Runtime};

/// procbox's own failures (a bad plugin, a bad grant, a trap) exit with this
/// code, as `env`, `timeout` and `docker run` do; a plugin's exit code
/// passes through unchanged.
const EXIT_PROCBOX_FAILED: u8 = 125;

#[derive(Parser)]
#[command(
    name = "procbox",
    version,
    about = "Run WebAssembly plugins that script OS processes, under limits you grant."
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run a plugin. It may start only the programs you grant.
    #[command(after_help = "Examples:\n  procbox run report.wasm --allow-run git --allow-run wc -- --since 1.week")]
    Run(RunArgs),
    /// Run the bundled demo plugin (it grants itself echo, cat, grep and tee).
    Demo,
}

#[derive(Args)]
struct RunArgs {
    /// The plugin: a WebAssembly component built for wasm32-wasip2.
    plugin: PathBuf,
    /// Allow the plugin to run PROGRAM with any arguments. A bare name is
    /// resolved through your PATH now; the grant is the file it resolves to.
    /// Repeatable. Nothing is allowed otherwise.
    #[arg(long = "allow-run", value_name = "PROGRAM")]
    allow_run: Vec<String>,
    /// Arguments passed to the plugin (write them after `--`).
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("PROCBOX_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(e),
    }
}

fn fail(err: anyhow::Error) -> ExitCode {
    eprintln!("procbox: error: {err:#}");
    ExitCode::from(EXIT_PROCBOX_FAILED)
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Commands::Run(args) => run(args).await,
        Commands::Demo => demo().await,
    }
}

async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let mut policy = PolicyBuilder::new();
    for program in args.allow_run {
        policy = policy.allow_run(program);
    }
    let policy = policy.build()?;
    let runtime = Runtime::new()?;
    let plugin = runtime.load_file(&args.plugin)?;
    execute(
        &runtime,
        &plugin,
        RunOptions {
            policy: Arc::new(policy),
            args: args.args,
        },
    )
    .await
}

/// The demo's grants: exactly the programs the bundled plugin uses.
#[cfg(feature = "demo")]
const DEMO_GRANTS: &[&str] = &["echo", "cat", "grep", "tee"];

#[cfg(feature = "demo")]
async fn demo() -> anyhow::Result<u8> {
    const DEMO_WASM: &[u8] = include_bytes!(env!("PROCBOX_DEMO_WASM"));
    let mut policy = PolicyBuilder::new();
    for program in DEMO_GRANTS {
        policy = policy.allow_run(*program);
    }
    let policy = policy
        .build()
        .context("the demo needs echo, cat, grep and tee on PATH")?;
    let granted: Vec<String> = policy.programs().iter().map(|g| g.path.display().to_string()).collect();
    println!("procbox demo: the bundled plugin may run only {}", granted.join(", "));
    let runtime = Runtime::new()?;
    let plugin = runtime.load_bytes("demo.wasm", DEMO_WASM)?;
    execute(
        &runtime,
        &plugin,
        RunOptions {
            policy: Arc::new(policy),
            args: vec![],
        },
    )
    .await
}

#[cfg(not(feature = "demo"))]
async fn demo() -> anyhow::Result<u8> {
    anyhow::bail!("this procbox was built without the `demo` feature")
}

/// Runs the plugin until it ends or procbox receives SIGINT or SIGTERM.
async fn execute(runtime: &Runtime, plugin: &procbox::Plugin, options: RunOptions) -> anyhow::Result<u8> {
    let stop = shutdown_signal()?;
    match runtime.run_until(plugin, options, stop).await? {
        Outcome::Exited(code) => Ok(exit_byte(code)),
        Outcome::Stopped(code) => {
            eprintln!("procbox: stopped by signal; the plugin's children were killed");
            Ok(exit_byte(code))
        }
    }
}

/// Resolves to the shell's exit code for the first SIGINT (130) or SIGTERM (143).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = i32>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => 128 + libc::SIGINT,
            _ = terminate.recv() => 128 + libc::SIGTERM,
        }
    })
}

/// An exit code as the shell sees it (the low 8 bits).
fn exit_byte(code: i32) -> u8 {
    (code & 0xff) as u8
}
