//! The grant flags shared by `run` and `explain`, and turning them into a
//! policy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use procbox::policy::document::{self, Kind};
use procbox::policy::ChildRlimits;
use procbox::{Limits, PluginLimits, Policy, PolicyBuilder, Source};

use super::failure::Failure;

/// What the user grants. Nothing is allowed without these.
#[derive(Args, Debug, Default)]
pub struct GrantArgs {
    /// Allow a program: 'PROGRAM [PATTERN...]' as one word. PROGRAM alone
    /// allows any arguments; each PATTERN matches one argument by position:
    /// a literal, `*` (any one argument), `**` (all the rest; last only), or
    /// a glob inside one argument (`--format=*`). The program is resolved
    /// through your PATH now; the grant is the file it resolves to.
    #[arg(long = "allow-run", value_name = "RULE", help_heading = "Grants")]
    pub allow_run: Vec<String>,
    /// Deny a program or some of its argument lists, in the same form. Deny
    /// rules win over allow rules.
    #[arg(long = "deny-run", value_name = "RULE", help_heading = "Grants")]
    pub deny_run: Vec<String>,
    /// NAME passes your value of NAME to every child (and to the plugin);
    /// NAME=GLOB lets the plugin set NAME to a matching value. Loader and
    /// interpreter injection variables (LD_*, BASH_ENV, …) need their exact
    /// name.
    #[arg(long = "allow-env", value_name = "RULE", help_heading = "Grants")]
    pub allow_env: Vec<String>,
    /// A directory (and everything below it) where a child may be asked to
    /// run. Without a cwd a child runs where procbox was started.
    #[arg(long = "dir", value_name = "PATH", help_heading = "Grants")]
    pub dirs: Vec<PathBuf>,
    /// Read grants from a TOML file (see the README for its keys).
    #[arg(long = "grants", value_name = "FILE", help_heading = "Grants")]
    pub grants_files: Vec<PathBuf>,
    /// Let children use procbox's own stdin, stdout and stderr
    /// (`Stdio::inherit`). Their output then escapes --max-output.
    #[arg(long = "allow-inherit", help_heading = "Grants")]
    pub allow_inherit: bool,
    /// Let the plugin itself read files below DIR.
    #[arg(long = "allow-read", value_name = "DIR", help_heading = "The plugin's own access")]
    pub allow_read: Vec<PathBuf>,
    /// Let the plugin itself read and write files below DIR.
    #[arg(long = "allow-write", value_name = "DIR", help_heading = "The plugin's own access")]
    pub allow_write: Vec<PathBuf>,
    /// Let the plugin itself open network sockets and resolve names.
    #[arg(long = "allow-net", help_heading = "The plugin's own access")]
    pub allow_net: bool,
    /// Most children running at once (default 64).
    #[arg(long = "max-children", value_name = "N", help_heading = "Limits")]
    pub max_children: Option<usize>,
    /// Most children started in the whole run (default: no limit).
    #[arg(long = "max-spawns", value_name = "N", help_heading = "Limits")]
    pub max_spawns: Option<u64>,
    /// Longest any child may run, e.g. 30s (default: no limit).
    #[arg(long = "max-runtime", value_name = "DURATION", value_parser = parse_duration, help_heading = "Limits")]
    pub max_runtime: Option<Duration>,
    /// Most bytes of stdout+stderr the plugin may read from one child, e.g.
    /// 16MiB; a child that writes more is killed (default: no limit).
    #[arg(long = "max-output", value_name = "SIZE", value_parser = parse_bytes, help_heading = "Limits")]
    pub max_output: Option<u64>,
    /// Each child's CPU time, in seconds (RLIMIT_CPU: SIGXCPU, then SIGKILL).
    #[arg(
        long = "rlimit-cpu",
        value_name = "SECONDS",
        help_heading = "Child resource limits (each forces the fork path)"
    )]
    pub rlimit_cpu: Option<u64>,
    /// Each child's address space, e.g. 1GiB (RLIMIT_AS).
    #[arg(long = "rlimit-as", value_name = "SIZE", value_parser = parse_bytes, help_heading = "Child resource limits (each forces the fork path)")]
    pub rlimit_as: Option<u64>,
    /// Each child's open files (RLIMIT_NOFILE).
    #[arg(
        long = "rlimit-nofile",
        value_name = "N",
        help_heading = "Child resource limits (each forces the fork path)"
    )]
    pub rlimit_nofile: Option<u64>,
    /// The largest file a child may write, e.g. 100MiB (RLIMIT_FSIZE).
    #[arg(long = "rlimit-fsize", value_name = "SIZE", value_parser = parse_bytes, help_heading = "Child resource limits (each forces the fork path)")]
    pub rlimit_fsize: Option<u64>,
    /// Processes of the user, counted by the kernel (RLIMIT_NPROC; not
    /// enforced for root).
    #[arg(
        long = "rlimit-nproc",
        value_name = "N",
        help_heading = "Child resource limits (each forces the fork path)"
    )]
    pub rlimit_nproc: Option<u64>,
    /// Kill each child if procbox itself dies, even by SIGKILL
    /// (PR_SET_PDEATHSIG).
    #[arg(
        long = "die-with-procbox",
        help_heading = "Child resource limits (each forces the fork path)"
    )]
    pub die_with_procbox: bool,
    /// Cap on each linear memory of the plugin, e.g. 256MiB (default 512MiB).
    #[arg(long = "max-plugin-memory", value_name = "SIZE", value_parser = parse_bytes, help_heading = "Limits on the plugin itself")]
    pub max_plugin_memory: Option<u64>,
    /// Budget for the whole plugin run, e.g. 10m; exit status 124 when it
    /// runs out (default: no limit).
    #[arg(long = "max-plugin-time", value_name = "DURATION", value_parser = parse_duration, help_heading = "Limits on the plugin itself")]
    pub max_plugin_time: Option<Duration>,
    /// Handles (children, streams, pollables) the plugin may hold at once
    /// (default 10000).
    #[arg(long = "max-handles", value_name = "N", help_heading = "Limits on the plugin itself")]
    pub max_handles: Option<usize>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    document::parse_duration(text)
}

