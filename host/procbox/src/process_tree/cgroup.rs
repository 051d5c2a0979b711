//! Limits on a whole tree of children, from a cgroup: `--max-processes`
//! (the pids controller) and `--max-tree-memory` (the memory controller).
//!
//! procbox makes one cgroup per run in each hierarchy that has the
//! controller (cgroup v2 where it can enable the controller for a child
//! group, else the v1 hierarchy of that controller), writes the limits, and
//! the launcher moves itself into it before it starts its first child: the
//! launcher, the namespace's init and every process of the tree are
//! counted from then on, and a `fork` past the limit fails with `EAGAIN`.
//! The run's cgroups are removed when the run ends; those a killed procbox
//! left behind are removed by the next one that makes its own: each run
//! holds an `flock` on its cgroups' directories for its lifetime, and a
//! cgroup whose lock can be taken is stale (no pid is trusted: pids are
//! reused).
//!
//! Where no hierarchy with the controller is writable (an unprivileged user
//! without a delegated cgroup, most often), a run that sets one of these
//! limits is refused: a limit the user asked for is never silently dropped.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use super::errors::CgroupError;

/// The processes of the tree that are procbox's own: the launcher, and the
/// namespace's init when there is a PID namespace. `--max-processes N`
/// allows N more.
pub fn own_processes(pid_namespace: bool) -> u64 {
    1 + u64::from(pid_namespace)
}

/// What the tree of one run may use together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TreeLimits {
    /// Processes at once, grandchildren included (`--max-processes`).
    pub max_processes: Option<u64>,
    /// Memory of the whole tree, in bytes (`--max-tree-memory`).
    pub max_memory: Option<u64>,
}

impl TreeLimits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.max_processes.is_some() || self.max_memory.is_some()
    }

    /// The controllers the limits need, with their flags.
    fn controllers(&self) -> Vec<(&'static str, &'static str)> {
        let mut wanted = Vec::new();
        if self.max_processes.is_some() {
            wanted.push(("pids", "`max-processes`"));
        }
        if self.max_memory.is_some() {
            wanted.push(("memory", "`max-tree-memory`"));
        }
        wanted
    }
}

/// One run's cgroups: a directory per hierarchy, removed on drop.
#[derive(Debug)]
pub struct TreeCgroup {
    dirs: Vec<PathBuf>,
    /// Each of `dirs`, opened and locked (`LOCK_EX`) for the run's
    /// lifetime: a cgroup whose lock a later run can take is stale (see
    /// [`sweep_stale`]).
    locks: Vec<fs::File>,
    /// The one of `dirs` with the memory controller.
    memory: Option<PathBuf>,
    /// Whether any of `dirs` is in the v2 hierarchy.
    unified: bool,
}

impl TreeCgroup {
    /// Makes the run's cgroups and writes `limits` into them (the pids
    /// limit with room for procbox's own processes, given whether there is
    /// a PID namespace).
    ///
    /// # Errors
    /// [`CgroupError::Unavailable`]: the knob, and why this machine cannot
    /// enforce it.
    pub fn create(limits: &TreeLimits, pid_namespace: bool) -> Result<TreeCgroup, CgroupError> {
        sweep_stale();
        let me = rustix::process::getpid().as_raw_nonzero();
        let mut lost = None;
        // Another run's sweep may take a cgroup between its `mkdir` and its
        // lock (it looked stale): then another name.
        for _ in 0..8 {
            match TreeCgroup::create_named(limits, pid_namespace, &format!("procbox-{me}-{}", next_number())) {
                Err(Made::Lost(why)) => lost = Some(why),
                Err(Made::Failed(why)) => return Err(why),
                Ok(cgroup) => return Ok(cgroup),
            }
        }
        Err(lost.unwrap_or(CgroupError::Removed))
    }

