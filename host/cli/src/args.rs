//! The command line as clap parses it: `procbox`'s subcommands, their
//! flags and the examples `--help` prints. `main.rs` dispatches on them;
//! completions and man pages are made from the same definitions
//! (`self_docs.rs`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::grants::GrantArgs;

// The examples in `--help`. Each works as written in a directory that holds
// the example plugin it names (guests/rust/examples/, built into
// target/guests/wasm32-wasip2/release) with its manifest beside it; paths
// under target/ and guests/ are from the root of procbox's repository.

const EXAMPLES: &str = "\
Examples:
  procbox demo
  procbox run fastest.wasm --allow-run sleep -- 3 1 2
  procbox explain --allow-run git --deny-run 'git push **' -- git push origin
  procbox new my-plugin";

const RUN_EXAMPLES: &str = "\
Examples:
  procbox run sysinfo.wasm --allow-run uname --allow-run id --allow-run ls --allow-env LC_ALL=C
  procbox run fastest.wasm --allow-run 'sleep *' --max-plugin-time 1m -- 3 1 2
  procbox run checksums.wasm --allow-run 'sha256sum *' --audit audit.jsonl -- /etc/hostname /etc/os-release
  procbox run repo-report.wasm --dir . --allow-run git --allow-run sort --allow-run 'uniq -c' --allow-run wc -- .";

const EXPLAIN_EXAMPLES: &str = "\
Examples:
  procbox explain --allow-run git --deny-run 'git push **' -- git push origin
  procbox explain --allow-run 'wc -l *' --dir . --cwd . -- wc -l README.md
  procbox explain --allow-run 'sort -n' --allow-env 'LC_ALL=C' --env LC_ALL=C -- sort -n";

const COMPILE_EXAMPLES: &str = "\
The cache is $PROCBOX_CACHE_DIR, else $XDG_CACHE_HOME/procbox, else ~/.cache/procbox.
It must be private (yours, mode 0700 when procbox creates it): its entries are
machine code that procbox runs.

Examples:
  procbox compile sysinfo.wasm
  PROCBOX_CACHE_DIR=~/.cache/procbox-ci procbox compile sysinfo.wasm";

const INSPECT_EXAMPLES: &str = "\
Examples:
  procbox inspect sysinfo.wasm
  procbox inspect target/guests/wasm32-wasip2/release/sysinfo.wasm --manifest guests/rust/examples/sysinfo/sysinfo.manifest.toml";

const DEMO_EXAMPLES: &str = "\
Examples:
  procbox demo
  procbox -v demo    # also prints each command it runs, and how it ended";

const DOCTOR_EXAMPLES: &str = "\
Examples:
  procbox doctor
  procbox doctor --require landlock,seccomp,pidns,cgroup    # exits 1, naming each one missing";

const GRANTS_EXAMPLES: &str = "\
Remembered grants live in $PROCBOX_CONFIG_DIR/grants, else
$XDG_CONFIG_HOME/procbox/grants, else ~/.config/procbox/grants, one file per
plugin, named by the plugin's BLAKE3 hash. A changed plugin (another hash at
the same path) does not get them until you confirm.

Examples:
  procbox grants list
  procbox grants show chores.wasm
  procbox grants revoke chores.wasm '/usr/bin/git log **'
  procbox grants edit chores.wasm
  procbox grants confirm ./chores.wasm";

const NEW_EXAMPLES: &str = "\
Examples:
  procbox new --lang python repo-tool && cd repo-tool && ./build.sh && procbox run repo-tool.wasm --allow-run echo
  procbox new --lang js repo-tool && cd repo-tool && ./build.sh && procbox run repo-tool.wasm --allow-run echo
  procbox new repo-tool && cd repo-tool && cargo build --release
  procbox run target/wasm32-wasip2/release/repo-tool.wasm --grant-requested";

/// `procbox --version`: procbox's version and the WIT it serves (a test
/// checks this list against `wit/`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (serves procbox:host@0.2.1, procbox:host@0.2.0, procbox:host@0.1.0, wasi@0.2)"
);

#[derive(Parser)]
#[command(
    name = "procbox",
    version = VERSION,
    about = "Run WebAssembly plugins that script OS processes, under limits you grant.",
    after_help = EXAMPLES
)]
pub(crate) struct Cli {
    /// Print each command the plugin runs, and how it ended, on stderr.
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,
    #[command(subcommand)]
    pub(crate) command: Commands,
}

