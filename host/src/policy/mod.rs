//! What the person running a plugin granted, and what the plugin asked for:
//! plain data, frozen by [`PolicyBuilder::build`]. Deciding a request
//! against it is the gate's job ([`crate::gate`]).
//!
//! A policy has two layers, and a request must pass both:
//! - the user's **grants** (command-line flags, `--grants FILE`, or an
//!   embedder's code): allow and deny rules, env rules, directories, limits,
//!   and the plugin's own capabilities;
//! - the plugin's **manifest**, if it has one: the programs and variables it
//!   requests. Without a manifest only the grants count.

pub mod document;
pub mod env;
pub mod rule;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::SpawnError;
use crate::resolve::{resolve_program, SearchPath};
use document::{Document, RunSpec};
use env::EnvRule;
use rule::{ExecRule, ParsedRule};

/// Where a rule came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, e.g. `--allow-run`.
    Flag(&'static str),
    /// A line of a grants file or manifest.
    File { path: PathBuf, line: usize },
    /// Code of an application that embeds procbox.
    Api,
    /// Granted during the run, by the escalation hook (a prompt, a broker).
    Escalation,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "{flag}"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
            Source::Api => write!(f, "embedder policy"),
            Source::Escalation => write!(f, "granted during the run"),
        }
    }
}

/// Limits on what one plugin run may do with processes. `None` means no
/// limit of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Children running at once.
    pub max_children: Option<usize>,
    /// Children started over the whole run.
    pub max_spawns: Option<u64>,
    /// A ceiling on each child's run time: a child that runs longer is
    /// timed out (SIGTERM, a grace period, SIGKILL) even if the plugin asked
    /// for more time or none.
    pub max_runtime: Option<Duration>,
    /// The most bytes of stdout plus stderr a plugin may read from one child;
    /// past it the child is killed and its status says `output-truncated`.
    pub max_output_bytes: Option<u64>,
    /// Kernel resource limits set in each child before `exec`.
    pub rlimits: ChildRlimits,
    /// `Some(true)`: each child gets SIGKILL if procbox dies, even by
    /// SIGKILL itself (`PR_SET_PDEATHSIG`).
    pub die_with_host: Option<bool>,
}

/// Kernel resource limits (`setrlimit`) for each child; `None` leaves the
/// limit as procbox has it. Setting any of these, or `die_with_host`,
/// moves spawning from `posix_spawn` to `fork`+`exec`, which costs more in a
/// large host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChildRlimits {
    /// RLIMIT_CPU, in seconds.
    pub cpu_seconds: Option<u64>,
    /// RLIMIT_AS, in bytes.
    pub address_space: Option<u64>,
    /// RLIMIT_NOFILE.
    pub open_files: Option<u64>,
    /// RLIMIT_FSIZE, in bytes.
    pub file_size: Option<u64>,
    /// RLIMIT_NPROC (per user; the kernel does not enforce it for root).
    pub processes: Option<u64>,
}

impl ChildRlimits {
    /// The limits that are set, as `(resource, value)` pairs for `setrlimit`.
    pub fn to_set(&self) -> Vec<(libc::__rlimit_resource_t, u64)> {
        [
            (libc::RLIMIT_CPU, self.cpu_seconds),
            (libc::RLIMIT_AS, self.address_space),
            (libc::RLIMIT_NOFILE, self.open_files),
            (libc::RLIMIT_FSIZE, self.file_size),
            (libc::RLIMIT_NPROC, self.processes),
        ]
        .into_iter()
        .filter_map(|(resource, value)| value.map(|v| (resource, v)))
        .collect()
    }

    fn overridden_by(self, other: ChildRlimits) -> ChildRlimits {
        ChildRlimits {
            cpu_seconds: other.cpu_seconds.or(self.cpu_seconds),
            address_space: other.address_space.or(self.address_space),
            open_files: other.open_files.or(self.open_files),
            file_size: other.file_size.or(self.file_size),
            processes: other.processes.or(self.processes),
        }
    }
}

impl Limits {
    /// `self`, with each limit that `other` sets replaced by `other`'s.
    pub fn overridden_by(self, other: Limits) -> Limits {
        Limits {
            max_children: other.max_children.or(self.max_children),
            max_spawns: other.max_spawns.or(self.max_spawns),
            max_runtime: other.max_runtime.or(self.max_runtime),
            max_output_bytes: other.max_output_bytes.or(self.max_output_bytes),
            rlimits: self.rlimits.overridden_by(other.rlimits),
            die_with_host: other.die_with_host.or(self.die_with_host),
        }
    }
}

