//! Confinement after `exec`: where the kernel-enforced form of a grant is
//! prepared (issue "Confinement": Landlock filesystem, exec and network
//! rules; a seccomp filter; capabilities to drop; a cgroup to join).
//!
//! Nothing lives here yet. The shape it will take:
//! - preparation runs in the parent, before any fork, and produces data:
//!   a ruleset, a compiled filter, a list of capabilities;
//! - that data joins the child's [`crate::supervisor::ChildSetup`], which
//!   applies it in the fork window under the rule stated there
//!   (async-signal-safe calls only);
//! - a child with any confinement takes the `fork` + `exec` path of
//!   [`crate::supervisor::launch`], from a small spawner process rather
//!   than from procbox itself (a Landlock domain includes the thread that
//!   made it; see ../shared/NOTES-kernel.md).
