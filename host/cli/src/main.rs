//! The `procbox` command line: one module per concern.

// As in the library: one unsafe operation per `unsafe` block, each with
// its reason, and none unmarked inside an `unsafe fn`.
#![deny(unsafe_op_in_unsafe_fn, clippy::multiple_unsafe_ops_per_block)]

/// `writeln!` into a `String` of command output (see [`output::emit`]),
/// which cannot fail.
macro_rules! outln {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

mod args;
mod demo;
mod doctor;
mod explain;
mod failure;
mod fixes;
mod grants;
mod inspect;
mod manifest;
mod output;
mod progress;
mod prompt;
mod remembered;
mod scaffold;
mod self_docs;
mod signals;
mod worker;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use procbox::{process_tree, AuditLog, Outcome, RunOptions, Runtime, SpawnRequest, VerboseLog};

use args::{Cli, Commands, CompileArgs, ExplainArgs, RunArgs};
use failure::Failure;

/// How long the final sweep of adopted orphans may take.
const SWEEP_BOUND: std::time::Duration = std::time::Duration::from_secs(5);

fn main() -> ExitCode {
    // A throw-away child of `procbox doctor` (procbox's program started
    // anew, its role in argv[0]) does its one thing and nothing else.
    if let Some(code) = doctor::serve_child_if_asked() {
        return code;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version, and help in place of a missing subcommand.
        Err(err)
            if !err.use_stderr() || err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            err.exit()
        }
        Err(err) => return report(Failure::from_clap(&err, &meant_command())),
    };
    if let Commands::Worker(args) = &cli.command {
        return report(worker::exec(&args.args));
    }
    // Children (any process of the user) must not read procbox's
    // environment, with every token the user exported, through
    // /proc/PID/environ, nor ptrace it. Root's children still can (they
    // bypass the check); see the README.
    if let Err(e) = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable) {
        output::warning(format_args!(
            "cannot make procbox non-dumpable ({e}); children of your user can read its environment"
        ));
    }
    // Before any thread exists: descriptors inherited without close-on-exec
    // must not reach the plugin's children.
    if let Err(e) = process_tree::cloexec_inherited_fds() {
        output::warning(format_args!("cannot mark inherited descriptors close-on-exec: {e}"));
    }
    // The launcher of confined children, started now (procbox's program
    // exec'd anew) so that it loads and probes the kernel while procbox
    // reads the plugin; it would otherwise start at the first spawn.
    if matches!(cli.command, Commands::Run(_) | Commands::Demo) {
        if let Err(e) = procbox::start_launcher_early() {
            output::warning(format_args!("cannot start the launcher of children early: {e}"));
        }
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
            return report(Failure::procbox(
                anyhow::Error::new(e).context("cannot start the async runtime"),
            ))
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => report(failure),
    }
}

/// `procbox SUBCOMMAND` for the first argument that names a subcommand, else
/// `procbox`: where a rejected command line should look for help.
fn meant_command() -> String {
    use clap::CommandFactory;
    let cli = Cli::command();
    std::env::args_os()
        .skip(1)
        .find_map(|arg| {
            let arg = arg.to_str()?;
            cli.get_subcommands()
                .any(|sub| sub.get_name() == arg)
                .then(|| format!("procbox {arg}"))
        })
        .unwrap_or_else(|| "procbox".to_string())
}

/// Prints the failure (one line, and a hint) and returns its exit status.
fn report(failure: Failure) -> ExitCode {
    output::stderr_line(failure.render().trim_end());
    ExitCode::from(failure.status())
}

