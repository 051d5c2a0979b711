//! [`PolicyBuilder`]: collects grants from flags, files and code, and
//! freezes them into a [`Policy`].

use std::path::{Path, PathBuf};

use super::document::{Document, RunSpec};
use super::env::EnvRule;
use super::knobs::LimitSettings;
use super::rule::{ExecRule, ParsedRule};
use super::*;
use crate::confine::{ChildNet, ConfineMode, Confinement, Helper};
use crate::containment::ContainMode;
use crate::resolve::{resolve_program, SearchPath};

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
    strict_programs: bool,
    limits: Limits,
    plugin_limits: PluginLimits,
    start_dir: Option<PathBuf>,
    search_path: Option<SearchPath>,
    request_limits: RequestLimits,
    host_env: Option<Vec<(String, String)>>,
    confine: ConfineMode,
    contain: ContainMode,
    child_net: Vec<(String, Source)>,
    helpers: Vec<(String, Source)>,
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

    /// Refuses to build a policy that grants a program the plugin could
    /// change: one in a directory it may write, or a hard-linked one in a
    /// granted directory (default: such grants are only warnings, in
    /// [`Policy::warnings`]).
    pub fn strict_programs(mut self, strict: bool) -> Self {
        self.strict_programs |= strict;
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

    /// How strictly the kernel must confine children (default:
    /// [`ConfineMode::Require`]); see [`crate::confine`].
    pub fn confine(mut self, mode: ConfineMode) -> Self {
        self.confine = mode;
        self
    }

    /// How strictly the kernel must contain children, so that none
    /// outlives procbox (default: [`ContainMode::BestEffort`]); see
    /// [`crate::containment::namespace`].
    pub fn contain(mut self, mode: ContainMode) -> Self {
        self.contain = mode;
        self
    }

    /// Grants children some network, as written for `--allow-child-net`:
    /// `PORT` (TCP connect), `bind:PORT`, `all` or `unix`.
    pub fn allow_child_net(self, grant: &str) -> Self {
        self.allow_child_net_from(grant, Source::Api)
    }

    /// [`allow_child_net`](Self::allow_child_net), remembering where the
    /// grant came from.
    pub fn allow_child_net_from(mut self, grant: &str, source: Source) -> Self {
        self.child_net.push((grant.to_string(), source));
        self
    }

    /// Lets children execute a helper besides their granted program, as
    /// written for `--allow-helper`: `PATH` (a file, or a directory of
    /// them) for every child, or `PROGRAM=PATH` for the children of one
    /// granted program (e.g. `git=/usr/lib/git-core`).
    pub fn allow_helper(self, grant: &str) -> Self {
        self.allow_helper_from(grant, Source::Api)
    }

    /// [`allow_helper`](Self::allow_helper), remembering where the grant
    /// came from.
    pub fn allow_helper_from(mut self, grant: &str, source: Source) -> Self {
        self.helpers.push((grant.to_string(), source));
        self
    }

    /// Sets every knob `settings` sets (limits on children and on the
    /// plugin, under their flag names); each replaces the current value.
    pub fn limit_settings(self, settings: &LimitSettings) -> Self {
        self.limits(settings.limits()).plugin_limits(settings.plugin_limits())
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
        self.strict_programs |= doc.strict_programs;
        if let Some(mode) = doc.confine {
            self.confine = mode;
        }
        if let Some(mode) = doc.contain {
            self.contain = mode;
        }
        self.child_net.extend(doc.child_net);
        self.helpers.extend(doc.helpers);
        self.limit_settings(&doc.limits)
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
        let mut warnings = Vec::new();
        let grants = build_layer(&self.grants, |s| resolve_rule(s, &start_dir, &search_path, None))?;
        let manifest = match &self.manifest {
            None => None,
            Some((path, spec)) => Some((
                path.clone(),
                build_layer(spec, |s| resolve_rule(s, &start_dir, &search_path, Some(&mut warnings)))?,
            )),
        };
        let host_env = self.host_env.unwrap_or_else(|| std::env::vars().collect());
        let host_env_home = host_env.iter().find(|(k, _)| k == "HOME").map(|(_, v)| v.clone());
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
        let (dirs, read_dirs, write_dirs) = (
            canonical_all(&self.dirs)?,
            canonical_all(&self.read_dirs)?,
            canonical_all(&self.write_dirs)?,
        );
        let home = host_env_home.map(PathBuf::from).and_then(|h| h.canonicalize().ok());
        let homes = super::home::homes(home.as_deref());
        let state_dirs = super::protected::state_dirs();
        let write_set =
            super::protected::WriteSet::of(&write_dirs, &state_dirs, &homes).map_err(|reason| PolicyError::Dir {
                path: write_dirs.first().cloned().unwrap_or_default(),
                reason,
            })?;
        refuse_symlinked_protection(&self.write_dirs, &write_dirs, &state_dirs)?;
        warnings.extend(
            write_dirs
                .iter()
                .filter(|d| write_set.read_only.contains(d))
                .map(|dir| PolicyWarning::SplitWriteGrant {
                    dir: dir.clone(),
                    protected: write_set
                        .protected
                        .iter()
                        .map(|p| p.path().to_path_buf())
                        .filter(|p| p.starts_with(dir))
                        .collect(),
                }),
        );
        let granted: Vec<&PathBuf> = dirs.iter().chain(&read_dirs).chain(&write_dirs).collect();
        warnings.extend(exposed_programs(&grants, &write_set, &granted, self.strict_programs)?);
        let start_dir_readable = start_dir_grantable(&start_dir, &homes);
        if !start_dir_readable && self.confine != ConfineMode::Off {
            warnings.push(PolicyWarning::StartDirNotGranted { dir: start_dir.clone() });
        }
        let net = child_net(&self.child_net)?;
        let confined = crate::confine::probe::enforcement(self.confine, &net, crate::KernelSupport::get())
            .is_ok_and(|e| e.abi >= crate::confine::probe::ABI_FILES && e.seccomp && e.active());
        warnings.extend(super::breadth::broad_grants(
            &grants.allow,
            &write_dirs,
            &state_dirs,
            confined,
        ));
        let confinement = Confinement {
            mode: self.confine,
            contain: self.contain,
            net,
            helpers: self
                .helpers
                .iter()
                .map(|(written, source)| helper(written, source, &start_dir, &search_path))
                .collect::<Result<_, _>>()?,
        };
        let mut policy = Policy {
            state_dirs,
            write_set,
            confinement,
            start_dir_readable,
            grants,
            manifest,
            dirs,
            start_dir,
            search_path,
            request_limits: self.request_limits,
            limits: Limits {
                max_children: Some(DEFAULT_MAX_CHILDREN),
                ..Limits::default()
            }
            .overridden_by(self.limits),
            plugin: PluginCaps {
                read_dirs,
                write_dirs,
                network: self.network,
                max_memory_bytes: self.plugin_limits.max_memory_bytes.unwrap_or(DEFAULT_PLUGIN_MEMORY),
                max_handles: self.plugin_limits.max_handles.unwrap_or(DEFAULT_PLUGIN_HANDLES),
                max_time: self.plugin_limits.max_time,
            },
            passed_env,
            allow_inherit: self.allow_inherit,
            warnings,
        };
        // The plan of a child needs the policy itself.
        let shims = super::shims::blocked_shims(&policy);
        policy.warnings.extend(shims);
        Ok(policy)
    }
}