    fn create_named(limits: &TreeLimits, pid_namespace: bool, name: &str) -> Result<TreeCgroup, Made> {
        let mut cgroup = TreeCgroup {
            dirs: Vec::new(),
            locks: Vec::new(),
            memory: None,
            unified: false,
        };
        for (controller, flag) in limits.controllers() {
            let place = place_for(controller, true).map_err(|why| Made::Failed(unavailable(flag, controller, why)))?;
            let dir = place.parent.join(name);
            if !cgroup.dirs.contains(&dir) {
                fs::create_dir(&dir).map_err(|source| {
                    let why = CgroupError::Create {
                        dir: dir.clone(),
                        source,
                    };
                    Made::Failed(unavailable(flag, controller, why))
                })?;
                match lock_if_free(&dir) {
                    Some(lock) => {
                        cgroup.dirs.push(dir.clone());
                        cgroup.locks.push(lock);
                    }
                    None => return Err(Made::Lost(unavailable(flag, controller, CgroupError::Removed))),
                }
            }
            if controller == "memory" {
                cgroup.memory = Some(dir.clone());
            }
            cgroup.unified |= place.unified;
            let (file, value) = place.limit_file(controller, limits, own_processes(pid_namespace));
            fs::write(dir.join(file), value.to_string())
                .map_err(|source| Made::Failed(unavailable(flag, controller, CgroupError::Limit { file, source })))?;
            if controller == "memory" {
                no_more_in_swap(&dir, place.unified, value);
            }
        }
        Ok(cgroup)
    }

    /// The directories to join, for the launcher.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The run's memory cgroup: a child's own cgroup goes inside it, so
    /// that its limit still holds.
    pub fn memory(&self) -> Option<&Path> {
        self.memory.as_deref()
    }

    /// Whether any of the run's cgroups is in the v2 hierarchy.
    pub fn unified(&self) -> bool {
        self.unified
    }

    /// How many forks the pids limit refused so far.
    pub fn refused_forks(&self) -> u64 {
        self.dirs
            .iter()
            .filter_map(|dir| fs::read_to_string(dir.join("pids.events")).ok())
            .filter_map(|events| {
                events
                    .lines()
                    .find_map(|line| line.strip_prefix("max ")?.trim().parse::<u64>().ok())
            })
            .sum()
    }
}

/// Why a run's cgroups were not made.
enum Made {
    /// Another run's sweep took one: try another name.
    Lost(CgroupError),
    /// This machine cannot: the error.
    Failed(CgroupError),
}

impl Drop for TreeCgroup {
    fn drop(&mut self) {
        // Fails while a process is still inside (a launcher being retired):
        // the next run's `remove_stale` takes it then, once its lock (in
        // `locks`, released after this) is free.
        for dir in &self.dirs {
            remove_with_children(dir);
        }
    }
}