async fn dispatch(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Commands::Run(args) => run(args, cli.verbose).await,
        Commands::Explain(args) => explain(args),
        Commands::Inspect(args) => {
            // What inspect is asked about is broken: procbox's failure (125).
            let manifest = manifest::find(&args.plugin, args.manifest.as_deref())
                .map_err(|f| f.with_status(failure::EXIT_PROCBOX_FAILED))?;
            if args.as_flags {
                return inspect::as_flags(&args.plugin, manifest.as_ref());
            }
            // Inspecting always compiles; it never uses the cache.
            let runtime = Runtime::new()?.with_compile_hook(progress::compile_hook(None));
            inspect::inspect(&runtime, &args.plugin, manifest.as_ref())?;
            Ok(0)
        }
        Commands::EmbedManifest(args) => {
            output::emit(&manifest::embed(&args.plugin, &args.manifest, args.output.as_deref())?)?;
            Ok(0)
        }
        Commands::Compile(args) => compile(args),
        Commands::Demo => demo::demo(cli.verbose).await,
        Commands::Doctor(args) if args.require.is_empty() => doctor::doctor(),
        Commands::Doctor(args) => doctor::require::check(&doctor::require::parse(&args.require)?),
        Commands::Grants(command) => remembered::command(command),
        Commands::Worker(args) => Err(worker::exec(&args.args)),
        Commands::Completions(args) => {
            use clap::CommandFactory;
            output::emit_bytes(&self_docs::completions(args.shell, Cli::command()))?;
            Ok(0)
        }
        Commands::Man(args) => {
            use clap::CommandFactory;
            match &args.out_dir {
                Some(dir) => output::emit(&self_docs::write_man_pages(Cli::command(), dir)?)?,
                None => output::emit_bytes(&self_docs::man_page(Cli::command(), args.subcommand.as_deref())?)?,
            }
            Ok(0)
        }
        Commands::New(args) => {
            let here = std::env::current_dir().context("cannot find the current directory")?;
            scaffold::new_plugin(&here, &args.name, args.lang)?;
            let (build, wasm) = match args.lang {
                scaffold::Lang::Rust => (
                    "cargo build --release".to_string(),
                    format!("target/wasm32-wasip2/release/{}.wasm", args.name),
                ),
                scaffold::Lang::Python | scaffold::Lang::Js => {
                    ("./build.sh".to_string(), format!("{}.wasm", args.name))
                }
            };
            output::emit(&format!(
                "created {0}/\n  build: cd {0} && {build}\n  run:   procbox run {wasm} --allow-run echo\n  (the manifest, embedded in the plugin, lists what it asks to run: grant it with --allow-run, or all of it with --grant-requested)\n",
                args.name
            ))?;
            Ok(0)
        }
    }
}

/// A runtime, with the compilation cache unless `no_cache` (or there is no
/// home directory to put it in), that shows progress when compiling takes
/// a while; with the cache, `cached_note` says why it happens this time.
/// Trouble with the cache (a directory others may write, say) is a warning
/// on stderr.
fn runtime(no_cache: bool, cached_note: Option<&'static str>) -> anyhow::Result<Runtime> {
    let runtime = Runtime::new()?;
    Ok(match procbox::Cache::default_dir() {
        Some(dir) if !no_cache => runtime
            .with_cache_reporting(dir, |warning| output::warning(warning))
            .with_compile_hook(progress::compile_hook(cached_note)),
        _ => runtime.with_compile_hook(progress::compile_hook(None)),
    })
}

/// What the progress line says when a run compiles into the cache.
const FIRST_RUN: Option<&str> = Some("first run only");

fn compile(args: CompileArgs) -> Result<u8, Failure> {
    let runtime = runtime(false, None)?;
    let cache = runtime.cache().ok_or_else(|| {
        Failure::usage_msg("there is no cache directory: none of PROCBOX_CACHE_DIR, XDG_CACHE_HOME and HOME is set")
            .with_hint("set PROCBOX_CACHE_DIR to a writable directory")
    })?;
    let name = args.plugin.display().to_string();
    let bytes = std::fs::read(&args.plugin).map_err(|source| procbox::LoadError::Read {
        name: name.clone(),
        source,
    })?;
    let entry = cache.entry_path(&bytes);
    check_writable(cache, entry.parent().expect("entries live in a directory"))?;
    let started = std::time::Instant::now();
    let (_, origin) = runtime.compile_cached(&name, &bytes)?;
    // Loading also checks that it is a procbox plugin.
    runtime.load_bytes(&name, &bytes)?;
    match origin {
        procbox::Origin::Compiled if !entry.is_file() => {
            return Err(Failure::procbox(anyhow::anyhow!(
                "compiled {name}, but could not store it in the cache as {}",
                entry.display()
            ))
            .with_hint("set PROCBOX_CACHE_DIR to a writable directory"))
        }
        procbox::Origin::Compiled => {
            output::emit(&format!(
                "compiled {name} in {:.0?} into {}\n",
                started.elapsed(),
                entry.display()
            ))?;
        }
        procbox::Origin::Cached => {
            output::emit(&format!("{name} is already compiled: {}\n", entry.display()))?;
        }
    }
    Ok(0)
}

/// Fails unless the cache directory `dir` is private and files can be
/// created in it (it is created if need be), so that `compile` does not
/// compile in vain.
fn check_writable(cache: &procbox::Cache, dir: &std::path::Path) -> Result<(), Failure> {
    let probe = dir.join(format!(".probe-{}", std::process::id()));
    cache
        .ensure_dir()
        .and_then(|()| std::fs::OpenOptions::new().write(true).create_new(true).open(&probe))
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| {
            Failure::procbox(anyhow::Error::new(e).context(format!("cannot use the cache directory {}", dir.display())))
                .with_hint("set PROCBOX_CACHE_DIR to a directory of your own that only you can write")
        })
}

