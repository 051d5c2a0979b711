//! The gate: judges a [`SpawnRequest`] against the policy. Pure: it counts
//! nothing and reserves nothing, so `procbox explain` and embedders can ask
//! it anything. The spawner (`Spawner`, in the spawn layer above) is the
//! one place that acts on its verdict (hooks, limits, the spawn itself).
//!
//! The decision layer's judge: it owns the verdict ([`Decision`],
//! [`Refusal`]), the errors a request can end in ([`SpawnError`]) and the
//! fixes as data ([`fix`]). It may use the policy, program resolution
//! (`resolve`) and the redirect types (`redirect`); nothing that acts, and
//! no layer above it.
//!
//! The order of checks, and so which reason a refusal gives:
//! 1. request size and NUL bytes (invalid input);
//! 2. the working directory (must exist, and lie in a granted directory);
//! 3. the program (resolved to its canonical file; missing = not found);
//! 4. deny rules of the grants (a match refuses, whatever else allows);
//! 5. allow rules of the grants, then rules granted during the run;
//! 6. the manifest, if any (one of its requests must match); a request that
//!    passes 4 and 6 but matches no allow rule is the only refusal that may
//!    be escalated ([`Refusal::Unmatched`]);
//! 7. the sha256 pin of the allowing rule, if any;
//! 8. every variable the plugin sets (grants, then manifest);
//! 9. the standard streams (inheriting needs a grant; files in granted
//!    directories).

mod decision;
mod error;
pub mod fix;
mod paths;
mod pin;
pub(crate) mod render;
pub mod suggest;

use std::path::Path;
use std::sync::Arc;

pub use decision::{Decision, Refusal, SpawnRequest, Unmatched};
pub use error::{
    Absence, BadCwd, BadFile, Exceeded, Invalid, Limit, Missing, OsError, OtherStream, SpawnError, StatusLost,
};

use crate::policy::rule::ExecRule;
use crate::policy::Policy;
use crate::resolve::resolve_program;

use pin::DigestCache;
use render::{command_line, env_denial, hex, no_match_reason};

/// Judges spawn requests against one [`Policy`].
#[derive(Debug, Clone)]
pub struct Gate {
    policy: Arc<Policy>,
    digests: DigestCache,
}

impl Gate {
    /// A gate for `policy`.
    pub fn new(policy: Arc<Policy>) -> Self {
        Gate {
            policy,
            digests: DigestCache::default(),
        }
    }

    /// The policy this gate enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Decides `request` against the policy alone.
    ///
    /// # Errors
    /// [`SpawnError::InvalidInput`] for a malformed request,
    /// [`SpawnError::NotFound`] when the program does not exist, and
    /// [`SpawnError::Denied`] when a rule refuses it (the message names the
    /// request, the rule and its source).
    pub fn decide(&self, request: &SpawnRequest) -> Result<Decision, SpawnError> {
        self.judge(request, &[]).map_err(Refusal::into_error)
    }

    /// The program as a suggested rule names it: as the plugin wrote it
    /// when that is a bare name found through the search path, else the
    /// file it resolved to.
    fn rule_program(&self, requested: &str, resolved: &Path) -> String {
        match requested.contains('/') {
            false => requested.to_string(),
            true => resolved.to_string_lossy().into_owned(),
        }
    }

    /// Decides `request`, counting `granted` (rules added during the run)
    /// as allow rules after the policy's own.
    ///
    /// # Errors
    /// A [`Refusal`]: [`Refusal::Unmatched`] when only a missing allow rule
    /// stands in the way, else [`Refusal::Final`] with the errors of
    /// [`decide`](Self::decide).
    pub fn judge(&self, request: &SpawnRequest, granted: &[ExecRule]) -> Result<Decision, Refusal> {
        self.check_size(request)?;
        let (cwd, cwd_root) = paths::check_cwd(&self.policy, request.cwd.as_deref())?;
        let program = resolve_program(&request.program, &cwd, &self.policy.search_path).map_err(SpawnError::from)?;
        let line = command_line(&program, &request.args);
        let Some(allowing) = self.check_exec(&line, &program, &request.args, granted)? else {
            let fix = suggest::exec_rule(&self.rule_program(&request.program, &program), &request.args);
            return Err(Refusal::Unmatched(Unmatched {
                reason: no_match_reason(&self.policy.grants.allow, &program),
                fix: Box::new(fix),
                program,
                args: request.args.clone(),
                cwd,
            }));
        };
        self.check_pin(&line, &program, allowing)?;
        let env = self.check_env(&request.program, &request.env)?;
        let stdio = paths::check_stdio(&self.policy, &line, &cwd, &request.stdio)?;
        let limits = &self.policy.limits;
        Ok(Decision {
            program,
            // The rule, not the plugin, names the program: a multi-call
            // binary (busybox, pg_wrapper) picks its tool from argv[0].
            arg0: allowing.program.clone(),
            args: request.args.clone(),
            env,
            cwd,
            cwd_root,
            stdio,
            rule: format!("allow rule {allowing}"),
            max_runtime: limits.max_runtime,
            max_output_bytes: limits.max_output_bytes,
            rlimits: limits.rlimits,
            die_with_host: limits.die_with_host == Some(true),
            confinement: None,
        })
    }

