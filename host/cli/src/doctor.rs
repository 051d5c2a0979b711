//! `procbox doctor`: what this kernel enforces on plugins' children, found
//! by trying it (a throw-away child restricts itself with Landlock and
//! loads a seccomp filter), and what it does not: the gaps that remain for
//! a confined, contained child, each measured or read on this machine
//! ([`gaps`]; SECURITY.md lists the same, and `tests/suite/tests/gaps.rs` shows
//! each one with a real child). With `--require LIST` it prints only
//! whether each named mechanism is enforced, and fails when one is not
//! ([`require`]).

use procbox::process_tree::namespace::NamespaceSupport;
use procbox::sandbox::probe::{self, KernelSupport, ABI_FILES, ABI_LOG, ABI_SCOPE, ABI_TCP};
use procbox::{ChildNet, Enforcement, Strictness};

use super::failure::Failure;
use super::output::emit;

mod children;
mod gaps;
pub mod require;
mod throwaway;

pub use children::serve_if_asked as serve_child_if_asked;

/// Exit status when `--confine=require` cannot run on this kernel.
pub const EXIT_UNENFORCEABLE: u8 = 1;

/// Prints the report; returns 0 when the default (`--confine=require`)
/// runs plugins here, [`EXIT_UNENFORCEABLE`] when it would refuse.
///
/// # Errors
/// If stdout cannot be written.
pub fn doctor() -> Result<u8, Failure> {
    let kernel = KernelSupport::get();
    let mut out = String::new();
    outln!(
        out,
        "procbox doctor: what this kernel enforces on the children of plugins"
    );
    outln!(out, "  kernel:   Linux {} ({})", release(), std::env::consts::ARCH);
    outln!(out, "  probed:   {kernel}");
    confinement(&mut out, kernel);
    let status = confine_verdict(&mut out, kernel);
    containment(&mut out);
    outln!(
        out,
        "  protected paths (.git, shell start-up files, procbox's state) inside a write grant:"
    );
    let kept = if kernel.landlock_abi >= ABI_FILES { "yes" } else { "NO " };
    outln!(
        out,
        "    {kept} read-only for children by a Landlock write set split around them, the same with or without a PID or mount namespace (no mounts needed); redirects and the plugin's own files: always, by the gate and its WASI directories"
    );
    gaps::report(&mut out, kernel);
    emit(&out)?;
    Ok(status)
}

/// Landlock's rungs, seccomp and what a child keeps of the user's powers.
fn confinement(out: &mut String, kernel: KernelSupport) {
    let abi = kernel.landlock_abi;
    let rung = |needed: u32, what: &str| {
        let mark = if abi >= needed { "yes" } else { "NO " };
        format!(
            "    {mark} {what} (Landlock ABI {needed}, Linux {})",
            probe::linux_for_abi(needed)
        )
    };
    outln!(out, "  landlock:");
    outln!(out, "{}", rung(1, "read, write and execute rules from the grants"));
    outln!(out, "{}", rung(ABI_FILES, "truncation (complete write rules)"));
    outln!(out, "{}", rung(ABI_TCP, "TCP bind and connect per port"));
    outln!(
        out,
        "{}",
        rung(ABI_SCOPE, "signals and abstract Unix sockets scoped to the child")
    );
    outln!(out, "{}", rung(ABI_LOG, "kernel audit records of denials after exec"));
    let seccomp = if kernel.seccomp { "yes" } else { "NO " };
    outln!(
        out,
        "  seccomp:\n    {seccomp} filter: non-TCP/UDP sockets, Unix sockets, UDP and listen unless granted; io_uring; ptrace; executable memfds; execveat(AT_EMPTY_PATH); TIOCSTI"
    );
    let root = rustix::process::geteuid().is_root();
    outln!(
        out,
        "  user:     {}",
        if root {
            "root: children start with no capabilities (bounding, ambient, permitted, effective)"
        } else {
            "unprivileged: children keep no capabilities they could use"
        }
    );
}

/// Whether the default `--confine=require` runs plugins here: the exit
/// status.
fn confine_verdict(out: &mut String, kernel: KernelSupport) -> u8 {
    let verdict = |net: &ChildNet| Enforcement::decide(Strictness::Require, net, kernel);
    let mut ports = ChildNet::default();
    ports.add("443").expect("a valid grant");
    match (verdict(&ChildNet::default()), verdict(&ports)) {
        (Ok(_), Ok(_)) => {
            outln!(
                out,
                "  --confine=require (the default): runs; every rung the grants can need is enforced"
            );
            0
        }
        (Ok(_), Err(e)) => {
            outln!(
                out,
                "  --confine=require: runs, except with per-port --allow-child-net: {e}"
            );
            0
        }
        (Err(e), _) => {
            outln!(out, "  --confine=require: REFUSES to run plugins here: {e}");
            EXIT_UNENFORCEABLE
        }
    }
}

/// The PID namespace, the cgroup limits and the measured trees.
fn containment(out: &mut String) {
    outln!(out, "  containment:");
    match &NamespaceSupport::get().works {
        Ok(user_namespace) => outln!(
            out,
            "    yes a PID namespace per run that dies with the run and with procbox, with a private /proc{}\n  --contain=best-effort (the default) and --contain=require: children cannot outlive procbox, even its SIGKILL",
            if *user_namespace {
                " (in a user namespace that maps you to yourself)"
            } else {
                ""
            }
        ),
        Err(why) => outln!(
            out,
            "    NO  PID namespace: {why}\n  --contain=best-effort (the default): process groups and the subreaper's sweep; children survive a SIGKILL of procbox\n  --contain=require: REFUSES to run plugins here"
        ),
    }
    for (controller, place) in procbox::process_tree::cgroup::report() {
        let flag = match controller {
            "pids" => "--max-processes",
            _ => "--max-tree-memory",
        };
        match place {
            Ok(dir) => outln!(out, "    yes {flag}: a {controller} cgroup below {}", dir.display()),
            Err(why) => outln!(out, "    NO  {flag}: {why}; a run that sets it is refused"),
        }
    }
    match procbox::process_tree::measure::availability() {
        Ok(dirs) => outln!(out, "    yes measure-tree: a cgroup per measured child, below {dirs}"),
        Err(why) => outln!(out, "    NO  measure-tree: {why}; tree-usage stays none"),
    }
}

fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_string())
        .unwrap_or_else(|_| "(unknown)".into())
}