async fn run(args: RunArgs, verbose: bool) -> Result<u8, Failure> {
    // Opened once, for the embedded manifest, the broker's hash and loading:
    // the broker is told the hash of the very bytes that run, which an
    // unchanged plugin's record gives without reading them (`PluginFile`).
    // A read error is reported where loading would report it, after the
    // grants.
    let runtime = runtime(args.no_cache, FIRST_RUN)?;
    let plugin_file = runtime.open_plugin(&args.plugin);
    let inside = plugin_file.as_ref().ok().map(procbox::PluginFile::embedded_manifest);
    let manifest = manifest::find_in(&args.plugin, inside, args.manifest.as_deref())?;
    if args.grant_requested {
        grant_requested(&args.plugin, manifest.as_ref())?;
    }
    let name = args.plugin.display().to_string();
    let broker_socket = std::env::var_os("PROCBOX_PERMISSION_BROKER").filter(|s| !s.is_empty());
    let prompt = (broker_socket.is_none() && !args.no_prompt)
        .then(prompt::TerminalPrompt::on_terminal)
        .flatten();
    let store = remembered::store();
    // The plugin's identity, only for what needs it: the broker, the
    // prompt's "always", a grant store to look in. Read errors are
    // reported below, where loading reports them.
    let needs_hash = broker_socket.is_some() || prompt.is_some() || store.as_ref().is_some_and(|s| s.dir().exists());
    let identity = match &plugin_file {
        Ok(file) if needs_hash => Some(procbox::grants::broker::PluginIdentity {
            name: name.clone(),
            blake3: file.blake3_hex(),
        }),
        _ => None,
    };
    let broker = match (broker_socket, &identity) {
        (Some(socket), Some(identity)) => Some(permission_broker(socket, identity.clone())?),
        _ => None,
    };
    // What the user remembered for exactly these bytes.
    let plugin_about = identity
        .as_ref()
        .map(|identity| remembered::about(&args.plugin, &identity.blake3, manifest.as_ref()));
    let remembered = match (&store, &plugin_about) {
        (Some(store), Some(plugin)) => remembered::for_run(store, plugin, prompt.is_some()),
        _ => None,
    };
    let policy = args
        .grants
        .policy_granting(manifest.as_ref(), args.grant_requested, remembered)?;
    report_confinement(&policy, verbose);
    let mut options = RunOptions::new(Arc::new(policy))
        .args(args.args)
        .fix_style(Arc::new(fixes::Flags));
    if verbose {
        options = options.observer(Arc::new(VerboseLog));
    }
    if let Some(path) = &args.audit {
        let log = AuditLog::open(path).map_err(|e| {
            Failure::procbox(anyhow::Error::new(e).context(format!("cannot open the audit log {}", path.display())))
                .with_hint("give --audit a file in a directory that exists and that you can write")
        })?;
        options = options.observer(Arc::new(log));
    }
    let mut plugin_file = plugin_file?;
    if let Some(broker) = broker {
        options = options.escalation(Arc::new(broker));
    } else if let Some(mut prompt) = prompt {
        if let (Some(store), Some(plugin)) = (store, plugin_about) {
            prompt = prompt.remembering(store, plugin.about);
        }
        options = options.escalation(Arc::new(prompt));
    }
    let (plugin, _) = runtime.load_plugin(&mut plugin_file)?;
    execute(&runtime, &plugin, options).await
}

/// The permission broker at `socket` (`PROCBOX_PERMISSION_BROKER`), told
/// about `plugin` (see `procbox::grants::broker`); `PROCBOX_PERMISSION_BROKER_DEADLINE`
/// (e.g. `5s`) changes its deadline.
fn permission_broker(
    socket: std::ffi::OsString,
    plugin: procbox::grants::broker::PluginIdentity,
) -> Result<procbox::grants::broker::Broker, Failure> {
    let mut broker = procbox::grants::broker::Broker::new(socket, plugin);
    if let Some(deadline) = std::env::var_os("PROCBOX_PERMISSION_BROKER_DEADLINE") {
        let deadline = humantime::parse_duration(&deadline.to_string_lossy()).map_err(|e| {
            Failure::usage_msg(format!("PROCBOX_PERMISSION_BROKER_DEADLINE: {e}"))
                .with_hint("write a duration such as 5s or 500ms")
        })?;
        broker = broker.deadline(deadline);
    }
    Ok(broker)
}