/// Whether the start directory may be granted to children: not `/`, not a
/// directory that is or holds one of the user's `homes` (`$HOME` and the
/// account's home from the password database, see [`super::home::homes`]:
/// an unset or changed `HOME` must not open `~/.ssh`) or everybody's
/// (`/home`, `/tmp`, ...), and nothing inside the system's own trees
/// (`/etc`, `/root`, `/var`, ...), where procbox is started by services,
/// cron and containers.
fn start_dir_grantable(start: &Path, homes: &[PathBuf]) -> bool {
    const SHARED: &[&str] = &["/", "/home", "/tmp", "/srv", "/opt", "/mnt", "/media", "/usr"];
    const SYSTEM: &[&str] = &["/etc", "/root", "/var", "/run", "/proc", "/sys", "/dev", "/boot"];
    !(SHARED.iter().any(|d| start == Path::new(d))
        || SYSTEM.iter().any(|d| start.starts_with(d))
        || homes.iter().any(|home| home.starts_with(start)))
}

/// The children's network grants, parsed.
fn child_net(grants: &[(String, Source)]) -> Result<ChildNet, PolicyError> {
    let mut net = ChildNet::default();
    for (written, source) in grants {
        net.add(written).map_err(|message| PolicyError::Rule {
            origin: source.clone(),
            message,
        })?;
    }
    Ok(net)
}

