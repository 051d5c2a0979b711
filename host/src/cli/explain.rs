//! `procbox explain`: a dry run of one spawn request through the very gate
//! a plugin's spawn goes through.

use std::sync::Arc;

use procbox::{Gate, Policy, SpawnError, SpawnRequest};

/// Exit status when the request would be allowed.
pub const EXIT_ALLOWED: u8 = 0;
/// Exit status when it would be refused.
pub const EXIT_DENIED: u8 = 3;

/// Decides `request` and prints the verdict; returns the exit status.
pub fn explain(policy: Policy, request: SpawnRequest) -> u8 {
    let gate = Gate::new(Arc::new(policy));
    match gate.check(&request) {
        Ok(permit) => {
            println!("allowed: {}: {}", permit.command_line(), permit.rule());
            println!("  cwd: {}", permit.cwd().display());
            let names: Vec<&str> = permit.env().iter().map(|(k, _)| k.as_str()).collect();
            println!(
                "  env: {}",
                if names.is_empty() {
                    "(empty)".to_string()
                } else {
                    names.join(" ")
                }
            );
            if let Some(limit) = permit.max_runtime() {
                println!("  runtime ceiling: {}", humantime::format_duration(limit));
            }
            EXIT_ALLOWED
        }
        Err(SpawnError::Denied(message)) => {
            println!("denied: {message}");
            EXIT_DENIED
        }
        Err(other) => {
            println!("denied ({other})");
            EXIT_DENIED
        }
    }
}