/// The default number of children a plugin may run at once.
pub const DEFAULT_MAX_CHILDREN: usize = 64;
/// The grace period between the signal and SIGKILL when the policy's
/// `max_runtime` ceiling stops a child.
pub const CEILING_GRACE: Duration = Duration::from_secs(2);

/// Size limits on one spawn request. The defaults stay below the kernel's
/// own limits, so an oversized request is a clear error rather than `E2BIG`
/// from `exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// The most bytes one argument or `NAME=value` pair may have.
    pub max_string_bytes: usize,
    /// The most bytes all arguments and variables may have together.
    pub max_total_bytes: usize,
    /// The most arguments plus variables.
    pub max_items: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            // Linux refuses any single string over MAX_ARG_STRLEN (128 KiB).
            max_string_bytes: 128 * 1024,
            // ARG_MAX is usually 2 MiB including the stack's own needs.
            max_total_bytes: 1024 * 1024,
            max_items: 32 * 1024,
        }
    }
}

/// Limits on the plugin itself. `None` keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PluginLimits {
    /// The most bytes any one linear memory of the plugin may grow to
    /// (default [`DEFAULT_PLUGIN_MEMORY`]).
    pub max_memory_bytes: Option<u64>,
    /// The most handles (children, streams, pollables, …) the plugin may hold
    /// at once (default [`DEFAULT_PLUGIN_HANDLES`]).
    pub max_handles: Option<usize>,
    /// How long the whole plugin run may take (default: no limit). When it
    /// runs out the plugin is stopped, busy or not, and its children killed.
    pub max_time: Option<Duration>,
}

impl PluginLimits {
    /// `self`, with each limit that `other` sets replaced by `other`'s.
    pub fn overridden_by(self, other: PluginLimits) -> PluginLimits {
        PluginLimits {
            max_memory_bytes: other.max_memory_bytes.or(self.max_memory_bytes),
            max_handles: other.max_handles.or(self.max_handles),
            max_time: other.max_time.or(self.max_time),
        }
    }
}

/// The default cap on each linear memory of a plugin.
pub const DEFAULT_PLUGIN_MEMORY: u64 = 512 << 20;
/// The default cap on handles a plugin holds at once.
pub const DEFAULT_PLUGIN_HANDLES: usize = 10_000;

/// The plugin's own WASI capabilities and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginCaps {
    /// Directories the plugin may read (canonical).
    pub read_dirs: Vec<PathBuf>,
    /// Directories the plugin may read and write (canonical).
    pub write_dirs: Vec<PathBuf>,
    /// Whether the plugin may open sockets and resolve names.
    pub network: bool,
    /// The cap on each linear memory, in bytes.
    pub max_memory_bytes: u64,
    /// The cap on handles held at once.
    pub max_handles: usize,
    /// The budget for the whole run.
    pub max_time: Option<Duration>,
}

/// The rules of one gate.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    pub(crate) allow: Vec<ExecRule>,
    pub(crate) deny: Vec<ExecRule>,
    pub(crate) env: Vec<EnvRule>,
}

impl Layer {
    /// Allow rules (for a manifest: its requests).
    pub fn allow_rules(&self) -> &[ExecRule] {
        &self.allow
    }
    /// Deny rules.
    pub fn deny_rules(&self) -> &[ExecRule] {
        &self.deny
    }
    /// Env rules.
    pub fn env_rules(&self) -> &[EnvRule] {
        &self.env
    }
}

/// A frozen policy. Build one with [`PolicyBuilder`].
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) grants: Layer,
    pub(crate) manifest: Option<(PathBuf, Layer)>,
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) start_dir: PathBuf,
    pub(crate) search_path: SearchPath,
    pub(crate) request_limits: RequestLimits,
    pub(crate) limits: Limits,
    pub(crate) plugin: PluginCaps,
    pub(crate) passed_env: Vec<(String, String)>,
    pub(crate) allow_inherit: bool,
}

impl Policy {
    /// The user's grants.
    pub fn grants(&self) -> &Layer {
        &self.grants
    }
    /// The plugin's manifest (its file and requests), if it has one.
    pub fn manifest(&self) -> Option<(&Path, &Layer)> {
        self.manifest.as_ref().map(|(p, l)| (p.as_path(), l))
    }
    /// The directories a child may be asked to run in (canonical).
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
    /// The default working directory of a child (canonical).
    pub fn start_dir(&self) -> &Path {
        &self.start_dir
    }
    /// The limits on processes.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// The plugin's own capabilities.
    pub fn plugin(&self) -> &PluginCaps {
        &self.plugin
    }
    /// Host variables that pass through to every child and to the plugin.
    pub fn passed_env(&self) -> &[(String, String)] {
        &self.passed_env
    }