/// Removes a cgroup and the (empty) child cgroups procbox made inside it.
pub(crate) fn remove_with_children(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_str().is_some_and(|n| n.starts_with("procbox-")) {
                let _ = fs::remove_dir(entry.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

/// Adds the forks a run's pids limit refused to the process's total.
pub fn count_refused_forks(forks: u64) {
    REFUSED_FORKS.fetch_add(forks, std::sync::atomic::Ordering::Relaxed);
}

/// How many forks `--max-processes` refused in every run of this process
/// that has ended (the command line runs one, and says so after it).
pub fn refused_forks_so_far() -> u64 {
    REFUSED_FORKS.load(std::sync::atomic::Ordering::Relaxed)
}

static REFUSED_FORKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Keeps the tree from going past its memory limit into swap, where the
/// kernel accounts swap at all: v2 `memory.swap.max` 0, v1
/// `memory.memsw.limit_in_bytes` equal to the memory limit. Without swap
/// accounting there is no file, and swap is not counted (`doctor` cannot
/// tell more).
fn no_more_in_swap(dir: &Path, unified: bool, limit: u64) {
    let (file, value) = match unified {
        true => ("memory.swap.max", 0),
        false => ("memory.memsw.limit_in_bytes", limit),
    };
    let path = dir.join(file);
    if path.exists() {
        let _ = fs::write(path, value.to_string());
    }
}

/// Moves the calling process into each of `dirs` (the launcher, before its
/// first child).
///
/// # Errors
/// Which directory refused it.
pub fn join(dirs: &[PathBuf]) -> Result<(), CgroupError> {
    for dir in dirs {
        // "0" is the writing process itself, in v1 and v2 alike.
        fs::write(dir.join("cgroup.procs"), "0").map_err(|source| CgroupError::Join {
            dir: dir.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Whether `limits` can be enforced here; `Err` names the flag and why.
pub fn check(limits: &TreeLimits) -> Result<(), CgroupError> {
    for (controller, flag) in limits.controllers() {
        let place = place_for(controller, false).map_err(|why| unavailable(flag, controller, why))?;
        if !writable(&place.parent) {
            return Err(unavailable(
                flag,
                controller,
                CgroupError::NotWritable { dir: place.parent },
            ));
        }
    }
    Ok(())
}

/// Where each controller can be used, for `procbox doctor`.
pub fn report() -> Vec<(&'static str, Result<PathBuf, CgroupError>)> {
    ["pids", "memory"]
        .into_iter()
        .map(|controller| {
            let place = place_for(controller, false).and_then(|place| match writable(&place.parent) {
                true => Ok(place.parent),
                false => Err(CgroupError::NotWritable { dir: place.parent }),
            });
            (controller, place)
        })
        .collect()
}

fn unavailable(knob: &'static str, controller: &'static str, why: CgroupError) -> CgroupError {
    CgroupError::Unavailable {
        knob,
        controller,
        why: Box::new(why),
    }
}

/// Where a run's cgroup for one controller goes.
pub(crate) struct Place {
    /// The directory the run's cgroup is made in.
    pub(crate) parent: PathBuf,
    /// Whether it is the v2 (unified) hierarchy.
    pub(crate) unified: bool,
}

impl Place {
    /// The file and value that set `controller`'s limit.
    fn limit_file(&self, controller: &str, limits: &TreeLimits, own: u64) -> (&'static str, u64) {
        match (controller, self.unified) {
            ("pids", _) => ("pids.max", limits.max_processes.unwrap_or(0) + own),
            (_, true) => ("memory.max", limits.max_memory.unwrap_or(u64::MAX)),
            (_, false) => ("memory.limit_in_bytes", limits.max_memory.unwrap_or(u64::MAX)),
        }
    }
}

/// The v2 hierarchy, if our cgroup there can give the controller to a child
/// group (with `enable`, turning it on for child groups if needed); else
/// the v1 hierarchy of the controller.
pub(crate) fn place_for(controller: &'static str, enable: bool) -> Result<Place, CgroupError> {
    let read = |path: &str| {
        fs::read_to_string(path).map_err(|source| CgroupError::Proc {
            path: path.into(),
            source,
        })
    };
    let mounts = read("/proc/self/mountinfo")?;
    let groups = read("/proc/self/cgroup")?;
    if let Some(place) = unified_place(&mounts, &groups, controller, enable) {
        return Ok(place);
    }
    v1_place(&mounts, &groups, controller).ok_or(CgroupError::NoHierarchy { controller })
}

fn unified_place(mounts: &str, groups: &str, controller: &str, enable: bool) -> Option<Place> {
    let root = mount_points(mounts, |fstype, _| fstype == "cgroup2")
        .into_iter()
        .next()?;
    let own = groups.lines().find_map(|line| line.strip_prefix("0::"))?;
    let dir = under(&root, own);
    let offered = fs::read_to_string(dir.join("cgroup.controllers")).ok()?;
    if !offered.split_whitespace().any(|c| c == controller) {
        return None;
    }
    let enabled = |dir: &Path| {
        fs::read_to_string(dir.join("cgroup.subtree_control"))
            .is_ok_and(|on| on.split_whitespace().any(|c| c == controller))
    };
    // Enabling it fails while our own cgroup holds processes (procbox),
    // unless it is the root: then it cannot be used. A check only asks.
    let is_root = own.trim_matches('/').is_empty();
    let usable = enabled(&dir)
        || match enable {
            true => fs::write(dir.join("cgroup.subtree_control"), format!("+{controller}")).is_ok(),
            false => is_root,
        };
    if !usable {
        return None;
    }
    Some(Place {
        parent: dir,
        unified: true,
    })
}

fn v1_place(mounts: &str, groups: &str, controller: &str) -> Option<Place> {
    let root = mount_points(mounts, |fstype, options| {
        fstype == "cgroup" && options.split(',').any(|o| o == controller)
    })
    .into_iter()
    .next()?;
    let own = groups.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, names, path) = (fields.next()?, fields.next()?, fields.next()?);
        names.split(',').any(|n| n == controller).then_some(path)
    })?;
    Some(Place {
        parent: under(&root, own),
        unified: false,
    })
}

/// The cgroup `path` (as `/proc/self/cgroup` writes it) in the hierarchy
/// mounted at `root`.
fn under(root: &Path, path: &str) -> PathBuf {
    match path.trim_matches('/') {
        "" => root.to_path_buf(),
        relative => root.join(relative),
    }
}

/// Mount points of `/proc/self/mountinfo` whose file system type and super
/// options pass `wanted`.
fn mount_points(mountinfo: &str, wanted: impl Fn(&str, &str) -> bool) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let point = before.split(' ').nth(4)?;
            let mut after = after.split(' ');
            let (fstype, _source, options) = (after.next()?, after.next()?, after.next()?);
            wanted(fstype, options).then(|| PathBuf::from(point))
        })
        .collect()
}

/// Whether this user may write `dir` (make a cgroup in it).
pub(crate) fn writable(dir: &Path) -> bool {
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).is_ok()
}

