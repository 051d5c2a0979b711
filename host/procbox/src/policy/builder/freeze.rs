//! [`PolicyBuilder::build`]: every rule parsed and its program resolved,
//! every directory made canonical, the protected paths split out of the
//! write grants, the warnings gathered, and the policy frozen.

use std::path::{Path, PathBuf};

use super::{LayerSpec, PolicyBuilder};
use crate::policy::document::RunSpec;
use crate::policy::env::EnvRule;
use crate::policy::protected::WriteSet;
use crate::policy::rule::{ExecRule, ParsedRule};
use crate::policy::*;
use crate::resolve::{resolve_program, SearchPath};
use crate::sandbox::{ChildNet, Confinement, Helper};
use crate::Strictness;

impl PolicyBuilder {
    /// Resolves and checks every rule and freezes the policy.
    ///
    /// # Errors
    /// [`PolicyError`], naming the rule and where it came from, when a rule
    /// is malformed, a granted program or directory does not exist.
    pub fn build(mut self) -> Result<Policy, PolicyError> {
        let search_path = self.search_path.take().unwrap_or_else(SearchPath::from_env);
        let start_dir = self.canonical_start_dir()?;
        let mut warnings = Vec::new();
        let grants = build_layer(&self.grants, |s| resolve_rule(s, &start_dir, &search_path, None))?;
        let manifest = match &self.manifest {
            None => None,
            Some((path, spec)) => Some((
                path.clone(),
                build_layer(spec, |s| resolve_rule(s, &start_dir, &search_path, Some(&mut warnings)))?,
            )),
        };
        let host_env = self.host_env.take().unwrap_or_else(|| std::env::vars().collect());
        let home = host_env
            .iter()
            .find(|(k, _)| k == "HOME")
            .and_then(|(_, v)| PathBuf::from(v).canonicalize().ok());
        let passed_env = passed_env(host_env, &grants, manifest.as_ref().map(|(_, m)| m));
        let canonical_all = |dirs: &[PathBuf]| dirs.iter().map(|d| canonical_dir(d)).collect::<Result<Vec<_>, _>>();
        let (dirs, read_dirs, write_dirs) = (
            canonical_all(&self.dirs)?,
            canonical_all(&self.read_dirs)?,
            canonical_all(&self.write_dirs)?,
        );
        let homes = crate::policy::home::homes(home.as_deref());
        let state_dirs = crate::policy::protected::state_dirs();
        let write_set = WriteSet::of(&write_dirs, &state_dirs, &homes).map_err(|e| PolicyError::Dir {
            path: write_dirs.first().cloned().unwrap_or_default(),
            reason: e.to_string(),
        })?;
        refuse_symlinked_protection(&self.write_dirs, &write_dirs, &state_dirs)?;
        warnings.extend(split_write_grants(&write_dirs, &write_set));
        let granted: Vec<&PathBuf> = dirs.iter().chain(&read_dirs).chain(&write_dirs).collect();
        warnings.extend(exposed_programs(&grants, &write_set, &granted, self.strict_programs)?);
        let confinement = self.confinement(&start_dir, &search_path)?;
        let start_dir_readable = start_dir_grantable(&start_dir, &homes);
        if !start_dir_readable && confinement.mode != Strictness::Off {
            warnings.push(PolicyWarning::StartDirNotGranted { dir: start_dir.clone() });
        }
        warnings.extend(crate::policy::breadth::broad_grants(
            &grants.allow,
            &write_dirs,
            &state_dirs,
            fully_confined(&confinement),
        ));
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
        let shims = crate::policy::shims::blocked_shims(&policy);
        policy.warnings.extend(shims);
        Ok(policy)
    }

    /// The start directory given, or the current one, canonical.
    fn canonical_start_dir(&self) -> Result<PathBuf, PolicyError> {
        let start_dir = match &self.start_dir {
            Some(dir) => dir.clone(),
            None => std::env::current_dir().map_err(|e| PolicyError::Dir {
                path: PathBuf::from("."),
                reason: e.to_string(),
            })?,
        };
        canonical_dir(&start_dir)
    }

    /// The children's confinement: modes, network grants and helpers, parsed
    /// and resolved.
    fn confinement(&self, start_dir: &Path, search_path: &SearchPath) -> Result<Confinement, PolicyError> {
        Ok(Confinement {
            mode: self.confine.unwrap_or(Strictness::CONFINE_DEFAULT),
            contain: self.contain.unwrap_or(Strictness::CONTAIN_DEFAULT),
            net: child_net(&self.child_net)?,
            helpers: self
                .helpers
                .iter()
                .map(|(written, source)| helper(written, source, start_dir, search_path))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// The host's variables that both the grants and the manifest (if any)
/// pass to children.
fn passed_env(host_env: Vec<(String, String)>, grants: &Layer, manifest: Option<&Layer>) -> Vec<(String, String)> {
    host_env
        .into_iter()
        .filter(|(name, _)| {
            grants.env.iter().any(|r| r.passes(name)) && manifest.is_none_or(|m| m.env.iter().any(|r| r.passes(name)))
        })
        .collect()
}

/// Whether children run with every rung the breadth warnings count on: a
/// Landlock ABI that handles truncation, seccomp, and confinement on.
fn fully_confined(confinement: &Confinement) -> bool {
    crate::Enforcement::decide(confinement.mode, &confinement.net, crate::KernelSupport::get())
        .is_ok_and(|e| e.abi >= crate::sandbox::probe::ABI_FILES && e.seccomp && e.active())
}

/// A warning for each write grant that holds protected paths, which stay
/// read-only inside it.
fn split_write_grants<'a>(
    write_dirs: &'a [PathBuf],
    write_set: &'a WriteSet,
) -> impl Iterator<Item = PolicyWarning> + 'a {
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
        })
}

/// Whether the start directory may be granted to children: not `/`, not a
/// directory that is or holds one of the user's `homes` (`$HOME` and the
/// account's home from the password database, see [`crate::policy::home::homes`]:
/// an unset or changed `HOME` must not open `~/.ssh`) or everybody's
/// (`/home`, `/tmp`, ...), and nothing inside the system's own trees
/// (`/etc`, `/root`, `/var`, ...), where procbox is started by services,
/// cron and containers.
pub(super) fn start_dir_grantable(start: &Path, homes: &[PathBuf]) -> bool {
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
        net.add(written).map_err(|e| PolicyError::Rule {
            origin: source.clone(),
            message: e.to_string(),
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
        if let Some(protection) = crate::policy::protected::reached_through_symlink(&absolute, canonical, state) {
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
    write_set: &crate::policy::protected::WriteSet,
    granted: &[&PathBuf],
    strict: bool,
) -> Result<Vec<PolicyWarning>, PolicyError> {
    let exposed = crate::policy::exposure::exposed_programs(&grants.allow, write_set, granted);
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
            EnvRule::parse(written, source.clone()).map_err(|e| PolicyError::Rule {
                origin: source.clone(),
                message: e.to_string(),
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
pub(in crate::policy) fn resolve_rule(
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
                reason: Box::new(reason),
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