    /// Parses an allow rule written as for `--allow-run` and resolves its
    /// program as the policy's own rules were resolved.
    ///
    /// # Errors
    /// [`PolicyError::Rule`] for a malformed rule, [`PolicyError::Unresolved`]
    /// for a program that does not resolve.
    pub fn resolve_rule(&self, written: &str, source: Source) -> Result<ExecRule, PolicyError> {
        let spec = RunSpec {
            written: written.to_string(),
            parts: None,
            sha256: None,
            source,
        };
        let rule = resolve_rule(&spec, &self.start_dir, &self.search_path, true)?;
        Ok(rule.expect("a strict resolution returns a rule or an error"))
    }
}

/// A policy that was written wrongly: the message names the rule and its
/// source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A rule that cannot be parsed.
    #[error("{origin}: {message}")]
    Rule { origin: Source, message: String },
    /// A granted program that does not resolve to an executable file.
    #[error("{origin}: rule '{rule}': {reason}")]
    Unresolved {
        origin: Source,
        /// The rule as written.
        rule: String,
        /// Its program, as written.
        program: String,
        /// Why it does not resolve.
        reason: SpawnError,
    },
    /// A directory that cannot be used.
    #[error("directory {path}: {reason}")]
    Dir { path: PathBuf, reason: String },
    /// A grants file or manifest that cannot be read or parsed.
    #[error("{0}")]
    Document(String),
}

#[derive(Debug, Clone, Default)]
struct LayerSpec {
    allow: Vec<RunSpec>,
    deny: Vec<RunSpec>,
    env: Vec<(String, Source)>,
}

/// Collects grants and freezes them into a [`Policy`].
///
/// Defaults, all of them deny-by-default:
/// - **programs:** none. Nothing can be spawned until an allow rule.
/// - **manifest:** none; then only the grants decide.
/// - **environment:** children start with an empty environment; nothing
///   passes through and the plugin may set nothing until an env rule.
/// - **working directory:** children run in the start directory (default:
///   the current directory). An explicit working directory must lie inside a
///   directory granted with [`allow_dir`](Self::allow_dir); none is granted.
/// - **limits:** at most [`DEFAULT_MAX_CHILDREN`] children at once; no limit
///   on total spawns, run time or output until set.
/// - **request size:** [`RequestLimits::default`].
/// - **the plugin itself:** no files, no network, no environment but the
///   passed-through variables; each linear memory at most
///   [`DEFAULT_PLUGIN_MEMORY`], at most [`DEFAULT_PLUGIN_HANDLES`] handles,
///   no limit on run time.
/// - **search path:** this process's `PATH` at build time, absolute entries
///   only ([`search_path`](Self::search_path) replaces it).
#[derive(Debug, Clone, Default)]
pub struct PolicyBuilder {
    grants: LayerSpec,
    manifest: Option<(PathBuf, LayerSpec)>,
    dirs: Vec<PathBuf>,
    read_dirs: Vec<PathBuf>,
    write_dirs: Vec<PathBuf>,
    network: bool,
    allow_inherit: bool,
    limits: Limits,
    plugin_limits: PluginLimits,
    start_dir: Option<PathBuf>,
    search_path: Option<SearchPath>,
    request_limits: RequestLimits,
    host_env: Option<Vec<(String, String)>>,
}

impl PolicyBuilder {
    /// A builder that grants nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows a program, in the one-word form `PROGRAM [PATTERN...]` (see
    /// [`rule`]). A bare name is resolved through the search path when the
    /// policy is built; the grant is the file it resolves to.
    pub fn allow_run(self, rule: &str) -> Self {
        self.allow_run_from(rule, Source::Api)
    }

    /// [`allow_run`](Self::allow_run), remembering where the rule came from.
    pub fn allow_run_from(mut self, rule: &str, source: Source) -> Self {
        self.grants.allow.push(RunSpec {
            written: rule.to_string(),
            parts: None,
            sha256: None,
            source,
        });
        self
    }

    /// Denies a program or some of its argument lists. Deny rules win over
    /// allow rules.
    pub fn deny_run(self, rule: &str) -> Self {
        self.deny_run_from(rule, Source::Api)
    }

