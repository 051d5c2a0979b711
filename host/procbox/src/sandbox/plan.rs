//! A child's confinement as plain data: what it may read, write and
//! execute, which network it may use, and which kernel mechanisms enforce
//! it. Built in procbox from the policy and the allowed request; sent to
//! the launcher, which turns it into a Landlock ruleset and a seccomp
//! program once per distinct plan.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::probe::{ABI_LOG, ABI_SCOPE};
use super::ChildNet;

/// What every child may read so that programs can run: system programs
/// and libraries, the parts of `/etc` they need (never `shadow`, `sudoers`
/// or `ssh`), a few devices, and `/proc` (under containment children get a
/// private `/proc`; without it, all of it is readable: SECURITY.md).
pub const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/ld.so.preload",
    "/etc/locale.alias",
    "/etc/locale.conf",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/resolv.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/alternatives",
    "/etc/mime.types",
    "/etc/magic",
    "/etc/terminfo",
    "/etc/inputrc",
    "/etc/os-release",
    "/etc/debian_version",
    "/etc/gitconfig",
    "/dev/zero",
    "/dev/random",
    "/dev/urandom",
    "/dev/full",
    "/proc",
    "/sys/devices/system/cpu",
];

/// What every child may read and write: `/dev/null`.
pub const SYSTEM_WRITE_FILES: &[&str] = &["/dev/null"];

/// One child's confinement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChildPlan {
    /// Directories and files it may read (existing ones only).
    pub read: Vec<PathBuf>,
    /// Directories it may read and write.
    pub write: Vec<PathBuf>,
    /// Files it may read and write but not create or remove (devices, and
    /// the files directly in a write grant split around protected paths).
    pub write_files: Vec<PathBuf>,
    /// Files, or directories of files, it may execute.
    pub exec: Vec<PathBuf>,
    /// Its network.
    pub net: ChildNet,
    /// The run's private temporary directory (`TMPDIR`, in `write`).
    pub tmp: PathBuf,
    /// The Landlock ABI to build for (0: no Landlock).
    pub abi: u32,
    /// Whether the seccomp filter applies.
    pub seccomp: bool,
    /// Whether capabilities are dropped (procbox runs as root).
    pub drop_caps: bool,
    /// The launcher's PID namespace and cgroups, which it starts the child in.
    pub tree: TreePlan,
}

/// What contains the whole tree: fixed per run, carried by each plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TreePlan {
    /// Children start in a PID namespace the launcher makes
    /// (`process_tree::namespace`).
    pub pid_namespace: bool,
    /// The run's cgroups the launcher joins before its first child
    /// (`process_tree::cgroup`).
    pub cgroups: Vec<PathBuf>,
    /// The run the namespace and cgroups are of (0 for none): one process
    /// may hold many runs at once (the worker), and each run's tree gets a
    /// launcher, a namespace and cgroups of its own, ended with the run
    /// (the launcher's `retire`), so that what one run left
    /// behind (a daemon that left its process group) dies with it.
    pub run: u64,
}

impl ChildPlan {
    /// Whether the kernel confines the child at all (Landlock or seccomp):
    /// a plan may only contain it.
    pub fn confines(&self) -> bool {
        self.abi > 0 || self.seccomp
    }

    /// Whether signals and abstract Unix sockets are scoped.
    pub fn scoped(&self) -> bool {
        self.abi >= ABI_SCOPE
    }

    /// Whether the kernel logs denials after `exec` to the audit log.
    pub fn logs_denials(&self) -> bool {
        self.abi >= ABI_LOG
    }

    /// Whether the plan lets the child execute `path` (canonical), and so
    /// read it: it is, or lies beneath, a file or directory in
    /// [`exec`](Self::exec), as the Landlock rule beneath it grants.
    pub fn may_execute(&self, path: &Path) -> bool {
        self.exec.iter().any(|granted| path.starts_with(granted))
    }

