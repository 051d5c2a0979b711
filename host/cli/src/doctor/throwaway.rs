//! The throw-away child of `procbox doctor`: a process of its own
//! ([`children::GAPS`]) that confines itself as procbox confines a child
//! ([`procbox::sandbox::restrict_self`]: a Landlock ruleset handling every
//! filesystem right with one file readable, and procbox's seccomp
//! filters), then tries what no Landlock right covers (timestamps,
//! inotify, file locks, metadata) on a file it may not read. What it could
//! do is what a confined child can do on this machine.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use procbox::sandbox::plan::{ChildPlan, TreePlan};
use procbox::sandbox::probe::KernelSupport;
use procbox::ChildNet;

use super::children;

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

/// Exit bits of the throw-away child.
const TIMESTAMPS: u8 = 1;
const INOTIFY: u8 = 2;
const FLOCK: u8 = 4;
const STAT: u8 = 8;
/// Every gap bit: a code above it is not a measurement.
const ALL_GAPS: u8 = TIMESTAMPS | INOTIFY | FLOCK | STAT;
/// The hidden file could be read: the ruleset did not hold.
const NOT_CONFINED: u8 = 64;
/// Setting up the confinement failed.
const SETUP_FAILED: u8 = 65;

fn measure(kernel: KernelSupport) -> Result<Measured, String> {
    let scratch = Scratch::new()?;
    let abi = kernel.landlock_abi.to_string();
    let seccomp = if kernel.seccomp { "seccomp" } else { "no-seccomp" };
    let ended = children::run(children::GAPS, &[abi.as_ref(), seccomp.as_ref(), scratch.0.as_os_str()])?;
    match ended.code {
        NOT_CONFINED => return Err("the Landlock ruleset did not hold in the throw-away child".into()),
        SETUP_FAILED => return Err(format!("the throw-away child could not confine itself: {}", ended.said)),
        // Anything but the bits (a panic's 101, a loader's 127) measured nothing.
        code if code > ALL_GAPS => {
            return Err(format!("the throw-away child ended with {code}: {}", ended.said));
        }
        _ => {}
    }
    Ok(Measured {
        landlock: kernel.landlock_abi > 0,
        seccomp: kernel.seccomp,
        abi: kernel.landlock_abi,
        failed: None,
        timestamps: Some(ended.code & TIMESTAMPS != 0),
        inotify: Some(ended.code & INOTIFY != 0),
        flock: Some(ended.code & FLOCK != 0),
        stat: Some(ended.code & STAT != 0),
    })
}

/// The plan of the throw-away child: procbox's confinement for a child
/// granted `dir`'s `readable` file and nothing else (`dir` is its
/// `$TMPDIR`, as a run's private directory is).
fn plan(abi: u32, seccomp: bool, dir: &Path) -> ChildPlan {
    ChildPlan {
        read: vec![dir.join("readable")],
        write: Vec::new(),
        write_files: Vec::new(),
        exec: Vec::new(),
        net: ChildNet::default(),
        tmp: dir.to_path_buf(),
        abi,
        seccomp,
        drop_caps: false,
        tree: TreePlan::default(),
    }
}

/// The throw-away child's `main` ([`children::GAPS`]), in a process of its
/// own started for it: `ABI seccomp|no-seccomp DIR`. It confines itself
/// under [`plan`], tries each gap on `DIR/hidden` and returns the bits of
/// what it could do.
pub(super) fn gaps_child(args: &[OsString]) -> u8 {
    let [abi, seccomp, dir] = args else {
        eprintln!("usage: {} ABI seccomp|no-seccomp DIR", children::GAPS);
        return SETUP_FAILED;
    };
    let Some(abi) = abi.to_str().and_then(|abi| abi.parse().ok()) else {
        eprintln!("not a Landlock ABI: {abi:?}");
        return SETUP_FAILED;
    };
    let dir = Path::new(dir);
    let plan = plan(abi, seccomp == "seccomp", dir);
    if let Err(e) = procbox::sandbox::restrict_self(&plan) {
        eprintln!("{e}");
        return SETUP_FAILED;
    }
    try_gaps(abi > 0, &dir.join("readable"), &dir.join("hidden"))
}

/// Runs in the confined child: the bits of what it could do to `hidden`,
/// which it may not read (with a ruleset), and `readable`.
fn try_gaps(has_ruleset: bool, readable: &Path, hidden: &Path) -> u8 {
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
