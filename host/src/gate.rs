//! The one gate: every path that can start a process passes through
//! [`Gate::check`].
//!
//! The gate turns a [`SpawnRequest`] into a [`Permit`]. A `Permit` can only
//! be made here, and the supervisor ([`crate::supervisor`]) spawns only from
//! a `Permit`, so no code path can start a process that the gate has not
//! judged. `procbox explain` calls the same function.
//!
//! The order of checks, and so which reason a denial gives:
//! 1. request size and NUL bytes (invalid input);
//! 2. the working directory (must exist, and lie in a granted directory);
//! 3. the program (resolved to its canonical file; missing = not found);
//! 4. deny rules of the grants (a match denies, whatever else allows);
//! 5. allow rules of the grants (one must match);
//! 6. the manifest, if any (one of its requests must match);
//! 7. the sha256 pin of the allowing rule, if any;
//! 8. every variable the plugin sets (grants, then manifest);
//! 9. the limits on children at once and in total (limit exceeded).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::SpawnError;
use crate::policy::env::is_injection;
use crate::policy::rule::ExecRule;
use crate::policy::{ChildRlimits, Policy};
use crate::redirect::{Redirect, Redirects, Target};
use crate::resolve::resolve_program;

/// What a plugin asks to run, before any checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpawnRequest {
    /// Where the child's standard streams go (default: all null).
    pub stdio: Redirects<Redirect>,
    /// The program as the plugin wrote it.
    pub program: String,
    /// The arguments, without the program name.
    pub args: Vec<String>,
    /// Variables the plugin sets for the child.
    pub env: Vec<(String, String)>,
    /// The working directory, if the plugin chose one.
    pub cwd: Option<String>,
}

/// A request that the gate allowed, with everything resolved. Only the gate
/// can make one. While it (or the child started from it) lives, it holds
/// one of the policy's concurrent-children slots.
#[derive(Debug)]
pub struct Permit {
    program: PathBuf,
    arg0: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    stdio: Redirects<Target>,
    rule: String,
    max_runtime: Option<Duration>,
    max_output_bytes: Option<u64>,
    rlimits: ChildRlimits,
    die_with_host: bool,
    slot: ChildSlot,
}

impl Permit {
    /// The canonical path of the binary that will run.
    pub fn program(&self) -> &Path {
        &self.program
    }
    /// `argv[0]`: the program as the allowing rule wrote it. Multi-call
    /// binaries (busybox, pg_wrapper) choose their tool from it, so letting
    /// the plugin choose would let `--allow-run cat` run busybox's `rm`.
    pub fn arg0(&self) -> &str {
        &self.arg0
    }
    /// The arguments after `argv[0]`.
    pub fn args(&self) -> &[String] {
        &self.args
    }
    /// The child's whole environment: passed-through host variables plus
    /// those the plugin set.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }
    /// The canonical working directory.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }
    /// Where the child's standard streams go.
    pub fn stdio(&self) -> &Redirects<Target> {
        &self.stdio
    }
    /// The rule that allowed the request, with its source.
    pub fn rule(&self) -> &str {
        &self.rule
    }
    /// The policy's ceiling on the child's run time.
    pub fn max_runtime(&self) -> Option<Duration> {
        self.max_runtime
    }
    /// The policy's cap on the child's captured output.
    pub fn max_output_bytes(&self) -> Option<u64> {
        self.max_output_bytes
    }
    /// Kernel resource limits to set in the child.
    pub fn rlimits(&self) -> &ChildRlimits {
        &self.rlimits
    }
    /// Whether the child must die with procbox (`PR_SET_PDEATHSIG`).
    pub fn die_with_host(&self) -> bool {
        self.die_with_host
    }
    /// The program and arguments as one line, for messages and logs.
    pub fn command_line(&self) -> String {
        command_line(&self.program, &self.args)
    }
    /// Takes the concurrency slot, to be held until the child is reaped.
    pub(crate) fn take_slot(&mut self) -> ChildSlot {
        std::mem::take(&mut self.slot)
    }
}

/// One of the policy's concurrent-children slots; freed when dropped.
#[derive(Debug, Default)]
pub struct ChildSlot(Option<Arc<Counters>>);