/// Says once on stderr what best effort could not enforce, and with `-v`
/// what children run under. A refusal under `require` is the run's error.
fn report_confinement(policy: &procbox::Policy, verbose: bool) {
    report_containment(policy, verbose);
    let Ok(enforcement) = policy.enforcement() else {
        return;
    };
    if !enforcement.missing.is_empty() {
        output::warning(format_args!(
            "confinement is partial on this kernel (--confine=best-effort): {}",
            enforcement.missing.join("; ")
        ));
    }
    if verbose {
        tracing::info!(target: "procbox::verbose", "confinement: {}", enforcement.summary());
    }
}

/// Says once on stderr when best effort falls back to process groups, and
/// with `-v` what contains children.
fn report_containment(policy: &procbox::Policy, verbose: bool) {
    let Ok(containment) = policy.containment() else {
        return;
    };
    if containment.missing.is_some() {
        output::warning(format_args!("containment: {}", containment.summary()));
    }
    if verbose {
        tracing::info!(target: "procbox::verbose", "containment: {}", containment.summary());
        if policy.limits().die_with_host == Some(true) {
            let how = containment.death_signal_summary();
            tracing::info!(target: "procbox::verbose", "die-with-procbox: {how}");
        }
    }
}

/// Says on stderr what `--grant-requested` grants; refuses without a
/// manifest, which would grant nothing the user could see.
fn grant_requested(plugin: &std::path::Path, manifest: Option<&manifest::Manifest>) -> Result<(), Failure> {
    let Some(manifest) = manifest else {
        return Err(Failure::usage_msg(format!(
            "--grant-requested: {} has no manifest (none embedded, none beside it)",
            plugin.display()
        ))
        .with_hint("give its manifest with --manifest FILE, or grant with --allow-run"));
    };
    let flags = manifest::as_flags(&manifest.doc);
    output::stderr_line(&format!(
        "procbox: granting what {} requests: {}",
        manifest.origin.display(),
        if flags.is_empty() {
            "nothing".to_string()
        } else {
            flags.join(" ")
        }
    ));
    Ok(())
}

fn explain(args: ExplainArgs) -> Result<u8, Failure> {
    let manifest = args.manifest.as_deref().map(manifest::from_file).transpose()?;
    let policy = args.grants.policy(manifest.as_ref())?;
    let (program, rest) = args.command.split_first().expect("clap requires the command");
    let request = SpawnRequest {
        program: program.clone(),
        args: rest.to_vec(),
        env: args.env,
        cwd: args.cwd,
        stdio: Default::default(),
        measure_tree: false,
    };
    explain::explain(policy, request)
}

/// Runs the plugin until it ends or procbox receives one of the
/// [`signals::shutdown_signal`]; then kills whatever its children left behind.
async fn execute(runtime: &Runtime, plugin: &procbox::Plugin, options: RunOptions) -> Result<u8, Failure> {
    // Grandchildren that leave their process group (setsid, daemons) are
    // re-parented to procbox instead of init, so the sweep below finds them.
    if let Err(e) = process_tree::become_subreaper() {
        output::warning(format_args!(
            "cannot become the child subreaper ({e}); processes that leave their group may outlive the plugin"
        ));
    }
    let stop = signals::shutdown_signal()?;
    let reaper = signals::reap_adopted_zombies_on_sigchld()?;
    let outcome = runtime.run_until(plugin, options, stop).await;
    reaper.abort();
    let adopted = process_tree::kill_adopted(SWEEP_BOUND).await;
    if adopted > 0 {
        tracing::info!("killed {adopted} processes that had left their children's process groups");
    }
    let refused = process_tree::cgroup::refused_forks_so_far();
    if refused > 0 {
        output::warning(format_args!(
            "the children's tree reached --max-processes: {refused} fork{} failed (EAGAIN)",
            if refused == 1 { "" } else { "s" }
        ));
    }
    match outcome {
        Ok(Outcome::Exited(code)) => Ok(exit_byte(code)),
        Ok(Outcome::Stopped(code)) => {
            output::stderr_line("procbox: stopped by a signal; the plugin's children were killed");
            Ok(exit_byte(code))
        }
        // Out of time exits with 124 (see `Failure`).
        Err(err) => Err(err.into()),
    }
}

/// An exit code as the shell sees it (the low 8 bits).
fn exit_byte(code: i32) -> u8 {
    (code & 0xff) as u8
}