pub(crate) fn next_number() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Removes, in every hierarchy procbox uses, the cgroups of procbox
/// processes that are gone.
pub(crate) fn sweep_stale() {
    for controller in ["pids", "memory", "cpuacct"] {
        if let Ok(place) = place_for(controller, false) {
            remove_stale(&place.parent);
        }
    }
}

/// How many stale run cgroups one sweep removes at most, per hierarchy.
const SWEEP_BOUND: usize = 64;

/// Removes the cgroups of procbox processes that are gone (killed before
/// they could): an empty cgroup's directory is all that remains of them.
/// A run's cgroup (`procbox-PID-N`) is stale when its lock can be taken
/// (its run held it until it died: no pid, which may have been reused, is
/// trusted); a measured child's (`procbox-PID-cN`, not locked) when its
/// procbox process is gone.
fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        if removed >= SWEEP_BOUND {
            return;
        }
        let name = entry.file_name();
        let Some((pid, number)) = name
            .to_str()
            .and_then(|n| n.strip_prefix("procbox-"))
            .and_then(|rest| rest.split_once('-'))
        else {
            continue;
        };
        let Ok(pid) = pid.parse::<libc::pid_t>() else {
            continue;
        };
        if number.bytes().all(|b| b.is_ascii_digit()) && !number.is_empty() {
            // Held while removing, so that no run takes it meanwhile.
            if let Some(_lock) = lock_if_free(&entry.path()) {
                remove_with_children(&entry.path());
                removed += 1;
            }
            continue;
        }
        // Signal 0 only checks whether the process exists.
        let alive = rustix::process::Pid::from_raw(pid).is_some_and(|pid| {
            matches!(
                rustix::process::test_kill_process(pid),
                Ok(()) | Err(rustix::io::Errno::PERM)
            )
        });
        if !alive {
            remove_with_children(&entry.path());
            removed += 1;
        }
    }
}

/// The cgroup directory `dir` (never a symbolic link), opened and locked
/// (`LOCK_EX`, without waiting), if it is this user's, no one holds it and
/// it is still at `dir` once locked: a new run's own, or a dead run's.
fn lock_if_free(dir: &Path) -> Option<fs::File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir)
        .ok()?;
    let meta = file.metadata().ok()?;
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return None;
    }
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).ok()?;
    let now = fs::symlink_metadata(dir).ok()?;
    (now.dev() == meta.dev() && now.ino() == meta.ino()).then_some(file)
}

#[cfg(test)]
mod tests;
