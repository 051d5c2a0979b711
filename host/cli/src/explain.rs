//! `procbox explain`: a dry run of one spawn request through the very gate
//! a plugin's spawn goes through.

use std::sync::Arc;

use std::path::Path;

use procbox::sandbox::plan::{Planner, TreePlan};
use procbox::{Gate, Policy, SpawnError, SpawnRequest};

use super::failure::Failure;
use super::output::emit;

/// Exit status when the request would be allowed.
pub const EXIT_ALLOWED: u8 = 0;
/// Exit status when it would be refused.
pub const EXIT_DENIED: u8 = 3;

/// Decides `request` and prints the verdict; returns the exit status.
///
/// # Errors
/// If stdout cannot be written.
pub fn explain(policy: Policy, request: SpawnRequest) -> Result<u8, Failure> {
    let enforcement = policy.enforcement();
    let policy = Arc::new(policy);
    let gate = Gate::new(policy.clone());
    let mut out = String::new();
    let status = match gate.decide(&request) {
        Ok(permit) => {
            outln!(out, "allowed: {}: {}", permit.command_line(), permit.rule());
            outln!(out, "  cwd: {}", permit.cwd().display());
            let names: Vec<&str> = permit.env().iter().map(|(k, _)| k.as_str()).collect();
            outln!(
                out,
                "  env: {}",
                if names.is_empty() {
                    "(empty)".to_string()
                } else {
                    names.join(" ")
                }
            );
            if let Some(limit) = permit.max_runtime() {
                outln!(out, "  runtime ceiling: {}", humantime::format_duration(limit));
            }
            // The deny rules it was checked against, in the form they are
            // matched as (a positional one with an option matches anywhere).
            for deny in policy
                .grants()
                .deny_rules()
                .iter()
                .filter(|r| r.path == permit.program())
            {
                outln!(out, "  not matched by deny rule {deny}");
            }
            match &enforcement {
                Ok(enforcement) if enforcement.active() => {
                    outln!(out, "  confinement: {}", enforcement.summary());
                    let tmp = Path::new("$TMPDIR");
                    let tree = TreePlan {
                        pid_namespace: policy.containment().is_ok_and(|c| c.pid_namespace),
                        cgroups: Vec::new(),
                        run: 0,
                    };
                    let plan = Planner::plan(&policy, enforcement, &tree, permit.program(), tmp);
                    out.push_str(&plan.describe());
                    outln!(out, "  ($TMPDIR is a private directory per run, removed when it ends)");
                }
                Ok(enforcement) => outln!(out, "  confinement: {}", enforcement.summary()),
                Err(e) => outln!(out, "  confinement: the run would be refused: {e}"),
            }
            for protection in &policy.write_set().protected {
                outln!(out, "  protected, read-only unless granted by name: {protection}");
            }
            match policy.containment() {
                Ok(containment) => {
                    outln!(out, "  containment: {}", containment.summary());
                    if policy.limits().die_with_host == Some(true) {
                        outln!(out, "  die-with-procbox: {}", containment.death_signal_summary());
                    }
                }
                Err(e) => outln!(out, "  containment: the run would be refused: {e}"),
            }
            EXIT_ALLOWED
        }
        Err(SpawnError::Denied(denial)) => {
            outln!(out, "denied: {}", denial.render(&super::fixes::Flags));
            EXIT_DENIED
        }
        Err(other) => {
            outln!(out, "denied ({other})");
            EXIT_DENIED
        }
    };
    emit(&out)?;
    Ok(status)
}
