//! The test switches that pretend the kernel lacks a mechanism
//! (`PROCBOX_PRETEND_*`), read by the sandbox's and the process tree's
//! probes.

/// The value of a `PROCBOX_PRETEND_*` test switch. Only debug builds (the
/// test builds) read it: a release build of the library takes nothing
/// about the kernel from the environment. Not a cargo feature: features
/// are unified across a workspace, so a test crate's would switch the
/// variables on in every build.
#[doc(hidden)]
pub fn pretended(name: &str) -> Option<String> {
    match cfg!(debug_assertions) {
        true => std::env::var(name).ok(),
        false => None,
    }
}
