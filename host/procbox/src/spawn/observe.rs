//! The observers procbox ships: the audit log and `procbox -v`. Each sees
//! the final verdict of every request (see [`crate::spawn::hooks::Observer`]), so
//! what they record is what happened.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::exit::Termination;
use crate::gate::render::command_line;
use crate::gate::SpawnError;
use crate::gate::{Decision, SpawnRequest};
use crate::spawn::hooks::{ExitEvent, Observer};

/// Writes one JSON object per line for every decision and exit. Variable
/// values are never written, only names. Each line is flushed as it is
/// written, so a crash leaves complete lines.
pub struct AuditLog {
    file: Mutex<std::fs::File>,
}

impl AuditLog {
    /// Appends to `path`, creating it if needed.
    ///
    /// # Errors
    /// If the file cannot be opened for appending.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog { file: Mutex::new(file) })
    }

    fn write(&self, record: serde_json::Value) {
        let mut line = record.to_string();
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(line.as_bytes()) {
            tracing::error!("audit log write failed: {e}");
        }
    }
}

impl Observer for AuditLog {
    fn on_verdict(&self, request: &SpawnRequest, verdict: Result<&Decision, &SpawnError>) {
        let env_names: Vec<&str> = request.env.iter().map(|(k, _)| k.as_str()).collect();
        let record = match verdict {
            Ok(permit) => json!({
                "ts_ms": now_ms(),
                "event": "decision",
                "decision": "allowed",
                "program": permit.program(),
                "argv": std::iter::once(permit.arg0()).chain(permit.args().iter().map(String::as_str)).collect::<Vec<_>>(),
                "cwd": permit.cwd(),
                "env": permit.env().iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
                "rule": permit.rule(),
                "confinement": permit.confinement(),
            }),
            Err(err) => json!({
                "ts_ms": now_ms(),
                "event": "decision",
                "decision": error_kind(err),
                "program": request.program,
                "argv": std::iter::once(request.program.as_str()).chain(request.args.iter().map(String::as_str)).collect::<Vec<_>>(),
                "cwd": request.cwd,
                "env": env_names,
                "reason": err.to_string(),
            }),
        };
        self.write(record);
    }

    fn on_exit(&self, exit: &ExitEvent<'_>) {
        let mut record = json!({
            "ts_ms": now_ms(),
            "event": "exit",
            "pid": exit.pid,
            "program": exit.program,
            "args": exit.args,
        });
        match exit.status {
            Ok(status) => {
                let (code, signal) = match status.termination {
                    Termination::Exited(code) => (Some(code), None),
                    Termination::Signalled(signal) => (None, Some(signal)),
                };
                record["code"] = json!(code);
                record["signal"] = json!(signal);
                record["duration_ms"] = json!(status.duration.as_secs_f64() * 1e3);
                record["timed_out"] = json!(status.timed_out);
                record["output_truncated"] = json!(status.output_truncated);
                record["user_cpu_ms"] = json!(status.usage.user_cpu.as_secs_f64() * 1e3);
                record["system_cpu_ms"] = json!(status.usage.system_cpu.as_secs_f64() * 1e3);
                record["max_rss_bytes"] = json!(status.usage.max_rss_bytes);
            }
            Err(err) => record["error"] = json!(err.to_string()),
        }
        self.write(record);
    }
}

/// Reports every command and how it ended on stderr (through `tracing`,
/// target `procbox::verbose`), like execa's verbose mode: `procbox -v`.
pub struct VerboseLog;

impl Observer for VerboseLog {
    fn on_verdict(&self, request: &SpawnRequest, verdict: Result<&Decision, &SpawnError>) {
        match verdict {
            Ok(permit) => tracing::info!(target: "procbox::verbose", "$ {}", permit.command_line()),
            Err(err) => tracing::warn!(target: "procbox::verbose", "refused {}: {err}", request.program),
        }
    }

    fn on_exit(&self, exit: &ExitEvent<'_>) {
        let command = command_line(exit.program, exit.args);
        match exit.status {
            Ok(status) => {
                let how = match status.termination {
                    Termination::Exited(code) => format!("exit code {code}"),
                    Termination::Signalled(signal) => format!("signal {signal}"),
                };
                let extra = match (status.timed_out, status.output_truncated) {
                    (true, _) => " (timed out)",
                    (_, true) => " (output over the cap)",
                    _ => "",
                };
                tracing::info!(target: "procbox::verbose", "[{}] {command}: {how}{extra} after {:.3}s", exit.pid, status.duration.as_secs_f64());
            }
            Err(err) => tracing::warn!(target: "procbox::verbose", "[{}] {command}: {err}", exit.pid),
        }
    }
}

/// `allowed`/`denied`/… as the log names an outcome.
fn error_kind(err: &SpawnError) -> &'static str {
    match err {
        SpawnError::Denied(_) => "denied",
        SpawnError::NotFound(_) => "not-found",
        SpawnError::InvalidInput(_) => "invalid-input",
        SpawnError::LimitExceeded(_) => "limit-exceeded",
        SpawnError::Io { .. } | SpawnError::Launcher { .. } | SpawnError::StatusLost(_) => "io-error",
        SpawnError::Aborted { .. } => "aborted",
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}