#[derive(Subcommand)]
pub(crate) enum Commands {
    /// Run a plugin. It may start only what you grant.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Dry-run one spawn request against the grants: prints `allowed` or
    /// `denied` with the rule, and exits 0 (allowed) or 3 (denied).
    #[command(after_help = EXPLAIN_EXAMPLES)]
    Explain(ExplainArgs),
    /// Compile a plugin ahead of time into the cache, so that runs start fast.
    #[command(after_help = COMPILE_EXAMPLES)]
    Compile(CompileArgs),
    /// Show what a plugin imports and exports, and what its manifest requests.
    #[command(after_help = INSPECT_EXAMPLES)]
    Inspect(InspectArgs),
    /// Put a manifest inside a plugin (a custom section), so that plugin
    /// and manifest travel as one file; `run` and `inspect` then find it.
    /// (A Rust plugin made by `procbox new` compiles its manifest in.)
    EmbedManifest(EmbedArgs),
    /// Show what this kernel enforces on the children of plugins (Landlock,
    /// seccomp, capabilities), probed for real, and the known gaps.
    #[command(after_help = DOCTOR_EXAMPLES)]
    Doctor(DoctorArgs),
    /// Run the bundled demo plugin (it grants itself echo, cat, grep and tee).
    #[command(after_help = DEMO_EXAMPLES)]
    Demo,
    /// Create a plugin NAME in the current directory, in Rust (a crate,
    /// for `cargo build --release`), Python or JavaScript (`--lang python`
    /// or `--lang js`, built by its `./build.sh`), with the SDK and the WIT
    /// vendored.
    #[command(after_help = NEW_EXAMPLES)]
    New(NewArgs),
    /// List, show, revoke or edit what you granted plugins "always" at the
    /// prompt: remembered per plugin, by its content hash.
    #[command(subcommand, after_help = GRANTS_EXAMPLES)]
    Grants(crate::remembered::GrantsCommand),
    /// Serve plugin runs as Temporal activities (`procbox.run`) on a task
    /// queue, each plugin under the grants of worker.toml (`procbox worker
    /// --help` lists the options of `procbox-worker`, which it runs).
    #[command(disable_help_flag = true)]
    Worker(WorkerArgs),
    /// Print a shell completion script for bash, zsh or fish.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print procbox's man page, or a subcommand's (roff), or write them
    /// all into a directory.
    #[command(after_help = MAN_EXAMPLES)]
    Man(ManArgs),
}

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  procbox completions bash > ~/.local/share/bash-completion/completions/procbox
  procbox completions zsh > ~/.zfunc/_procbox      # with fpath+=~/.zfunc before compinit
  procbox completions fish > ~/.config/fish/completions/procbox.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  procbox man | man -l -
  procbox man run | man -l -
  procbox man --out-dir /usr/local/share/man/man1   # procbox.1 and procbox-SUBCOMMAND.1";

#[derive(Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub(crate) shell: crate::self_docs::Shell,
}

#[derive(Args)]
pub(crate) struct ManArgs {
    /// The subcommand whose page to print (default: procbox's own).
    #[arg(value_name = "SUBCOMMAND", conflicts_with = "out_dir")]
    pub(crate) subcommand: Option<String>,
    /// Write every page (procbox.1, procbox-SUBCOMMAND.1) into DIR
    /// instead of printing one.
    #[arg(long, value_name = "DIR")]
    pub(crate) out_dir: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct WorkerArgs {
    /// The worker's arguments (see `procbox worker --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub(crate) args: Vec<std::ffi::OsString>,
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// The plugin: a WebAssembly component built for wasm32-wasip2.
    pub(crate) plugin: PathBuf,
    #[command(flatten)]
    pub(crate) grants: GrantArgs,
    /// The plugin's manifest (default: PLUGIN.manifest.toml beside the
    /// plugin, if present). Requests it does not list are denied.
    #[arg(long, value_name = "FILE")]
    pub(crate) manifest: Option<PathBuf>,
    /// Never ask on the terminal about a request no rule grants: deny it,
    /// with the rule that would allow it (the default when not on a
    /// terminal).
    #[arg(long)]
    pub(crate) no_prompt: bool,
    /// Grant exactly what the plugin's manifest requests (printed first on
    /// stderr; `procbox inspect --as-flags PLUGIN` shows it without running).
    #[arg(long)]
    pub(crate) grant_requested: bool,
    /// Append a JSON line per spawn decision and per exit to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) audit: Option<PathBuf>,
    /// Compile the plugin afresh instead of using the compilation cache.
    #[arg(long)]
    pub(crate) no_cache: bool,
    /// Arguments passed to the plugin (write them after `--`).
    #[arg(last = true, value_name = "ARGS")]
    pub(crate) args: Vec<String>,
}

#[derive(Args)]
pub(crate) struct ExplainArgs {
    #[command(flatten)]
    pub(crate) grants: GrantArgs,
    /// Check against this plugin manifest too.
    #[arg(long, value_name = "FILE")]
    pub(crate) manifest: Option<PathBuf>,
    /// The working directory the plugin would ask for.
    #[arg(long, value_name = "DIR")]
    pub(crate) cwd: Option<String>,
    /// A variable the plugin would set (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub(crate) env: Vec<(String, String)>,
    /// The program and its arguments (after `--`).
    #[arg(last = true, required = true, value_name = "PROGRAM [ARGS]")]
    pub(crate) command: Vec<String>,
}

#[derive(Args)]
pub(crate) struct NewArgs {
    /// The plugin's name (and directory).
    pub(crate) name: String,
    /// The language to write it in.
    #[arg(long, value_enum, default_value = "rust")]
    pub(crate) lang: crate::scaffold::Lang,
}

#[derive(Args)]
pub(crate) struct CompileArgs {
    /// The plugin to compile.
    pub(crate) plugin: PathBuf,
}

#[derive(Args)]
pub(crate) struct InspectArgs {
    /// The plugin.
    pub(crate) plugin: PathBuf,
    /// Its manifest (default: the one it embeds, or PLUGIN.manifest.toml
    /// beside it, if present).
    #[arg(long, value_name = "FILE")]
    pub(crate) manifest: Option<PathBuf>,
    /// Print only what the manifest requests, as `procbox run` flags.
    #[arg(long)]
    pub(crate) as_flags: bool,
}

#[derive(Args)]
pub(crate) struct DoctorArgs {
    /// Check only these, comma-separated: landlock (ABI 3 or newer),
    /// seccomp, pidns (a PID namespace for children), cgroup
    /// (--max-processes and --max-tree-memory). Prints one line each and
    /// exits 1 if any is not enforced here, 0 if all are.
    #[arg(long, value_name = "LIST")]
    pub(crate) require: Vec<String>,
}

#[derive(Args)]
pub(crate) struct EmbedArgs {
    /// The plugin (a component).
    pub(crate) plugin: PathBuf,
    /// The manifest to embed (checked first).
    pub(crate) manifest: PathBuf,
    /// Write the result here instead of over the plugin.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not NAME=VALUE"))
}