/// One `--allow-helper` grant: `[PROGRAM=]PATH`, both resolved now.
fn helper(written: &str, source: &Source, start_dir: &Path, search: &SearchPath) -> Result<Helper, PolicyError> {
    let error = |message: String| PolicyError::Rule {
        origin: source.clone(),
        message: format!("helper '{written}': {message}"),
    };
    let (program, path) = match written.split_once('=') {
        Some((program, path)) if !program.contains('/') || !path.is_empty() => (Some(program), path),
        _ => (None, written),
    };
    let program = program
        .map(|p| resolve_program(p, start_dir, search).map_err(|e| error(e.to_string())))
        .transpose()?;
    let path = start_dir
        .join(path)
        .canonicalize()
        .map_err(|e| error(format!("{path}: {e}")))?;
    Ok(Helper {
        written: written.to_string(),
        program,
        path,
        source: source.clone(),
    })
}

/// Refuses a write grant that reaches a protected path only through a
/// symlink: the user did not name it (a plugin may have planted the
/// symlink in an earlier run), and must, as it resolves.
fn refuse_symlinked_protection(
    given: &[PathBuf],
    canonical: &[PathBuf],
    state: &[(PathBuf, &'static str)],
) -> Result<(), PolicyError> {
    for (given, canonical) in given.iter().zip(canonical) {
        // Relative to the current directory, as it was canonicalised.
        let Ok(absolute) = std::path::absolute(given) else {
            continue;
        };
        if let Some(protection) = super::protected::reached_through_symlink(&absolute, canonical, state) {
            return Err(PolicyError::Dir {
                path: given.clone(),
                reason: format!(
                    "it resolves through a symlink to {}, inside {}: {}; a protected path is writable only when you name it as it is",
                    canonical.display(),
                    protection.path().display(),
                    protection.what()
                ),
            });
        }
    }
    Ok(())
}

/// The warnings about granted programs that could be changed, or, when
/// `strict`, the refusal of the first.
fn exposed_programs(
    grants: &Layer,
    write_set: &super::protected::WriteSet,
    granted: &[&PathBuf],
    strict: bool,
) -> Result<Vec<PolicyWarning>, PolicyError> {
    let exposed = super::exposure::exposed_programs(&grants.allow, write_set, granted);
    match exposed.first() {
        Some(
            first @ (PolicyWarning::WritableProgram { origin, .. }
            | PolicyWarning::HardLinkedProgram { origin, .. }
            | PolicyWarning::OthersMayChangeProgram { origin, .. }),
        ) if strict => Err(PolicyError::Rule {
            origin: origin.clone(),
            message: format!("refused (`strict-programs`): {first}"),
        }),
        _ => Ok(exposed),
    }
}

/// Builds one layer; `resolve` returns `None` for a rule to drop. Deny
/// rules are matched as [`ExecRule::for_deny`] says: one written
/// positionally with an option matches that option anywhere.
fn build_layer(
    spec: &LayerSpec,
    mut resolve: impl FnMut(&RunSpec) -> Result<Option<ExecRule>, PolicyError>,
) -> Result<Layer, PolicyError> {
    let mut rules = |specs: &[RunSpec]| -> Result<Vec<ExecRule>, PolicyError> {
        Ok(specs
            .iter()
            .map(&mut resolve)
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
    let allow = rules(&spec.allow)?;
    if let Some(rule) = allow.iter().find(|r| r.args.is_anywhere()) {
        return Err(PolicyError::Rule {
            origin: rule.source.clone(),
            message: format!(
                "rule '{}': words after `**` match an argument anywhere, which can only deny; make it a deny rule (`deny-run`)",
                rule.written
            ),
        });
    }
    let deny = rules(&spec.deny)?
        .into_iter()
        .map(|rule| {
            let origin = rule.source.clone();
            rule.for_deny().map_err(|e| PolicyError::Rule {
                origin,
                message: e.to_string(),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Layer { allow, deny, env })
}

/// Parses a rule and resolves its program. Without `dropped` (strict), a
/// program that cannot be found is an error (a grant the user should fix);
/// with it, the rule is dropped and a warning added to `dropped` (a manifest
/// request for a tool this host lacks can never match anyway).
pub(super) fn resolve_rule(
    spec: &RunSpec,
    start_dir: &Path,
    search: &SearchPath,
    dropped: Option<&mut Vec<PolicyWarning>>,
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
    let path = match (resolve_program(&parsed.program, start_dir, search), dropped) {
        (Ok(path), _) => path,
        (Err(_), Some(dropped)) => {
            dropped.push(PolicyWarning::ProgramNotFound {
                origin: spec.source.clone(),
                rule: spec.written.clone(),
            });
            return Ok(None);
        }
        (Err(reason), None) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_dir_is_not_granted_when_it_is_or_holds_either_home() {
        let p = PathBuf::from;
        // `$HOME`, and the account's home from the password database.
        let homes = [p("/data/env/u"), p("/data/accounts/u")];
        let cases = [
            ("/data/env/u", false),
            ("/data/accounts/u", false),
            ("/data/accounts", false),
            ("/data", false),
            ("/data/accounts/u/project", true),
            ("/data/other", true),
        ];
        for (start, expected) in cases {
            assert_eq!(start_dir_grantable(Path::new(start), &homes), expected, "{start}");
        }
        // Without the account's home, its parent would be granted.
        assert!(start_dir_grantable(Path::new("/data/accounts"), &homes[..1]));
    }

    #[test]
    fn deny_rules_from_flags_and_grants_files_match_an_option_anywhere() {
        let text = "deny-run = [\"sort -o *\"]\n[[run]]\nprogram = \"rm\"\nargs = [\"-rf\", \"*\"]\ndeny = true\n";
        let doc = document::parse(text, Path::new("/x/grants.toml"), document::Kind::Grants).unwrap();
        let policy = PolicyBuilder::new()
            .grants_document(doc)
            .deny_run_from("ls -R", Source::Flag("--deny-run"))
            .allow_run("sort -o *")
            .build()
            .unwrap();
        let rule = |program: &str| {
            let found = policy.grants().deny_rules().iter().find(|r| r.program == program);
            found.unwrap_or_else(|| panic!("no deny rule for {program}"))
        };
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: &[(&str, &[&str])] = &[
            ("sort", &["-rno", "F", "in"]),
            ("rm", &["x", "-rf"]),
            ("ls", &["-l", "-R", "/"]),
        ];
        for (program, request) in cases {
            let rule = rule(program);
            assert!(rule.matches(&rule.path, &args(request)), "{rule} vs {request:?}");
            assert!(rule.to_string().contains(": matched anywhere)"), "{rule}");
        }
        let rm = rule("rm").to_string();
        assert!(rm.starts_with("'rm ** -rf *' (/x/grants.toml:"), "{rm}");
        assert_eq!(
            rule("ls").to_string(),
            "'ls ** -R' (--deny-run, written 'ls -R': matched anywhere)"
        );
        // Allow rules stay positional.
        let allow = &policy.grants().allow_rules()[0];
        assert!(!allow.matches(&allow.path, &args(&["-rn", "-o", "F"])));
        assert_eq!(allow.to_string(), "'sort -o *' (embedder policy)");
    }
}
