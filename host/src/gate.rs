//! The one gate: every path that can start a process passes through
//! [`Gate::check`].
//!
//! The gate turns a [`SpawnRequest`] into a [`Permit`]. A `Permit` can only
//! be made here, and the supervisor ([`crate::supervisor`]) spawns only from
//! a `Permit`, so no code path can start a process that the gate has not
//! judged. `procbox explain` calls the same function.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::SpawnError;
use crate::policy::Policy;
use crate::resolve::resolve_program;

/// What a plugin asks to run, before any checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpawnRequest {
    /// The program as the plugin wrote it.
    pub program: String,
    /// The arguments, without the program name.
    pub args: Vec<String>,
    /// The child's whole environment.
    pub env: Vec<(String, String)>,
    /// The working directory, if the plugin chose one.
    pub cwd: Option<String>,
}

/// A request that the gate allowed, with everything resolved. Only the gate
/// can make one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    program: PathBuf,
    arg0: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
}

impl Permit {
    /// The canonical path of the binary that will run.
    pub fn program(&self) -> &Path {
        &self.program
    }
    /// `argv[0]`: the program as the plugin wrote it (multi-call binaries
    /// such as busybox look at it).
    pub fn arg0(&self) -> &str {
        &self.arg0
    }
    /// The arguments after `argv[0]`.
    pub fn args(&self) -> &[String] {
        &self.args
    }
    /// The child's whole environment.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }
    /// The canonical working directory.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }
}

/// Environment variables that make the dynamic loader run code of the
/// caller's choosing inside the child, whatever binary the policy allowed.
const LOADER_INJECTION_PREFIXES: &[&str] = &["LD_", "DYLD_"];

/// Judges spawn requests against one [`Policy`].
#[derive(Debug, Clone)]
pub struct Gate {
    policy: Arc<Policy>,
}

impl Gate {
    /// A gate for `policy`.
    pub fn new(policy: Arc<Policy>) -> Self {
        Gate { policy }
    }

    /// The policy this gate enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Decides `request`.
    ///
    /// # Errors
    /// [`SpawnError::InvalidInput`] for a malformed request,
    /// [`SpawnError::NotFound`] when the program does not exist, and
    /// [`SpawnError::Denied`] when the policy does not grant it; the message
    /// names the request and the reason.
    pub fn check(&self, request: &SpawnRequest) -> Result<Permit, SpawnError> {
        self.check_size(request)?;
        let cwd = self.check_cwd(request.cwd.as_deref())?;
        let program = resolve_program(&request.program, &cwd, &self.policy.search_path)?;
        self.check_program(request, &program)?;
        check_env(&request.env)?;
        Ok(Permit {
            program,
            arg0: request.program.clone(),
            args: request.args.clone(),
            env: request.env.clone(),
            cwd,
        })
    }

    fn check_size(&self, request: &SpawnRequest) -> Result<(), SpawnError> {
        let limits = &self.policy.request_limits;
        let args = request.args.iter().map(|a| a.len());
        let env = request.env.iter().map(|(k, v)| k.len() + 1 + v.len());
        let sizes: Vec<usize> = args.chain(env).collect();
        if sizes.len() > limits.max_items {
            return Err(SpawnError::InvalidInput(format!(
                "{}: {} arguments and variables, more than the limit of {}",
                request.program,
                sizes.len(),
                limits.max_items
            )));
        }
        if let Some(longest) = sizes.iter().copied().max().filter(|&n| n > limits.max_string_bytes) {
            return Err(SpawnError::InvalidInput(format!(
                "{}: an argument or variable of {longest} bytes is longer than the limit of {} bytes",
                request.program, limits.max_string_bytes
            )));
        }
        let total: usize = sizes.iter().map(|n| n + 1).sum();
        if total > limits.max_total_bytes {
            return Err(SpawnError::InvalidInput(format!(
                "{}: the arguments and variables take {total} bytes, more than the limit of {} bytes",
                request.program, limits.max_total_bytes
            )));
        }
        if let Some(arg) = request.args.iter().find(|a| a.contains('\0')) {
            return Err(SpawnError::InvalidInput(format!(
                "{}: the argument {arg:?} contains a NUL byte",
                request.program
            )));
        }
        Ok(())
    }