    fn check_size(&self, request: &SpawnRequest) -> Result<(), SpawnError> {
        let limits = &self.policy.request_limits;
        let args = request.args.iter().map(|a| a.len());
        let env = request.env.iter().map(|(k, v)| k.len() + 1 + v.len());
        let sizes: Vec<usize> = args.chain(env).collect();
        let program = &request.program;
        if sizes.len() > limits.max_items {
            return Err(Invalid::TooManyItems {
                program: program.clone(),
                count: sizes.len(),
                max: limits.max_items,
            }
            .into());
        }
        if let Some(longest) = sizes.iter().copied().max().filter(|&n| n > limits.max_string_bytes) {
            return Err(Invalid::TooLong {
                program: program.clone(),
                bytes: longest,
                max: limits.max_string_bytes,
            }
            .into());
        }
        let total: usize = sizes.iter().map(|n| n + 1).sum();
        if total > limits.max_total_bytes {
            return Err(Invalid::TooLarge {
                program: program.clone(),
                bytes: total,
                max: limits.max_total_bytes,
            }
            .into());
        }
        if let Some(arg) = request.args.iter().find(|a| a.contains('\0')) {
            return Err(Invalid::ArgumentNul {
                program: program.clone(),
                argument: arg.clone(),
            }
            .into());
        }
        Ok(())
    }

    /// Deny rules, allow rules (the policy's, then those granted during
    /// the run), then the manifest. Returns the allowing rule, or `None`
    /// when nothing refuses the request but nothing grants it either.
    /// A request the manifest does not list is refused for good: a prompt
    /// must never offer what the plugin itself did not ask for.
    fn check_exec<'a>(
        &'a self,
        line: &str,
        program: &Path,
        args: &[String],
        granted: &'a [ExecRule],
    ) -> Result<Option<&'a ExecRule>, SpawnError> {
        let grants = &self.policy.grants;
        if let Some(deny) = grants.deny.iter().find(|r| r.matches(program, args)) {
            return Err(SpawnError::denied(format!("{line}: matches deny rule {deny}")));
        }
        let allowing = grants.allow.iter().chain(granted).find(|r| r.matches(program, args));
        if let Some((path, manifest)) = &self.policy.manifest {
            if !manifest.allow.iter().any(|r| r.matches(program, args)) {
                return Err(SpawnError::denied(match allowing {
                    None => format!("{line}: {}", no_match_reason(&grants.allow, program)),
                    Some(_) => format!("{line}: the plugin's manifest ({}) does not request it", path.display()),
                }));
            }
        }
        Ok(allowing)
    }

    fn check_pin(&self, line: &str, program: &Path, rule: &ExecRule) -> Result<(), SpawnError> {
        let Some(expected) = rule.sha256 else { return Ok(()) };
        let actual = self
            .digests
            .digest(program)
            .map_err(|e| SpawnError::io(format_args!("hashing {}", program.display()), e))?;
        if actual == expected {
            return Ok(());
        }
        Err(SpawnError::denied(format!(
            "{line}: the sha256 of {} is {}, but rule {rule} pins {}",
            program.display(),
            hex(&actual),
            hex(&expected)
        )))
    }

    /// The child's environment: passed-through variables, plus each variable
    /// the plugin sets if both layers allow it.
    fn check_env(&self, program: &str, vars: &[(String, String)]) -> Result<Vec<(String, String)>, SpawnError> {
        let mut env = self.policy.passed_env.clone();
        for (name, value) in vars {
            if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
                return Err(Invalid::Variable {
                    program: program.to_string(),
                    name: name.clone(),
                }
                .into());
            }
            if !self.policy.grants.env.iter().any(|r| r.allows_setting(name, value)) {
                let rules = &self.policy.grants.env;
                return Err(SpawnError::Denied(env_denial(program, name, value, rules)));
            }
            if let Some((path, manifest)) = &self.policy.manifest {
                if !manifest.env.iter().any(|r| r.allows_setting(name, value)) {
                    return Err(SpawnError::denied(format!(
                        "{program}: environment variable {name}: the plugin's manifest ({}) does not request it",
                        path.display()
                    )));
                }
            }
            env.retain(|(n, _)| n != name);
            env.push((name.clone(), value.clone()));
        }
        Ok(env)
    }
}