    /// [`deny_run`](Self::deny_run), remembering where the rule came from.
    pub fn deny_run_from(mut self, rule: &str, source: Source) -> Self {
        self.grants.deny.push(RunSpec {
            written: rule.to_string(),
            parts: None,
            sha256: None,
            source,
        });
        self
    }

    /// Adds an env rule: `NAME` passes the host's value through, `NAME=GLOB`
    /// lets the plugin set it (see [`env`](mod@env)).
    pub fn allow_env(self, rule: &str) -> Self {
        self.allow_env_from(rule, Source::Api)
    }

    /// [`allow_env`](Self::allow_env), remembering where the rule came from.
    pub fn allow_env_from(mut self, rule: &str, source: Source) -> Self {
        self.grants.env.push((rule.to_string(), source));
        self
    }

    /// Grants a directory (and everything below it) where children may be
    /// asked to run.
    pub fn allow_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.push(dir.into());
        self
    }

    /// Lets the plugin itself read files below `dir`.
    pub fn allow_read(mut self, dir: impl Into<PathBuf>) -> Self {
        self.read_dirs.push(dir.into());
        self
    }

    /// Lets the plugin itself read and write files below `dir`.
    pub fn allow_write(mut self, dir: impl Into<PathBuf>) -> Self {
        self.write_dirs.push(dir.into());
        self
    }

    /// Lets the plugin itself open sockets and resolve names.
    pub fn allow_net(mut self, allowed: bool) -> Self {
        self.network = allowed;
        self
    }

    /// Lets children use procbox's own stdin, stdout and stderr (`inherit`).
    /// Output that goes there escapes the output cap.
    pub fn allow_inherit(mut self, allowed: bool) -> Self {
        self.allow_inherit = allowed;
        self
    }

    /// Sets limits; each limit that `limits` sets replaces the current one.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = self.limits.overridden_by(limits);
        self
    }

    /// Sets limits on the plugin itself; each that `limits` sets replaces
    /// the current one.
    pub fn plugin_limits(mut self, limits: PluginLimits) -> Self {
        self.plugin_limits = self.plugin_limits.overridden_by(limits);
        self
    }

    /// Adds everything a grants file says.
    pub fn grants_document(mut self, doc: Document) -> Self {
        self.grants.allow.extend(doc.allow_run);
        self.grants.deny.extend(doc.deny_run);
        self.grants.env.extend(doc.env);
        self.dirs.extend(doc.dirs);
        self.read_dirs.extend(doc.read_dirs);
        self.write_dirs.extend(doc.write_dirs);
        self.network |= doc.network;
        self.allow_inherit |= doc.allow_inherit;
        self.limits = self.limits.overridden_by(doc.limits);
        self.plugin_limits = self.plugin_limits.overridden_by(doc.plugin_limits);
        self
    }

    /// Sets the plugin's manifest: from now on a request must also be among
    /// its requests.
    pub fn manifest_document(mut self, path: impl Into<PathBuf>, doc: Document) -> Self {
        let spec = LayerSpec {
            allow: doc.allow_run,
            deny: Vec::new(),
            env: doc.env,
        };
        self.manifest = Some((path.into(), spec));
        self
    }

    /// Sets the default working directory of children (default: the
    /// current directory).
    pub fn start_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.start_dir = Some(dir.into());
        self
    }

    /// Replaces the directories searched for bare program names.
    pub fn search_path(mut self, search: SearchPath) -> Self {
        self.search_path = Some(search);
        self
    }

    /// Replaces the size limits on one request.
    pub fn request_limits(mut self, limits: RequestLimits) -> Self {
        self.request_limits = limits;
        self
    }

    /// Replaces the host environment that pass-through rules read (default:
    /// this process's environment at build time).
    pub fn host_env(mut self, vars: Vec<(String, String)>) -> Self {
        self.host_env = Some(vars);
        self
    }

    /// Resolves and checks every rule and freezes the policy.
    ///
    /// # Errors
    /// [`PolicyError`], naming the rule and where it came from, when a rule
    /// is malformed, a granted program or directory does not exist.
    pub fn build(self) -> Result<Policy, PolicyError> {
        let search_path = self.search_path.unwrap_or_else(SearchPath::from_env);
        let start_dir = match self.start_dir {
            Some(dir) => dir,
            None => std::env::current_dir().map_err(|e| PolicyError::Dir {
                path: PathBuf::from("."),
                reason: e.to_string(),
            })?,
        };
        let start_dir = canonical_dir(&start_dir)?;
        let resolve = |spec: &RunSpec, strict: bool| resolve_rule(spec, &start_dir, &search_path, strict);
        let grants = build_layer(&self.grants, |s| resolve(s, true))?;
        let manifest = match &self.manifest {
            None => None,
            Some((path, spec)) => Some((path.clone(), build_layer(spec, |s| resolve(s, false))?)),
        };
        let host_env = self.host_env.unwrap_or_else(|| std::env::vars().collect());
        let passed_env = host_env
            .into_iter()
            .filter(|(name, _)| {
                grants.env.iter().any(|r| r.passes(name))
                    && manifest
                        .as_ref()
                        .is_none_or(|(_, m)| m.env.iter().any(|r| r.passes(name)))
            })
            .collect();
        let canonical_all = |dirs: &[PathBuf]| dirs.iter().map(|d| canonical_dir(d)).collect::<Result<Vec<_>, _>>();
        Ok(Policy {
            grants,
            manifest,
            dirs: canonical_all(&self.dirs)?,
            start_dir,
            search_path,
            request_limits: self.request_limits,
            limits: Limits {
                max_children: Some(DEFAULT_MAX_CHILDREN),
                ..Limits::default()
            }
            .overridden_by(self.limits),
            plugin: PluginCaps {
                read_dirs: canonical_all(&self.read_dirs)?,
                write_dirs: canonical_all(&self.write_dirs)?,
                network: self.network,
                max_memory_bytes: self.plugin_limits.max_memory_bytes.unwrap_or(DEFAULT_PLUGIN_MEMORY),
                max_handles: self.plugin_limits.max_handles.unwrap_or(DEFAULT_PLUGIN_HANDLES),
                max_time: self.plugin_limits.max_time,
            },
            passed_env,
            allow_inherit: self.allow_inherit,
        })
    }
}

