//! The throw-away child of `procbox doctor`: it confines itself with a
//! Landlock ruleset built by procbox's own code (every filesystem right
//! handled, one file readable) and procbox's seccomp filters, then tries
//! what no Landlock right covers (timestamps, inotify, file locks,
//! metadata) on a file it may not read. What it could do is what a
//! confined child can do on this machine.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use procbox::sandbox::filter;
use procbox::sandbox::plan::{ChildPlan, TreePlan};
use procbox::sandbox::probe::KernelSupport;
use procbox::sandbox::ruleset;
use procbox::ChildNet;

/// What the throw-away child could do (`None`: not measured).
#[derive(Debug, Default)]
pub(super) struct Measured {
    /// Landlock took part (an ABI and a working ruleset).
    landlock: bool,
    /// procbox's seccomp filters took part.
    seccomp: bool,
    /// The Landlock ABI of the ruleset.
    abi: u32,
    /// Why the measurement could not be taken.
    failed: Option<String>,
    pub(super) timestamps: Option<bool>,
    pub(super) inotify: Option<bool>,
    pub(super) flock: Option<bool>,
    pub(super) stat: Option<bool>,
}

impl Measured {
    /// Runs the throw-away child.
    pub(super) fn take(kernel: KernelSupport) -> Measured {
        match measure(kernel) {
            Ok(found) => found,
            Err(why) => Measured {
                failed: Some(why),
                ..Measured::default()
            },
        }
    }

    /// How the first lines were found.
    pub(super) fn how(&self) -> String {
        let under = match (self.landlock, self.seccomp) {
            (true, true) => format!("Landlock ABI {} and procbox's seccomp filter", self.abi),
            (true, false) => format!("Landlock ABI {}, no seccomp here", self.abi),
            (false, true) => "procbox's seccomp filter, no Landlock here".into(),
            (false, false) => "no Landlock and no seccomp here".into(),
        };
        match &self.failed {
            Some(why) => format!("timestamps, inotify, file locks and metadata not measured: {why}"),
            None => {
                format!("timestamps, inotify, file locks and metadata measured just now by a throw-away child: {under}")
            }
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

pub(super) fn c_path(path: &Path) -> Result<CString, String> {
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
    let plan = ChildPlan {
        read: vec![scratch.0.join("readable")],
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
    let ruleset = ruleset::build(&plan).map_err(|e| e.to_string())?;
    let filters = match kernel.seccomp {
        true => vec![
            filter::build(&plan.net).map_err(|e| e.to_string())?,
            filter::unknown_calls(filter::FIRST_UNKNOWN_CALL).map_err(|e| e.to_string())?,
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
    let code = run_child(&scratch, ruleset.as_ref(), &programs)?;
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

/// Forks the child, which confines itself and tries each gap, and returns
/// its exit code (the bits above). Everything the child touches is
/// prepared here, before the fork.
fn run_child(scratch: &Scratch, ruleset: Option<&OwnedFd>, programs: &[libc::sock_fprog]) -> Result<i32, String> {
    let readable = c_path(&scratch.0.join("readable"))?;
    let hidden = c_path(&scratch.0.join("hidden"))?;
    let ruleset_fd = ruleset.map(AsRawFd::as_raw_fd);
    // SAFETY: fork has no preconditions; the child runs only
    // async-signal-safe system calls on the locals above and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: in the forked child: see `try_gaps`.
        unsafe { try_gaps(ruleset_fd, programs, &readable, &hidden) }
    }
    wait_for(pid)
}

/// Runs in the forked child of a possibly threaded process: system calls
/// only, no allocation, and `_exit` with the bits of what it could do.
///
/// # Safety
/// Call only in a freshly forked child; the pointers are to the parent's
/// locals, which the child's copy of memory keeps.
unsafe fn try_gaps(ruleset_fd: Option<i32>, programs: &[libc::sock_fprog], readable: &CString, hidden: &CString) -> ! {
    let times = [libc::timespec {
        tv_sec: 946_684_800, // 2000-01-01
        tv_nsec: 0,
    }; 2];
    // SAFETY: no preconditions.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        // SAFETY: ends the child.
        unsafe { libc::_exit(SETUP_FAILED) };
    }
    if let Some(fd) = ruleset_fd {
        // SAFETY: a ruleset descriptor inherited from the parent.
        if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) } != 0 {
            // SAFETY: ends the child.
            unsafe { libc::_exit(SETUP_FAILED) };
        }
    }
    for program in programs {
        // SAFETY: a filter program that outlives the call.
        if unsafe { libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, program) } != 0 {
            // SAFETY: ends the child.
            unsafe { libc::_exit(SETUP_FAILED) };
        }
    }
    // SAFETY: a NUL-terminated path.
    let peek = unsafe { libc::open(hidden.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if peek >= 0 && ruleset_fd.is_some() {
        // SAFETY: ends the child.
        unsafe { libc::_exit(NOT_CONFINED) };
    }
    let mut found = 0;
    // SAFETY: a NUL-terminated path and two timespecs.
    if unsafe { libc::utimensat(libc::AT_FDCWD, hidden.as_ptr(), times.as_ptr(), 0) } == 0 {
        found |= TIMESTAMPS;
    }
    // SAFETY: no preconditions.
    let watcher = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    // SAFETY: a descriptor and a NUL-terminated path.
    if watcher >= 0 && unsafe { libc::inotify_add_watch(watcher, hidden.as_ptr(), libc::IN_ALL_EVENTS) } >= 0 {
        found |= INOTIFY;
    }
    // SAFETY: a NUL-terminated path.
    let file = unsafe { libc::open(readable.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    // SAFETY: a descriptor.
    if file >= 0 && unsafe { libc::flock(file, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        found |= FLOCK;
    }
    // SAFETY: zeroed plain data that stat fills.
    let mut status: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a pointer to a local.
    if unsafe { libc::stat(hidden.as_ptr(), &mut status) } == 0 {
        found |= STAT;
    }
    // SAFETY: ends the child.
    unsafe { libc::_exit(found) }
}

/// Waits for the throw-away child; its exit code.
fn wait_for(pid: libc::pid_t) -> Result<i32, String> {
    let mut status = 0;
    // SAFETY: our own child and a pointer to a local.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waitpid: {err}"));
        }
    }
    match libc::WIFEXITED(status) {
        true => Ok(libc::WEXITSTATUS(status)),
        false => Err(format!("the throw-away child ended with wait status {status}")),
    }
}