impl Drop for ChildSlot {
    fn drop(&mut self) {
        if let Some(counters) = self.0.take() {
            counters.running.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    running: AtomicUsize,
    spawned: AtomicU64,
}

/// Identity of a file's current contents, for the digest cache.
type FileStamp = (PathBuf, u64, u64, i64, i64);

/// Judges spawn requests against one [`Policy`], and counts the children it
/// let start (for the limits).
#[derive(Debug, Clone)]
pub struct Gate {
    policy: Arc<Policy>,
    counters: Arc<Counters>,
    digests: Arc<Mutex<HashMap<FileStamp, [u8; 32]>>>,
}

impl Gate {
    /// A gate for `policy`, with no children counted yet.
    pub fn new(policy: Arc<Policy>) -> Self {
        Gate {
            policy,
            counters: Arc::default(),
            digests: Arc::default(),
        }
    }

    /// The policy this gate enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Decides `request`.
    ///
    /// # Errors
    /// [`SpawnError::InvalidInput`] for a malformed request,
    /// [`SpawnError::NotFound`] when the program does not exist,
    /// [`SpawnError::Denied`] when a rule refuses it (the message names the
    /// request, the rule and its source), and [`SpawnError::LimitExceeded`]
    /// when too many children run or ran.
    pub fn check(&self, request: &SpawnRequest) -> Result<Permit, SpawnError> {
        self.check_size(request)?;
        let cwd = self.check_cwd(request.cwd.as_deref())?;
        let program = resolve_program(&request.program, &cwd, &self.policy.search_path)?;
        let line = command_line(&program, &request.args);
        let allowing = self.check_exec(&line, &program, &request.args)?;
        self.check_pin(&line, &program, allowing)?;
        let env = self.check_env(&request.program, &request.env)?;
        let stdio = self.check_stdio(&line, &cwd, &request.stdio)?;
        let slot = self.reserve_slot(&line)?;
        Ok(Permit {
            program,
            // The rule, not the plugin, names the program: a multi-call
            // binary (busybox, pg_wrapper) picks its tool from argv[0].
            arg0: allowing.program.clone(),
            args: request.args.clone(),
            env,
            cwd,
            stdio,
            rule: format!("allow rule {allowing}"),
            max_runtime: self.policy.limits.max_runtime,
            max_output_bytes: self.policy.limits.max_output_bytes,
            rlimits: self.policy.limits.rlimits,
            die_with_host: self.policy.limits.die_with_host == Some(true),
            slot,
        })
    }

    fn check_size(&self, request: &SpawnRequest) -> Result<(), SpawnError> {
        let limits = &self.policy.request_limits;
        let args = request.args.iter().map(|a| a.len());
        let env = request.env.iter().map(|(k, v)| k.len() + 1 + v.len());
        let sizes: Vec<usize> = args.chain(env).collect();
        let program = &request.program;
        if sizes.len() > limits.max_items {
            return Err(SpawnError::InvalidInput(format!(
                "{program}: {} arguments and variables, more than the limit of {}",
                sizes.len(),
                limits.max_items
            )));
        }
        if let Some(longest) = sizes.iter().copied().max().filter(|&n| n > limits.max_string_bytes) {
            return Err(SpawnError::InvalidInput(format!(
                "{program}: an argument or variable of {longest} bytes is longer than the limit of {} bytes",
                limits.max_string_bytes
            )));
        }
        let total: usize = sizes.iter().map(|n| n + 1).sum();
        if total > limits.max_total_bytes {
            return Err(SpawnError::InvalidInput(format!(
                "{program}: the arguments and variables take {total} bytes, more than the limit of {} bytes",
                limits.max_total_bytes
            )));
        }
        if let Some(arg) = request.args.iter().find(|a| a.contains('\0')) {
            return Err(SpawnError::InvalidInput(format!(
                "{program}: the argument {arg:?} contains a NUL byte"
            )));
        }
        Ok(())
    }

    /// The canonical working directory: the start directory by default; an
    /// explicit one must lie in a granted directory.
    fn check_cwd(&self, cwd: Option<&str>) -> Result<PathBuf, SpawnError> {
        let Some(cwd) = cwd else {
            return Ok(self.policy.start_dir.clone());
        };
        if cwd.contains('\0') {
            return Err(SpawnError::InvalidInput(format!(
                "the working directory {cwd:?} contains a NUL byte"
            )));
        }
        let canonical = self
            .policy
            .start_dir
            .join(cwd)
            .canonicalize()
            .map_err(|e| SpawnError::InvalidInput(format!("working directory {cwd}: {e}")))?;
        if !canonical.is_dir() {
            return Err(SpawnError::InvalidInput(format!(
                "working directory {cwd}: not a directory"
            )));
        }
        if !self.policy.dirs.iter().any(|root| canonical.starts_with(root)) {
            let granted = match self.policy.dirs.as_slice() {
                [] => "none is granted; grant one with --dir".to_string(),
                dirs => format!("granted: {}", join_paths(dirs)),
            };
            return Err(SpawnError::Denied(format!(
                "working directory {} is outside the granted directories ({granted})",
                canonical.display()
            )));
        }
        Ok(canonical)
    }

    /// Deny rules, then allow rules, then the manifest. Returns the
    /// allowing rule of the grants.
    fn check_exec(&self, line: &str, program: &Path, args: &[String]) -> Result<&ExecRule, SpawnError> {
        let grants = &self.policy.grants;
        if let Some(deny) = grants.deny.iter().find(|r| r.matches(program, args)) {
            return Err(SpawnError::Denied(format!("{line}: matches deny rule {deny}")));
        }
        let Some(allow) = grants.allow.iter().find(|r| r.matches(program, args)) else {
            return Err(SpawnError::Denied(format!(
                "{line}: {}",
                no_match_reason(&grants.allow, program)
            )));
        };
        if let Some((path, manifest)) = &self.policy.manifest {
            if !manifest.allow.iter().any(|r| r.matches(program, args)) {
                return Err(SpawnError::Denied(format!(
                    "{line}: the plugin's manifest ({}) does not request it",
                    path.display()
                )));
            }
        }
        Ok(allow)
    }

    fn check_pin(&self, line: &str, program: &Path, rule: &ExecRule) -> Result<(), SpawnError> {
        let Some(expected) = rule.sha256 else { return Ok(()) };
        let actual = self
            .digest(program)
            .map_err(|e| SpawnError::io(format_args!("hashing {}", program.display()), e))?;
        if actual == expected {
            return Ok(());
        }
        Err(SpawnError::Denied(format!(
            "{line}: the sha256 of {} is {}, but rule {rule} pins {}",
            program.display(),
            hex(&actual),
            hex(&expected)
        )))
    }

    /// The file's SHA-256, cached while its inode, size and mtime stay the
    /// same.
    fn digest(&self, path: &Path) -> std::io::Result<[u8; 32]> {
        use sha2::Digest;
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        let stamp = (
            path.to_path_buf(),
            meta.ino(),
            meta.size(),
            meta.mtime(),
            meta.mtime_nsec(),
        );
        if let Some(digest) = self.digests.lock().unwrap_or_else(|e| e.into_inner()).get(&stamp) {
            return Ok(*digest);
        }
        let mut hasher = sha2::Sha256::new();
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0; 64 * 1024];
        loop {
            match file.read(&mut buf)? {
                0 => break,
                n => hasher.update(&buf[..n]),
            }
        }
        let digest: [u8; 32] = hasher.finalize().into();
        self.digests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(stamp, digest);
        Ok(digest)
    }

    /// The child's environment: passed-through variables, plus each variable
    /// the plugin sets if both layers allow it.
    fn check_env(&self, program: &str, vars: &[(String, String)]) -> Result<Vec<(String, String)>, SpawnError> {
        let mut env = self.policy.passed_env.clone();
        for (name, value) in vars {
            if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
                return Err(SpawnError::InvalidInput(format!(
                    "{program}: environment variable {name:?}: a name must be non-empty without '=' or NUL, and a value without NUL"
                )));
            }
            if !self.policy.grants.env.iter().any(|r| r.allows_setting(name, value)) {
                return Err(SpawnError::Denied(env_denial(program, name)));
            }
            if let Some((path, manifest)) = &self.policy.manifest {
                if !manifest.env.iter().any(|r| r.allows_setting(name, value)) {
                    return Err(SpawnError::Denied(format!(
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

    /// Each stream's target: inheriting needs a grant; a file must lie in a
    /// granted directory; `stdout` is for stderr only and `child-stdout` for
    /// stdin only.
    fn check_stdio(
        &self,
        line: &str,
        cwd: &Path,
        stdio: &Redirects<Redirect>,
    ) -> Result<Redirects<Target>, SpawnError> {
        let one = |name: &str, redirect: &Redirect| -> Result<Target, SpawnError> {
            let misplaced = |what: &str| {
                SpawnError::InvalidInput(format!(
                    "{line}: {name}: `{what}` is only for {}",
                    if what == "stdout" { "stderr" } else { "stdin" }
                ))
            };
            Ok(match redirect {
                Redirect::Piped => Target::Piped,
                Redirect::Null => Target::Null,
                Redirect::Inherit if self.policy.allow_inherit => Target::Inherit,
                Redirect::Inherit => {
                    return Err(SpawnError::Denied(format!(
                        "{line}: {name}: using procbox's own {name} needs --allow-inherit"
                    )))
                }
                Redirect::File { path, append } => Target::File {
                    path: self.check_file(line, name, cwd, path)?,
                    append: *append,
                },
                Redirect::Stdout if name == "stderr" => Target::SameAsStdout,
                Redirect::Stdout => return Err(misplaced("stdout")),
                Redirect::ChildStdout if name == "stdin" => Target::ChildStdout,
                Redirect::ChildStdout => return Err(misplaced("child-stdout")),
            })
        };
        Ok(Redirects {
            stdin: one("stdin", &stdio.stdin)?,
            stdout: one("stdout", &stdio.stdout)?,
            stderr: one("stderr", &stdio.stderr)?,
        })
    }

    /// A redirection file: its directory resolved (no `..` or symlink
    /// escapes) and inside a granted directory; the file itself not a
    /// symlink and not a directory.
    fn check_file(&self, line: &str, name: &str, cwd: &Path, path: &str) -> Result<PathBuf, SpawnError> {
        let invalid = |why: String| SpawnError::InvalidInput(format!("{line}: {name} file {path:?}: {why}"));
        if path.is_empty() || path.contains('\0') {
            return Err(invalid("the path is empty or contains a NUL byte".into()));
        }
        let joined = cwd.join(path);
        let (Some(dir), Some(file_name)) = (joined.parent(), joined.file_name()) else {
            return Err(invalid("not a file path".into()));
        };
        let dir = dir.canonicalize().map_err(|e| invalid(format!("its directory: {e}")))?;
        if !self.policy.dirs.iter().any(|root| dir.starts_with(root)) {
            return Err(SpawnError::Denied(format!(
                "{line}: {name} file {}: outside the granted directories ({})",
                dir.join(file_name).display(),
                match self.policy.dirs.as_slice() {
                    [] => "none is granted; grant one with --dir".to_string(),
                    dirs => join_paths(dirs),
                }
            )));
        }
        let resolved = dir.join(file_name);
        match std::fs::symlink_metadata(&resolved) {
            Ok(meta) if meta.file_type().is_symlink() => Err(SpawnError::Denied(format!(
                "{line}: {name} file {}: a symlink, which could point anywhere",
                resolved.display()
            ))),
            Ok(meta) if meta.is_dir() => Err(invalid("a directory".into())),
            _ => Ok(resolved),
        }
    }

    fn reserve_slot(&self, line: &str) -> Result<ChildSlot, SpawnError> {
        let limits = &self.policy.limits;
        let counters = &self.counters;
        if let Some(max) = limits.max_children {
            if counters.running.fetch_add(1, Ordering::AcqRel) >= max {
                counters.running.fetch_sub(1, Ordering::AcqRel);
                return Err(SpawnError::LimitExceeded(format!(
                    "{line}: {max} children are already running, the most this policy allows at once (max-children)"
                )));
            }
        } else {
            counters.running.fetch_add(1, Ordering::AcqRel);
        }
        let slot = ChildSlot(Some(counters.clone()));
        if let Some(max) = limits.max_spawns {
            if counters.spawned.fetch_add(1, Ordering::AcqRel) >= max {
                counters.spawned.fetch_sub(1, Ordering::AcqRel);
                return Err(SpawnError::LimitExceeded(format!(
                    "{line}: the plugin already started {max} children, the most this policy allows in one run (max-spawns)"
                )));
            }
        }
        Ok(slot)
    }
}

/// Why no allow rule matched: other rules for the same program, or none.
fn no_match_reason(allow: &[ExecRule], program: &Path) -> String {
    let same_program: Vec<String> = allow
        .iter()
        .filter(|r| r.path == program)
        .map(ToString::to_string)
        .collect();
    if !same_program.is_empty() {
        return format!(
            "no allow rule matches these arguments (rules for {}: {})",
            program.display(),
            same_program.join(", ")
        );
    }
    let mut granted: Vec<String> = allow.iter().map(|r| r.path.display().to_string()).collect();
    granted.dedup();
    let granted = match granted.len() {
        0 => "nothing".to_string(),
        n if n > 8 => format!("{} and {} more", granted[..8].join(", "), n - 8),
        _ => granted.join(", "),
    };
    format!("no allow rule grants {} (granted: {granted})", program.display())
}

fn env_denial(program: &str, name: &str) -> String {
    if is_injection(name) {
        format!(
            "{program}: environment variable {name} can make the child load or run code of the plugin's choosing, so only a rule that names it exactly (--allow-env {name}=GLOB) allows it"
        )
    } else {
        format!("{program}: environment variable {name}: no env rule lets the plugin set it (grant it with --allow-env {name}=GLOB)")
    }
}

fn command_line(program: &Path, args: &[String]) -> String {
    std::iter::once(program.display().to_string())
        .chain(args.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An argument as a reader should see it: quoted when it is empty or has
/// spaces, quotes or control characters.
fn quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains(|c: char| c.is_whitespace() || c.is_control() || c == '"' || c == '\'') {
        return arg.to_string();
    }
    format!("{arg:?}")
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
