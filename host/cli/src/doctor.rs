//! `procbox doctor`: what this kernel enforces on plugins' children, found
//! by trying it (a throw-away child restricts itself with Landlock and
//! loads a seccomp filter), and what it does not: the gaps that remain for
//! a confined, contained child, each measured or read on this machine
//! ([`gaps`]; SECURITY.md lists the same, and `tests/tests/gaps.rs` shows
//! each one with a real child). With `--require LIST` it prints only
//! whether each named mechanism is enforced, and fails when one is not
//! ([`require`]).

use procbox::confine::probe::{self, KernelSupport, ABI_FILES, ABI_LOG, ABI_SCOPE, ABI_TCP};
use procbox::containment::namespace::NamespaceSupport;
use procbox::{ChildNet, ConfineMode};

use super::failure::Failure;
use super::output::emit;

pub mod require;

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
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    outln!(
        out,
        "  user:     {}",
        if root {
            "root: children start with no capabilities (bounding, ambient, permitted, effective)"
        } else {
            "unprivileged: children keep no capabilities they could use"
        }
    );
    let verdict = |net: &ChildNet| probe::enforcement(ConfineMode::Require, net, kernel);
    let mut ports = ChildNet::default();
    ports.add("443").expect("a valid grant");
    let status = match (verdict(&ChildNet::default()), verdict(&ports)) {
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
    };
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
    for (controller, place) in procbox::containment::cgroup::report() {
        let flag = match controller {
            "pids" => "--max-processes",
            _ => "--max-tree-memory",
        };
        match place {
            Ok(dir) => outln!(out, "    yes {flag}: a {controller} cgroup below {}", dir.display()),
            Err(why) => outln!(out, "    NO  {flag}: {why}; a run that sets it is refused"),
        }
    }
    match procbox::containment::measure::availability() {
        Ok(dirs) => outln!(out, "    yes measure-tree: a cgroup per measured child, below {dirs}"),
        Err(why) => outln!(out, "    NO  measure-tree: {why}; tree-usage stays none"),
    }
    outln!(
        out,
        "  protected paths (.git, shell start-up files, procbox's state) inside a write grant:"
    );
    let kept = if abi >= ABI_FILES { "yes" } else { "NO " };
    outln!(
        out,
        "    {kept} read-only for children by a Landlock write set split around them, the same with or without a PID or mount namespace (no mounts needed); redirects and the plugin's own files: always, by the gate and its WASI directories"
    );
    gaps::report(&mut out, kernel);
    emit(&out)?;
    Ok(status)
}

fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_string())
        .unwrap_or_else(|_| "(unknown)".into())
}