/// Builds one layer; `resolve` returns `None` for a rule to drop.
fn build_layer(
    spec: &LayerSpec,
    resolve: impl Fn(&RunSpec) -> Result<Option<ExecRule>, PolicyError>,
) -> Result<Layer, PolicyError> {
    let rules = |specs: &[RunSpec]| -> Result<Vec<ExecRule>, PolicyError> {
        Ok(specs
            .iter()
            .map(&resolve)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect())
    };
    let env = spec
        .env
        .iter()
        .map(|(written, source)| {
            EnvRule::parse(written, source.clone()).map_err(|message| PolicyError::Rule {
                origin: source.clone(),
                message,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Layer {
        allow: rules(&spec.allow)?,
        deny: rules(&spec.deny)?,
        env,
    })
}

/// Parses a rule and resolves its program. With `strict`, a program that
/// cannot be found is an error (a grant the user should fix); without, the
/// rule is dropped (a manifest request for a tool this host lacks can never
/// match anyway).
fn resolve_rule(
    spec: &RunSpec,
    start_dir: &Path,
    search: &SearchPath,
    strict: bool,
) -> Result<Option<ExecRule>, PolicyError> {
    let error = |message: String| PolicyError::Rule {
        origin: spec.source.clone(),
        message,
    };
    let parsed = match &spec.parts {
        None => ParsedRule::from_words(&spec.written),
        Some((program, args)) => ParsedRule::from_parts(&spec.written, program, args.clone()),
    }
    .map_err(|e| error(e.to_string()))?;
    let path = match resolve_program(&parsed.program, start_dir, search) {
        Ok(path) => path,
        Err(_) if !strict => {
            tracing::warn!(
                "{}: rule '{}': program not found on this host; ignored",
                spec.source,
                spec.written
            );
            return Ok(None);
        }
        Err(reason) => {
            return Err(PolicyError::Unresolved {
                origin: spec.source.clone(),
                rule: spec.written.clone(),
                program: parsed.program,
                reason,
            })
        }
    };
    Ok(Some(ExecRule {
        written: parsed.written,
        program: parsed.program,
        path,
        args: parsed.args,
        sha256: spec.sha256,
        source: spec.source.clone(),
    }))
}

fn canonical_dir(dir: &Path) -> Result<PathBuf, PolicyError> {
    let error = |reason: String| PolicyError::Dir {
        path: dir.to_path_buf(),
        reason,
    };
    let canonical = dir.canonicalize().map_err(|e| error(e.to_string()))?;
    if !canonical.is_dir() {
        return Err(error("not a directory".into()));
    }
    Ok(canonical)
}
