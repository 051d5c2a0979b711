//! The throw-away child of `procbox doctor`: it confines itself with a
//! Landlock ruleset built by procbox's own code (every filesystem right
//! handled, one file readable) and procbox's seccomp filters, then tries
//! what no Landlock right covers (timestamps, inotify, file locks,
//! metadata) on a file it may not read. What it could do is what a
//! confined child can do on this machine.

use std::ffi::{CStr, CString};
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
    in_a_fork(|| match confine(ruleset_fd, programs) {
        Ok(()) => try_gaps(ruleset_fd.is_some(), &readable, &hidden),
        Err(_) => SETUP_FAILED,
    })
}

/// Runs in the forked child of a possibly threaded process: confines it
/// with `ruleset_fd` (inherited from the parent) and the seccomp
/// `programs` (the parent's memory, which the child's copy keeps), with
/// system calls only.
fn confine(ruleset_fd: Option<i32>, programs: &[libc::sock_fprog]) -> Result<(), ()> {
    rustix::thread::set_no_new_privs(true).map_err(drop)?;
    if let Some(fd) = ruleset_fd {
        // SAFETY: a system call with a descriptor and a flag word; it reads
        // no memory of ours.
        if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) } != 0 {
            return Err(());
        }
    }
    for program in programs {
        // SAFETY: a filter program that outlives the call.
        if unsafe { libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, program) } != 0 {
            return Err(());
        }
    }
    Ok(())
}

/// Runs in the confined child: system calls only, no allocation; the bits
/// of what it could do to `hidden`, which it may not read (with a
/// ruleset), and `readable`.
fn try_gaps(has_ruleset: bool, readable: &CStr, hidden: &CStr) -> i32 {
    use rustix::fs::{self, inotify, Mode, OFlags, Timestamps, CWD};
    let read_only = OFlags::RDONLY | OFlags::CLOEXEC;
    if fs::open(hidden, read_only, Mode::empty()).is_ok() && has_ruleset {
        return NOT_CONFINED;
    }
    let y2k = fs::Timespec {
        tv_sec: 946_684_800, // 2000-01-01
        tv_nsec: 0,
    };
    let times = Timestamps {
        last_access: y2k,
        last_modification: y2k,
    };
    let mut found = 0;
    if fs::utimensat(CWD, hidden, &times, fs::AtFlags::empty()).is_ok() {
        found |= TIMESTAMPS;
    }
    let watched = inotify::init(inotify::CreateFlags::CLOEXEC)
        .and_then(|watcher| inotify::add_watch(&watcher, hidden, inotify::WatchFlags::ALL_EVENTS));
    if watched.is_ok() {
        found |= INOTIFY;
    }
    let locked = fs::open(readable, read_only, Mode::empty())
        .and_then(|file| fs::flock(&file, fs::FlockOperation::NonBlockingLockExclusive));
    if locked.is_ok() {
        found |= FLOCK;
    }
    if fs::stat(hidden).is_ok() {
        found |= STAT;
    }
    found
}

/// Runs `child` in a fork of this (possibly threaded) process and returns
/// the code it exits with. `child` runs in the forked child, where only
/// async-signal-safe system calls may run: it must work on what was
/// prepared before the fork, without allocating or taking a lock.
pub(super) fn in_a_fork(child: impl FnOnce() -> i32) -> Result<i32, String> {
    use rustix::process::{waitpid, Pid, WaitOptions};
    // SAFETY: fork has no preconditions; the child runs `child`, which the
    // caller keeps to system calls, and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        let code = child();
        // SAFETY: ends the forked child at once, without running any of
        // the parent's exit handlers.
        unsafe { libc::_exit(code) }
    }
    let pid = Pid::from_raw(pid).ok_or("fork returned no child")?;
    let status = loop {
        match waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => break status,
            Ok(None) => return Err("waitpid: no status".into()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(format!("waitpid: {e}")),
        }
    };
    status
        .exit_status()
        .ok_or_else(|| format!("the child ended with wait status {:#x}", status.as_raw()))
}