    /// The plan as lines for `explain`.
    pub fn describe(&self) -> String {
        let list = |paths: &[PathBuf]| joined(paths, " ");
        let user_read: Vec<PathBuf> = self
            .read
            .iter()
            .filter(|p| !SYSTEM_READ.iter().any(|s| Path::new(s) == p.as_path()))
            .cloned()
            .collect();
        let mut out = String::new();
        let landlock = match self.abi {
            0 => "no Landlock (not enforced)".to_string(),
            abi => format!("Landlock ABI {abi}"),
        };
        let _ = writeln!(
            out,
            "  enforced by: {landlock}; seccomp {}; no_new_privs{}{}",
            if self.seccomp { "filter" } else { "not enforced" },
            if self.scoped() {
                "; signals and abstract sockets scoped"
            } else {
                ""
            },
            if self.drop_caps {
                "; all capabilities dropped"
            } else {
                ""
            },
        );
        let _ = writeln!(out, "  read:    {} + the system set (SECURITY.md)", list(&user_read));
        let _ = writeln!(out, "  write:   {} /dev/null", list(&self.write));
        let user_files: Vec<PathBuf> = self
            .write_files
            .iter()
            .filter(|p| !SYSTEM_WRITE_FILES.iter().any(|s| Path::new(s) == p.as_path()))
            .cloned()
            .collect();
        if !user_files.is_empty() {
            let _ = writeln!(out, "  write, existing files only: {}", list(&user_files));
        }
        let _ = writeln!(out, "  execute: {}", list(&self.exec));
        let _ = writeln!(out, "  network: {}", self.net);
        if self.seccomp {
            let _ = writeln!(out, "  seccomp refuses: {}", self.refused_calls().join("; "));
        }
        out
    }

    /// What the seccomp filter refuses under this plan's network, in words.
    fn refused_calls(&self) -> Vec<&'static str> {
        let net = &self.net;
        let mut refused = vec!["sockets other than Unix, IPv4 and IPv6"];
        if !net.unix {
            refused.push("Unix sockets and datagram socketpairs");
        }
        if !net.any_inet() {
            refused.push("IPv4 and IPv6 sockets");
        } else if !net.all {
            refused.extend(["UDP, raw and non-TCP sockets", "TCP Fast Open"]);
        }
        if !(net.all || net.unix || !net.bind.is_empty()) {
            refused.push("listen");
        }
        refused.extend([
            "io_uring",
            "ptrace and process_vm_*",
            "chmod, chown and setxattr",
            "keyrings",
            "System V IPC",
            "new namespaces (unshare, clone with CLONE_NEW*, setns)",
            "executable memfds",
            "execveat(AT_EMPTY_PATH)",
            "TIOCSTI and TIOCLINUX",
        ]);
        refused
    }

    /// The plan in one line, for the audit log.
    pub fn summary(&self) -> String {
        let list = |paths: &[PathBuf]| joined(paths, ",");
        format!(
            "landlock-abi={} seccomp={} write={} exec={} net={:?} pid-namespace={}",
            self.abi,
            self.seccomp,
            list(&self.write),
            list(&self.exec),
            self.net.to_string(),
            self.tree.pid_namespace
        )
    }
}

/// `paths` as text, separated by `separator`.
fn joined(paths: &[PathBuf], separator: &str) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(separator)
}

/// Those of `paths` that exist on this host, looked up once per process.
pub(crate) fn existing(paths: &'static [&'static str]) -> &'static [PathBuf] {
    static FOUND: Mutex<Vec<(usize, &'static [PathBuf])>> = Mutex::new(Vec::new());
    let key = paths.as_ptr() as usize;
    let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, list)) = found.iter().find(|(k, _)| *k == key) {
        return list;
    }
    let list: &'static [PathBuf] = paths
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect::<Vec<_>>()
        .leak();
    found.push((key, list));
    list
}

/// A plan with a number unique in this process, so that the launcher
/// prepares it once and procbox sends it once.
#[derive(Debug)]
pub struct Planned {
    /// Its number.
    pub id: u64,
    /// The plan.
    pub plan: ChildPlan,
    /// [`ChildPlan::summary`], for the audit log of each child.
    pub summary: String,
}

/// Builds the plans of one run: one per granted program, made once
/// (`Planner::planned`, with the policy layer, which reads the grants).
#[derive(Debug, Default)]
pub struct Planner {
    pub(crate) plans: Mutex<HashMap<PathBuf, Arc<Planned>>>,
}