    /// The canonical working directory, which must lie in a granted root.
    fn check_cwd(&self, cwd: Option<&str>) -> Result<PathBuf, SpawnError> {
        let Some(cwd) = cwd else {
            return Ok(self.policy.start_dir.clone());
        };
        if cwd.contains('\0') {
            return Err(SpawnError::InvalidInput(format!(
                "the working directory {cwd:?} contains a NUL byte"
            )));
        }
        let joined = self.policy.start_dir.join(cwd);
        let canonical = joined
            .canonicalize()
            .map_err(|e| SpawnError::InvalidInput(format!("working directory {cwd}: {e}")))?;
        if !canonical.is_dir() {
            return Err(SpawnError::InvalidInput(format!(
                "working directory {cwd}: not a directory"
            )));
        }
        if !self.policy.dirs.iter().any(|root| canonical.starts_with(root)) {
            return Err(SpawnError::Denied(format!(
                "working directory {} is outside the granted directories ({})",
                canonical.display(),
                join_paths(&self.policy.dirs)
            )));
        }
        Ok(canonical)
    }

    fn check_program(&self, request: &SpawnRequest, program: &Path) -> Result<(), SpawnError> {
        if self.policy.programs.iter().any(|grant| grant.path == program) {
            return Ok(());
        }
        let command_line = std::iter::once(program.display().to_string())
            .chain(request.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let granted: Vec<PathBuf> = self.policy.programs.iter().map(|g| g.path.clone()).collect();
        let granted = if granted.is_empty() {
            "nothing".to_string()
        } else {
            join_paths(&granted)
        };
        Err(SpawnError::Denied(format!(
            "{command_line}: no --allow-run rule grants {} (granted: {granted})",
            program.display()
        )))
    }
}

fn check_env(env: &[(String, String)]) -> Result<(), SpawnError> {
    for (name, value) in env {
        if name.is_empty() || name.contains('=') || name.contains('\0') || value.contains('\0') {
            return Err(SpawnError::InvalidInput(format!(
                "environment variable {name:?}: a name must be non-empty without '=' or NUL, and a value without NUL"
            )));
        }
        if LOADER_INJECTION_PREFIXES.iter().any(|prefix| name.starts_with(prefix)) {
            return Err(SpawnError::Denied(format!(
                "environment variable {name}: it tells the dynamic loader to run other code inside the child, so it is never passed unless granted by exact name"
            )));
        }
    }
    Ok(())
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{PolicyBuilder, RequestLimits};
    use crate::resolve::SearchPath;
    use std::ffi::OsStr;

    fn gate(programs: &[&str]) -> Gate {
        let mut builder = PolicyBuilder::new()
            .start_dir("/usr")
            .search_path(SearchPath::parse(OsStr::new("/usr/bin:/bin")));
        for p in programs {
            builder = builder.allow_run(*p);
        }
        Gate::new(Arc::new(builder.build().unwrap()))
    }

    fn request(program: &str, args: &[&str]) -> SpawnRequest {
        SpawnRequest {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn verdict(gate: &Gate, request: &SpawnRequest) -> String {
        match gate.check(request) {
            Ok(permit) => format!("allowed {}", permit.program().display()),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn decisions() {
        let cat = Path::new("/usr/bin/cat").canonicalize().unwrap();
        let g = gate(&["cat"]);
        let cases: &[(SpawnRequest, &str)] = &[
            // the granted program by name
            (request("cat", &["-n"]), "allowed"),
            // the same file by absolute path
            (request(cat.to_str().unwrap(), &[]), "allowed"),
            // the same file by a path relative to the default cwd (/usr)
            (request("./bin/cat", &[]), "allowed"),
            // anything not granted
            (request("rm", &["-rf", "/"]), "denied"),
            // a program that does not exist is reported as such, not as denied
            (request("no-such-program-procbox", &[]), "not found"),
            // an empty program is malformed
            (request("", &[]), "invalid input"),
            // a NUL byte in an argument would be truncated by exec
            (request("cat", &["a\0b"]), "invalid input"),
            // a cwd outside the granted roots
            (
                SpawnRequest {
                    cwd: Some("/etc".into()),
                    ..request("cat", &[])
                },
                "denied",
            ),
            // `..` cannot climb out of the root
            (
                SpawnRequest {
                    cwd: Some("bin/../..".into()),
                    ..request("cat", &[])
                },
                "denied",
            ),
            // a cwd inside the root is fine
            (
                SpawnRequest {
                    cwd: Some("bin/../lib".into()),
                    ..request("cat", &[])
                },
                "allowed",
            ),
            // a missing cwd is malformed, not denied
            (
                SpawnRequest {
                    cwd: Some("no-such-dir".into()),
                    ..request("cat", &[])
                },
                "invalid input",
            ),
            // loader injection is refused
            (
                SpawnRequest {
                    env: vec![("LD_PRELOAD".into(), "/tmp/x.so".into())],
                    ..request("cat", &[])
                },
                "denied",
            ),
            (
                SpawnRequest {
                    env: vec![("DYLD_INSERT_LIBRARIES".into(), "x".into())],
                    ..request("cat", &[])
                },
                "denied",
            ),
            // malformed variable names
            (
                SpawnRequest {
                    env: vec![("A=B".into(), "x".into())],
                    ..request("cat", &[])
                },
                "invalid input",
            ),
            (
                SpawnRequest {
                    env: vec![("".into(), "x".into())],
                    ..request("cat", &[])
                },
                "invalid input",
            ),
            // ordinary variables pass
            (
                SpawnRequest {
                    env: vec![("LANG".into(), "C".into())],
                    ..request("cat", &[])
                },
                "allowed",
            ),
        ];
        for (request, expected) in cases {
            let got = verdict(&g, request);
            assert!(got.starts_with(expected), "{request:?}: expected {expected}, got {got}");
        }
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        let got = verdict(&gate(&[]), &request("true", &[]));
        assert!(got.starts_with("denied"), "{got}");
        assert!(got.contains("granted: nothing"), "{got}");
    }

    #[test]
    fn a_denial_names_the_resolved_program_and_the_request() {
        let err = gate(&["cat"])
            .check(&request("rm", &["-rf", "/x"]))
            .unwrap_err()
            .to_string();
        let rm = Path::new("/usr/bin/rm").canonicalize().unwrap();
        assert!(err.contains(&format!("{} -rf /x", rm.display())), "{err}");
        assert!(err.contains("no --allow-run rule grants"), "{err}");
    }

    #[test]
    fn oversized_requests_are_clear_errors() {
        let policy = PolicyBuilder::new()
            .start_dir("/")
            .allow_run("/bin/true")
            .request_limits(RequestLimits {
                max_string_bytes: 10,
                max_total_bytes: 30,
                max_items: 3,
            })
            .build()
            .unwrap();
        let g = Gate::new(Arc::new(policy));
        let cases = [
            (vec!["a"; 4], "more than the limit of 3"),
            (vec!["0123456789a"], "longer than the limit of 10 bytes"),
            (
                vec!["0123456789", "0123456789", "0123456789"],
                "more than the limit of 30 bytes",
            ),
        ];
        for (args, expected) in cases {
            let err = verdict(&g, &request("/bin/true", &args));
            assert!(
                err.starts_with("invalid input") && err.contains(expected),
                "{args:?}: {err}"
            );
        }
    }
}
