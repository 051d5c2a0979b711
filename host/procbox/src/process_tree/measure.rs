//! What a child's whole tree used (`command.measure-tree` in
//! `procbox:host@0.2.0`): the child joins a cgroup of its own between
//! `clone` and `exec`, so that it and everything it starts are counted
//! there, and procbox reads the cgroup's CPU time and memory peak when it
//! reaps the child, then removes the cgroup.
//!
//! cgroup v1 (the `cpuacct` and `memory` hierarchies) or v2 (one directory
//! with the memory controller; `cpu.stat` is always there). Inside the
//! run's memory cgroup when `--max-tree-memory` made one, so that its limit
//! still holds; not measured when the run's cgroup is a v2 one (the child
//! would leave its pids limit).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cgroup::{self, CgroupError, TreeCgroup};
use crate::exit::TreeUsage;

/// One child's own cgroup, in one directory per hierarchy.
#[derive(Debug)]
pub struct ChildCgroup {
    cpu: PathBuf,
    memory: PathBuf,
    unified: bool,
}

impl ChildCgroup {
    /// Makes one, or `None` where this machine has no cgroup hierarchy
    /// procbox may write with CPU accounting and memory.
    pub fn create(run: Option<&TreeCgroup>) -> Option<ChildCgroup> {
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(cgroup::sweep_stale);
        remove_busy();
        let name = format!(
            "procbox-{}-c{}",
            rustix::process::getpid().as_raw_nonzero(),
            cgroup::next_number()
        );
        if run.is_some_and(TreeCgroup::unified) {
            return None;
        }
        let (cpu_parent, memory_parent, unified) = match run.and_then(TreeCgroup::memory) {
            Some(dir) => (
                cgroup::place_for("cpuacct", false).ok()?.parent,
                dir.to_path_buf(),
                false,
            ),
            None => {
                let memory = cgroup::place_for("memory", true).ok()?;
                match memory.unified {
                    true => (memory.parent.clone(), memory.parent, true),
                    false => (cgroup::place_for("cpuacct", false).ok()?.parent, memory.parent, false),
                }
            }
        };
        let child = ChildCgroup {
            cpu: cpu_parent.join(&name),
            memory: memory_parent.join(&name),
            unified,
        };
        for dir in child.dirs() {
            if fs::create_dir(dir).is_err() {
                child.remove();
                return None;
            }
        }
        Some(child)
    }

    /// The `cgroup.procs` files the child writes itself into.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs().iter().map(|dir| dir.join("cgroup.procs")).collect()
    }

    /// The tree's usage so far; the cgroup is removed when this is
    /// dropped (or later, if a process of the tree still runs in it).
    pub fn finish(self) -> Option<TreeUsage> {
        self.read()
    }

    fn read(&self) -> Option<TreeUsage> {
        match self.unified {
            true => {
                let stat = fs::read_to_string(self.cpu.join("cpu.stat")).ok()?;
                let usec = |key: &str| {
                    stat.lines()
                        .find_map(|l| l.strip_prefix(key)?.trim().parse::<u64>().ok())
                        .map(Duration::from_micros)
                };
                Some(TreeUsage {
                    user_cpu: usec("user_usec ")?,
                    system_cpu: usec("system_usec ")?,
                    peak_memory_bytes: number(&self.memory.join("memory.peak"))?,
                })
            }
            false => Some(TreeUsage {
                user_cpu: Duration::from_nanos(number(&self.cpu.join("cpuacct.usage_user"))?),
                system_cpu: Duration::from_nanos(number(&self.cpu.join("cpuacct.usage_sys"))?),
                peak_memory_bytes: number(&self.memory.join("memory.max_usage_in_bytes"))?,
            }),
        }
    }

    fn dirs(&self) -> Vec<&Path> {
        let mut dirs = vec![self.cpu.as_path()];
        if self.memory != self.cpu {
            dirs.push(&self.memory);
        }
        dirs
    }

    fn remove(&self) {
        for dir in self.dirs() {
            if fs::remove_dir(dir).is_err() && dir.exists() {
                BUSY.lock().unwrap_or_else(|e| e.into_inner()).push(dir.to_path_buf());
            }
        }
    }
}

impl Drop for ChildCgroup {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Children's cgroups that still held a process of their tree when their
/// child was reaped (an escaped session): removed once it is gone.
static BUSY: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Removes the busy children's cgroups that have emptied since; called at
/// each new child's cgroup and when a run ends.
pub fn remove_busy() {
    BUSY.lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|dir| fs::remove_dir(dir).is_err() && dir.exists());
}

/// Whether children's trees can be measured here, for `procbox doctor`:
/// where the cgroups would go, or why not.
pub fn availability() -> Result<String, CgroupError> {
    let memory = cgroup::place_for("memory", false)?;
    let mut dirs = vec![memory.parent.clone()];
    if !memory.unified {
        dirs.push(cgroup::place_for("cpuacct", false)?.parent);
    }
    match dirs.iter().find(|dir| !cgroup::writable(dir)) {
        Some(dir) => Err(CgroupError::NotWritable { dir: dir.clone() }),
        None => Ok(dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" and ")),
    }
}

fn number(file: &Path) -> Option<u64> {
    fs::read_to_string(file).ok()?.trim().parse().ok()
}