/// The files the kernel executes to run `program`: its ELF interpreter
/// (`PT_INTERP`), or for a `#!` script its interpreter and that one's ELF
/// interpreter. Canonical paths; unreadable or unknown formats give none.
pub fn interpreters(program: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut current = program.to_path_buf();
    // A script's interpreter may itself be a script, a few levels deep at
    // most (the kernel allows 4).
    for _ in 0..4 {
        match executable_kind(&current) {
            Some(Kind::Elf(Some(interp))) => {
                found.extend(std::fs::canonicalize(&interp).ok());
                break;
            }
            Some(Kind::Script(interp)) => match std::fs::canonicalize(&interp) {
                Ok(interp) => {
                    found.push(interp.clone());
                    current = interp;
                }
                Err(_) => break,
            },
            _ => break,
        }
    }
    found
}

enum Kind {
    Elf(Option<PathBuf>),
    Script(PathBuf),
}

/// How much of a program file is read to find its interpreter: the `#!`
/// line, or the ELF program headers and the `PT_INTERP` string, which
/// linkers put at the start.
const HEAD_BYTES: u64 = 64 << 10;

/// The first `limit` bytes of `path`, if it is a regular file. Opened
/// without blocking: a FIFO named as a program must not hang procbox.
pub(crate) fn head_of(path: &Path, limit: u64) -> Option<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut head = Vec::new();
    file.take(limit).read_to_end(&mut head).ok()?;
    Some(head)
}

fn executable_kind(path: &Path) -> Option<Kind> {
    let head = head_of(path, HEAD_BYTES)?;
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|b| *b == b'\n').next()?;
        let line = std::str::from_utf8(line).ok()?.trim();
        let interp = line.split_whitespace().next()?;
        return Some(Kind::Script(PathBuf::from(interp)));
    }
    if head.starts_with(b"\x7fELF") {
        return Some(Kind::Elf(elf_interpreter(&head)));
    }
    None
}

/// `PT_INTERP` of a 64-bit little-endian ELF file, from its first bytes.
fn elf_interpreter(bytes: &[u8]) -> Option<PathBuf> {
    // Every offset comes from the file: checked, never trusted.
    let field = |at: usize, len: usize| bytes.get(at..at.checked_add(len)?);
    let u16_at = |at| Some(u16::from_le_bytes(field(at, 2)?.try_into().ok()?));
    let u32_at = |at| Some(u32::from_le_bytes(field(at, 4)?.try_into().ok()?));
    let u64_at = |at| usize::try_from(u64::from_le_bytes(field(at, 8)?.try_into().ok()?)).ok();
    // ELFCLASS64, ELFDATA2LSB.
    if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        return None;
    }
    let (phoff, phentsize, phnum) = (u64_at(0x20)?, usize::from(u16_at(0x36)?), usize::from(u16_at(0x38)?));
    const PT_INTERP: u32 = 3;
    (0..phnum).find_map(|i| {
        let header = phoff.checked_add(i.checked_mul(phentsize)?)?;
        if u32_at(header)? != PT_INTERP {
            return None;
        }
        let name = field(u64_at(header.checked_add(8)?)?, u64_at(header.checked_add(32)?)?)?;
        let name = name.split(|b| *b == 0).next()?;
        Some(PathBuf::from(std::str::from_utf8(name).ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_program_needs_its_elf_interpreter() {
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        let found = interpreters(&sh);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].to_string_lossy().contains("ld-linux"), "{found:?}");
    }

    #[test]
    fn a_script_needs_its_interpreter_and_that_ones() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("tool");
        std::fs::write(&script, "#!/bin/sh -e\necho hi\n").unwrap();
        let found = interpreters(&script);
        assert_eq!(found[0], std::fs::canonicalize("/bin/sh").unwrap());
        assert!(found[1].to_string_lossy().contains("ld-linux"), "{found:?}");
        std::fs::write(&script, "plain text").unwrap();
        assert!(interpreters(&script).is_empty());
    }

    #[test]
    fn a_fifo_or_a_hostile_elf_header_gives_no_interpreter_and_never_hangs() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let mode = rustix::fs::Mode::from_raw_mode(0o600);
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, mode, 0).unwrap();
        let script = dir.path().join("script");
        std::fs::write(&script, format!("#!{}\n", fifo.display())).unwrap();
        assert_eq!(interpreters(&fifo), Vec::<PathBuf>::new());
        assert_eq!(interpreters(&script), vec![fifo.canonicalize().unwrap()]);
        // Offsets near usize::MAX: no overflow, no interpreter.
        let mut elf = b"\x7fELF\x02\x01".to_vec();
        elf.resize(64, 0xff);
        assert_eq!(elf_interpreter(&elf), None);
    }
}
