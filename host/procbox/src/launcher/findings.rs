//! The verdicts that rest on the kernel probe's findings ([`probes`]): what
//! the kernel supports ([`KernelSupport::get`], [`NamespaceSupport::get`])
//! and what a policy's modes make of it ([`Enforcement::decide`],
//! [`Containment::decide`]). Their types and rules are the sandbox's and
//! the process tree's (`sandbox::probe::ladder`, `Containment::ladder`);
//! the methods that ask the probe live here, with the probe, because it
//! runs in the launcher's image. So the sandbox and the process tree never
//! use the launcher, which uses them.
//!
//! Without a probe's answer (no helper process could be started) nothing
//! can confine or contain children, whatever the mode but `off`: nothing
//! is forked from procbox in the launcher's place.

use super::probes::{self, Probed};
use crate::process_tree::namespace::{Containment, ContainmentError, NamespaceSupport, NoNamespace};
use crate::sandbox::probe::{self as sandbox_probe, Enforcement, KernelSupport, Unenforceable};
use crate::sandbox::ChildNet;
use crate::terms::Strictness;

impl KernelSupport {
    /// The kernel's support, probed once per process (a kernel whose probe
    /// gave no answer counts as enforcing nothing).
    pub fn get() -> KernelSupport {
        static FOUND: std::sync::OnceLock<KernelSupport> = std::sync::OnceLock::new();
        *FOUND.get_or_init(|| sandbox_probe::pretend(found_here(probes::probed().as_ref().ok())))
    }
}

/// The probe's Landlock and seccomp findings (none without an answer).
fn found_here(probed: Option<&Probed>) -> KernelSupport {
    KernelSupport {
        landlock_abi: probed.map_or(0, |found| found.landlock_abi),
        seccomp: probed.is_some_and(|found| found.seccomp),
        pretended: false,
    }
}

impl NamespaceSupport {
    /// The kernel's support, probed once per process by making a namespace
    /// for real in the probe process.
    pub fn get() -> &'static NamespaceSupport {
        static FOUND: std::sync::OnceLock<NamespaceSupport> = std::sync::OnceLock::new();
        FOUND.get_or_init(|| {
            NamespaceSupport::pretended_none().unwrap_or_else(|| NamespaceSupport {
                works: match probes::probed() {
                    Ok(found) => found.namespace.clone(),
                    Err(e) => Err(NoNamespace { reason: e.to_string() }),
                },
                pretended: false,
            })
        })
    }
}

impl Enforcement {
    /// What the running kernel will enforce on children for `mode` and the
    /// children's network `net`, given its support `kernel` (the
    /// [`Strictness`] ladder).
    ///
    /// # Errors
    /// Whatever the mode but `off`, that no launcher could be started;
    /// under [`Strictness::Require`], the first need the kernel cannot
    /// meet, as one line that says how to go on.
    pub fn decide(mode: Strictness, net: &ChildNet, kernel: KernelSupport) -> Result<Enforcement, Unenforceable> {
        if mode != Strictness::Off {
            if let Err(why) = probes::probed() {
                return Err(Unenforceable(format!(
                    "cannot confine children: {why}; name a program that can run as procbox's launcher \
                     (`procbox::set_launcher_program`), or set `confine = off`"
                )));
            }
        }
        sandbox_probe::ladder(mode, net, kernel)
    }
}

impl Containment {
    /// Applies the ladder to this kernel.
    ///
    /// # Errors
    /// Under `require`, what the kernel lacks and the knob; whatever the
    /// mode but `off`, that no launcher could be started.
    pub fn decide(mode: Strictness) -> Result<Containment, ContainmentError> {
        if mode == Strictness::Off {
            return Ok(Containment::off());
        }
        if let Err(why) = probes::probed() {
            return Err(ContainmentError::NoLauncher(why.clone()));
        }
        Containment::ladder(mode, NamespaceSupport::get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::probe::ABI_FILES;

    #[test]
    fn this_kernel_is_probed_for_real() {
        let found = found_here(probes::probed().as_ref().ok());
        // The machines procbox is developed and tested on have ABI 7.
        assert!(found.landlock_abi >= ABI_FILES, "{found}");
        assert!(found.seccomp, "{found}");
    }
}
