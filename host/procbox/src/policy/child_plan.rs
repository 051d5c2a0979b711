//! A child's confinement plan made from the policy: the sandbox owns the
//! plan as data ([`crate::sandbox::plan`]), this layer reads the grants
//! into it, so that the sandbox need not know the policy.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::Policy;
use crate::sandbox::plan::{
    existing, interpreters, ChildPlan, Planned, Planner, TreePlan, SYSTEM_READ, SYSTEM_WRITE_FILES,
};
use crate::sandbox::probe::Enforcement;

impl Planner {
    /// The plan for the children of `program` (canonical) under `policy`,
    /// with the run's temporary directory `tmp`; the same one for every
    /// child of the same program.
    pub fn planned(
        &self,
        policy: &Policy,
        enforcement: &Enforcement,
        tree: &TreePlan,
        program: &Path,
        tmp: &Path,
    ) -> Arc<Planned> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        plans
            .entry(program.to_path_buf())
            .or_insert_with(|| {
                let plan = Self::plan(policy, enforcement, tree, program, tmp);
                Arc::new(Planned {
                    id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                    summary: plan.summary(),
                    plan,
                })
            })
            .clone()
    }

    /// The plan for a child of `program` (canonical) under `policy`, with
    /// the run's temporary directory `tmp`.
    pub fn plan(policy: &Policy, enforcement: &Enforcement, tree: &TreePlan, program: &Path, tmp: &Path) -> ChildPlan {
        let caps = policy.plugin();
        let mut read = existing(SYSTEM_READ).to_vec();
        read.extend(caps.read_dirs.iter().cloned());
        read.extend(policy.dirs().iter().cloned());
        if policy.start_dir_readable() {
            read.push(policy.start_dir().to_path_buf());
        }
        read.push(program.to_path_buf());
        // The write grants split around their protected paths: split
        // directories are only read, their other entries written.
        let write_set = policy.write_set();
        read.extend(write_set.read_only.iter().cloned());
        let mut write = write_set.dirs.clone();
        write.push(tmp.to_path_buf());
        let mut write_files = existing(SYSTEM_WRITE_FILES).to_vec();
        write_files.extend(write_set.files.iter().cloned());
        let mut exec = vec![program.to_path_buf()];
        exec.extend(interpreters(program));
        let confinement = policy.confinement();
        exec.extend(
            confinement
                .helpers
                .iter()
                .filter(|h| h.program.as_deref().is_none_or(|p| p == program))
                .map(|h| h.path.clone()),
        );
        for list in [&mut read, &mut write, &mut write_files, &mut exec] {
            list.sort();
            list.dedup();
        }
        ChildPlan {
            read,
            write,
            write_files,
            exec,
            net: confinement.net.clone(),
            tmp: tmp.to_path_buf(),
            abi: enforcement.abi,
            seccomp: enforcement.seccomp,
            drop_caps: enforcement.active() && rustix::process::geteuid().is_root(),
            tree: tree.clone(),
        }
    }
}