/// "What confinement does not stop": the gaps that remain for a confined,
/// contained child, one line each, with whether it applies here and what
/// narrows it. Those the kernel decides are measured: a throw-away child
/// restricts itself with a Landlock ruleset built by procbox's own code
/// (every filesystem right handled, one file readable) and loads procbox's
/// seccomp filters, then tries each one. The rest come from the probes
/// above, sysctls and mounts. The wording is SECURITY.md's.
mod gaps {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    use procbox::confine::filter;
    use procbox::confine::plan::{ChildPlan, TreePlan};
    use procbox::confine::probe::{self, KernelSupport, ABI_SCOPE};
    use procbox::confine::ruleset;
    use procbox::containment::namespace::NamespaceSupport;
    use procbox::ChildNet;

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
        let measured = Measured::take(kernel);
        outln!(out, "    ({})", measured.how());
        let line = |out: &mut String, mark: &str, text: &str| outln!(out, "    {mark}{text}");
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
        let contained = NamespaceSupport::get().works.is_ok();
        let abi = kernel.landlock_abi;
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
        let proc_all = "/proc: without a PID namespace, children read the machine's /proc (every process's command line; your processes' environments where not protected)";
        match contained {
            true => line(out, OPT, &format!("{proc_all}; here only with --contain=off")),
            false => line(out, YES, &format!("{proc_all}; here: no PID namespace")),
        }
    }

    /// What the throw-away child could do (`None`: not measured).
    #[derive(Debug, Default)]
    struct Measured {
        /// Landlock took part (an ABI and a working ruleset).
        landlock: bool,
        /// procbox's seccomp filters took part.
        seccomp: bool,
        /// The Landlock ABI of the ruleset.
        abi: u32,
        /// Why the measurement could not be taken.
        failed: Option<String>,
        timestamps: Option<bool>,
        inotify: Option<bool>,
        flock: Option<bool>,
        stat: Option<bool>,
    }

    impl Measured {
        /// Runs the throw-away child.
        fn take(kernel: KernelSupport) -> Measured {
            match measure(kernel) {
                Ok(found) => found,
                Err(why) => Measured {
                    failed: Some(why),
                    ..Measured::default()
                },
            }
        }

        /// How the first lines were found.
        fn how(&self) -> String {
            let under = match (self.landlock, self.seccomp) {
                (true, true) => format!("Landlock ABI {} and procbox's seccomp filter", self.abi),
                (true, false) => format!("Landlock ABI {}, no seccomp here", self.abi),
                (false, true) => "procbox's seccomp filter, no Landlock here".into(),
                (false, false) => "no Landlock and no seccomp here".into(),
            };
            match &self.failed {
                Some(why) => format!("timestamps, inotify, file locks and metadata not measured: {why}"),
                None => format!(
                    "timestamps, inotify, file locks and metadata measured just now by a throw-away child: {under}"
                ),
            }
        }
    }

    /// A private directory with a file the child may read and one it may
    /// not; removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Result<Scratch, String> {
            use std::os::unix::fs::DirBuilderExt;
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!("procbox-doctor-{}-{nanos}", std::process::id()));
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
            let scratch = Scratch(dir);
            for name in ["readable", "hidden"] {
                std::fs::write(scratch.0.join(name), "procbox doctor\n")
                    .map_err(|e| format!("cannot write in {}: {e}", scratch.0.display()))?;
            }
            Ok(scratch)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn c_path(path: &Path) -> Result<CString, String> {
        CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())
    }

    /// Exit bits of the throw-away child.
    const TIMESTAMPS: i32 = 1;
    const INOTIFY: i32 = 2;
    const FLOCK: i32 = 4;
    const STAT: i32 = 8;
    /// The hidden file could be read: the ruleset did not hold.
    const NOT_CONFINED: i32 = 64;
    /// Setting up the confinement failed.
    const SETUP_FAILED: i32 = 65;

    fn measure(kernel: KernelSupport) -> Result<Measured, String> {
        let scratch = Scratch::new()?;
        let readable = scratch.0.join("readable");
        let hidden = scratch.0.join("hidden");
        let plan = ChildPlan {
            read: vec![readable.clone()],
            write: Vec::new(),
            write_files: Vec::new(),
            exec: Vec::new(),
            net: ChildNet::default(),
            tmp: scratch.0.clone(),
            abi: kernel.landlock_abi,
            seccomp: kernel.seccomp,
            drop_caps: false,
            tree: TreePlan::default(),
        };
        let ruleset = ruleset::build(&plan)?;
        let filters = match kernel.seccomp {
            true => vec![
                filter::build(&plan.net)?,
                filter::unknown_calls(filter::FIRST_UNKNOWN_CALL)?,
            ],
            false => Vec::new(),
        };
        let programs: Vec<libc::sock_fprog> = filters
            .iter()
            .map(|program| libc::sock_fprog {
                len: u16::try_from(program.len()).unwrap_or(u16::MAX),
                // seccompiler's `sock_filter` has the kernel's layout, as libc's does.
                filter: program.as_ptr() as *mut libc::sock_filter,
            })
            .collect();
        let (readable_c, hidden_c) = (c_path(&readable)?, c_path(&hidden)?);
        let ruleset_fd = ruleset.as_ref().map(|fd| fd.as_raw_fd());
        let times = [
            libc::timespec {
                tv_sec: 946_684_800, // 2000-01-01
                tv_nsec: 0,
            },
            libc::timespec {
                tv_sec: 946_684_800,
                tv_nsec: 0,
            },
        ];
        // SAFETY: zeroed plain data that stat fills.
        let mut status_buffer: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: the child makes only system calls on the locals above,
        // prepared before the fork, and exits; the parent waits for it.
        let code = unsafe {
            let pid = libc::fork();
            if pid < 0 {
                return Err(format!("fork: {}", std::io::Error::last_os_error()));
            }
            if pid == 0 {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    libc::_exit(SETUP_FAILED);
                }
                if let Some(fd) = ruleset_fd {
                    if libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) != 0 {
                        libc::_exit(SETUP_FAILED);
                    }
                }
                for program in &programs {
                    if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, program) != 0 {
                        libc::_exit(SETUP_FAILED);
                    }
                }
                let mut found = 0;
                let peek = libc::open(hidden_c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if peek >= 0 && ruleset_fd.is_some() {
                    libc::_exit(NOT_CONFINED);
                }
                if libc::utimensat(libc::AT_FDCWD, hidden_c.as_ptr(), times.as_ptr(), 0) == 0 {
                    found |= TIMESTAMPS;
                }
                let watcher = libc::inotify_init1(libc::IN_CLOEXEC);
                if watcher >= 0 && libc::inotify_add_watch(watcher, hidden_c.as_ptr(), libc::IN_ALL_EVENTS) >= 0 {
                    found |= INOTIFY;
                }
                let file = libc::open(readable_c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if file >= 0 && libc::flock(file, libc::LOCK_EX | libc::LOCK_NB) == 0 {
                    found |= FLOCK;
                }
                if libc::stat(hidden_c.as_ptr(), &mut status_buffer) == 0 {
                    found |= STAT;
                }
                libc::_exit(found);
            }
            let mut status = 0;
            while libc::waitpid(pid, &mut status, 0) < 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() != std::io::ErrorKind::Interrupted {
                    return Err(format!("waitpid: {err}"));
                }
            }
            match libc::WIFEXITED(status) {
                true => libc::WEXITSTATUS(status),
                false => return Err(format!("the throw-away child ended with wait status {status}")),
            }
        };
        match code {
            NOT_CONFINED => return Err("the Landlock ruleset did not hold in the throw-away child".into()),
            SETUP_FAILED => return Err("the throw-away child could not confine itself".into()),
            _ => {}
        }
        Ok(Measured {
            landlock: ruleset.is_some(),
            seccomp: !filters.is_empty(),
            abi: kernel.landlock_abi,
            failed: None,
            timestamps: Some(code & TIMESTAMPS != 0),
            inotify: Some(code & INOTIFY != 0),
            flock: Some(code & FLOCK != 0),
            stat: Some(code & STAT != 0),
        })
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
        let noexec = c_path(&tmp).ok().and_then(|c| {
            // SAFETY: zeroed plain data that statvfs fills.
            let mut fs: libc::statvfs = unsafe { std::mem::zeroed() };
            // SAFETY: a NUL-terminated path and a pointer to a local.
            (unsafe { libc::statvfs(c.as_ptr(), &mut fs) } == 0).then_some(fs.f_flag & libc::ST_NOEXEC != 0)
        });
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
        let here = procbox::containment::cgroup::report()
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
}