fn parse_bytes(text: &str) -> Result<u64, String> {
    document::parse_bytes(text)
}

impl GrantArgs {
    /// The policy these flags, the grants files and the manifest (if any)
    /// describe.
    ///
    /// # Errors
    /// A usage failure naming the flag, file and line of a malformed or
    /// unresolvable rule.
    pub fn policy(&self, manifest: Option<&Path>) -> Result<Policy, Failure> {
        let mut builder = PolicyBuilder::new();
        for file in &self.grants_files {
            builder = builder.grants_document(read_document(file, Kind::Grants)?);
        }
        for rule in &self.allow_run {
            builder = builder.allow_run_from(rule, Source::Flag("--allow-run"));
        }
        for rule in &self.deny_run {
            builder = builder.deny_run_from(rule, Source::Flag("--deny-run"));
        }
        for rule in &self.allow_env {
            builder = builder.allow_env_from(rule, Source::Flag("--allow-env"));
        }
        for dir in &self.dirs {
            builder = builder.allow_dir(dir);
        }
        for dir in &self.allow_read {
            builder = builder.allow_read(dir);
        }
        for dir in &self.allow_write {
            builder = builder.allow_write(dir);
        }
        builder = builder
            .allow_net(self.allow_net)
            .allow_inherit(self.allow_inherit)
            .limits(Limits {
                max_children: self.max_children,
                max_spawns: self.max_spawns,
                max_runtime: self.max_runtime,
                max_output_bytes: self.max_output,
                rlimits: ChildRlimits {
                    cpu_seconds: self.rlimit_cpu,
                    address_space: self.rlimit_as,
                    open_files: self.rlimit_nofile,
                    file_size: self.rlimit_fsize,
                    processes: self.rlimit_nproc,
                },
                die_with_host: self.die_with_procbox.then_some(true),
            })
            .plugin_limits(PluginLimits {
                max_memory_bytes: self.max_plugin_memory,
                max_handles: self.max_handles,
                max_time: self.max_plugin_time,
            });
        if let Some(path) = manifest {
            builder = builder.manifest_document(path, read_document(path, Kind::Manifest)?);
        }
        builder.build().map_err(Failure::usage)
    }
}

/// Reads and parses a grants file or manifest.
///
/// # Errors
/// A usage failure: the file cannot be read, or where (file:line) and why
/// it cannot be parsed.
pub fn read_document(path: &Path, kind: Kind) -> Result<document::Document, Failure> {
    let (what, flag) = match kind {
        Kind::Grants => ("grants file", "--grants"),
        Kind::Manifest => ("manifest", "--manifest"),
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(anyhow::Error::new(e).context(format!("cannot read the {what} {}", path.display())))
            .with_hint(format!("check the path given to {flag}"))
    })?;
    document::parse(&text, path, kind).map_err(|message| {
        Failure::usage_msg(message).with_hint(match kind {
            Kind::Grants => "see the README, section \"The grants file\", for its keys and their values",
            Kind::Manifest => "a manifest takes allow-run, allow-env, [[run]] and [plugin]; see the README, section \"The grants file\"",
        })
    })
}

/// The manifest to use for `plugin`: the one given, or `NAME.manifest.toml`
/// beside `NAME.wasm` if it exists.
pub fn manifest_for(plugin: &Path, given: Option<&Path>) -> Option<PathBuf> {
    if let Some(given) = given {
        return Some(given.to_path_buf());
    }
    let beside = plugin.with_extension("manifest.toml");
    beside.is_file().then_some(beside)
}
