//! "What confinement does not stop": the gaps that remain for a confined,
//! contained child, one line each, with whether it applies here and what
//! narrows it. Those the kernel decides are measured by a throw-away child
//! ([`super::throwaway`]); the rest come from the probes, sysctls and
//! mounts. The wording is SECURITY.md's.

use procbox::process_tree::namespace::NamespaceSupport;
use procbox::sandbox::probe::{self, KernelSupport, ABI_SCOPE};

use super::throwaway::Measured;

/// Applies here, for a confined, contained child.
const YES: &str = "yes ";
/// Only under the grant the line names.
const OPT: &str = "opt ";
/// Not on this machine.
const NO: &str = "no  ";

/// The Landlock ABI from which socket files have rules (Linux 7.1).
const ABI_UNIX_SOCKETS: u32 = 9;

pub(super) fn report(out: &mut String, kernel: KernelSupport) {
    outln!(
        out,
        "  what confinement does not stop, for a confined, contained child (yes: applies here; opt: only under the grant named; no: not here):"
    );
    measured_gaps(out, kernel);
    machine_gaps(out);
    let contained = NamespaceSupport::get().works.is_ok();
    signals_gap(out, kernel.landlock_abi, contained);
    granted_gaps(out);
    let proc_all = "/proc: without a PID namespace, children read the machine's /proc (every process's command line; your processes' environments where not protected)";
    match contained {
        true => line(out, OPT, &format!("{proc_all}; here only with --contain=off")),
        false => line(out, YES, &format!("{proc_all}; here: no PID namespace")),
    }
}

fn line(out: &mut String, mark: &str, text: &str) {
    outln!(out, "    {mark}{text}");
}

/// The gaps the throw-away child tried just now.
fn measured_gaps(out: &mut String, kernel: KernelSupport) {
    let measured = Measured::take(kernel);
    outln!(out, "    ({})", measured.how());
    // Not measured (no throw-away child): nothing is known to stop it.
    let found = |gap: Option<bool>| if gap == Some(false) { NO } else { YES };
    line(
        out,
        found(measured.timestamps),
        "timestamps: a child can set the access and modification times of any file your user owns, even one it may not read (utimensat; no Landlock right covers it)",
    );
    line(
        out,
        found(measured.inotify),
        "inotify: a child can watch any file or directory, even one it may not read, and see when others open, read or change it (no Landlock right covers it)",
    );
    line(
        out,
        found(measured.flock),
        "file locks: a child can take a flock lock on any file it may read, and stall a program of yours that waits for the same lock",
    );
    line(
        out,
        found(measured.stat),
        "metadata: a child can stat any path whose name it knows (existence, size, times, owner), even one it may not read or list",
    );
}

/// The gaps of every machine, with what this one has.
fn machine_gaps(out: &mut String) {
    line(out, YES, &proc_net());
    line(out, YES, &elf_loader());
    line(
        out,
        YES,
        &tree_limit("pids", "processes", "--max-processes N", &pid_max()),
    );
    line(
        out,
        YES,
        &tree_limit("memory", "memory", "--max-tree-memory SIZE", &memory()),
    );
    line(
        out,
        YES,
        "disk: nothing caps what children write in total to --allow-write directories and $TMPDIR; --rlimit-fsize SIZE caps each file",
    );
    line(
        out,
        YES,
        "new protected paths: .git and shell start-up files are protected as they are when the run starts (a home's start-up files even before they exist); one a child creates in a directory it may write stays writable for the run",
    );
}

/// Signals to other processes of the user: scoped by Landlock or a PID
/// namespace.
fn signals_gap(out: &mut String, abi: u32, contained: bool) {
    let signals = format!(
        "signals: below Landlock ABI {ABI_SCOPE} (Linux {}) and without a PID namespace, a child can signal any process of your user",
        probe::linux_for_abi(ABI_SCOPE)
    );
    match (abi >= ABI_SCOPE, contained) {
        (true, _) => line(out, NO, &format!("{signals}; Landlock ABI {abi} here scopes them")),
        (false, true) => line(
            out,
            OPT,
            &format!("{signals}; here (Landlock ABI {abi}) only with --contain=off"),
        ),
        (false, false) => line(
            out,
            YES,
            &format!("{signals}; here: Landlock ABI {abi}, no PID namespace"),
        ),
    }
}

/// The gaps that only a grant opens.
fn granted_gaps(out: &mut String) {
    line(
        out,
        OPT,
        &format!(
            "Unix socket files: with --allow-child-net unix, a child can connect to every socket file your user can (/run/docker.sock, an ssh agent): Landlock controls them only from ABI {ABI_UNIX_SOCKETS} (Linux 7.1; {}), which procbox does not use yet; without the grant seccomp refuses Unix sockets",
            match probe::landlock_abi() {
                0 => "no Landlock here".to_string(),
                raw => format!("ABI {raw} here"),
            }
        ),
    );
    line(
        out,
        OPT,
        "listen: with --allow-child-net bind:PORT, a child can also listen on an ephemeral port (listen without bind; Landlock checks only bind)",
    );
    line(
        out,
        OPT,
        "terminal: with --allow-inherit, a child can use the ioctls of procbox's terminal (resize it, take the foreground), all but TIOCSTI and TIOCLINUX",
    );
}

/// `/proc/net`: the machine's sockets, as a child reads them.
fn proc_net() -> String {
    let count = |name: &str| {
        std::fs::read_to_string(format!("/proc/net/{name}"))
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0)
    };
    format!(
        "/proc/net: children share the machine's network namespace, so /proc/net/tcp, udp and unix list the machine's sockets and socket paths even in their private /proc ({} TCP and {} Unix sockets here now)",
        count("tcp") + count("tcp6"),
        count("unix")
    )
}

/// The ELF loader, and whether `$TMPDIR`'s filesystem lets it map a copy.
fn elf_loader() -> String {
    let tmp = std::env::temp_dir();
    let noexec = rustix::fs::statvfs(&tmp)
        .ok()
        .map(|fs| fs.f_flag.contains(rustix::fs::StatVfsMountFlags::NOEXEC));
    let copy = match noexec {
        Some(true) => format!("not a copy in $TMPDIR ({} is mounted noexec)", tmp.display()),
        Some(false) => format!("a copy it wrote to $TMPDIR ({} is not mounted noexec)", tmp.display()),
        None => "a copy it wrote to $TMPDIR unless that is mounted noexec".into(),
    };
    format!(
        "ELF loader: the loader of a dynamically linked granted program is executable, and `ld.so FILE` runs any ELF file a child can read: a program not granted, {copy}, a memfd sealed against exec (Landlock's exec right checks execve only); grant only programs you would let run other code"
    )
}

/// A whole-tree limit with no default, and whether its flag works here.
fn tree_limit(controller: &str, what: &str, flag: &str, ceiling: &str) -> String {
    let here = procbox::process_tree::cgroup::report()
        .into_iter()
        .find(|(c, _)| *c == controller)
        .map(|(_, place)| match place {
            Ok(_) => "available here".to_string(),
            Err(why) => format!("NOT available here: {why}"),
        })
        .unwrap_or_else(|| "unknown here".into());
    format!("{what}: no default cap on the {what} of the whole tree ({ceiling}); {flag} sets one ({here})")
}

fn pid_max() -> String {
    let read = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
            .map(|t| t.trim().to_string())
            .unwrap_or_else(|_| "?".into())
    };
    format!("here only kernel.pid_max = {}", read("pid_max"))
}

fn memory() -> String {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    });
    match total {
        Some(kib) => format!("here only the machine's {:.1} GiB", kib as f64 / (1 << 20) as f64),
        None => "only the machine's memory".into(),
    }
}
