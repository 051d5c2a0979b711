//! The seccomp filter (the `seccompiler` crate) for what Landlock does not
//! see. Every refused call fails with `EACCES` ("Permission denied"); the
//! rest is allowed.
//!
//! Always refused:
//! - sockets of any family other than Unix, IPv4 and IPv6 (netlink, packet,
//!   vsock, ...);
//! - `io_uring_*` (it can open sockets and files without the calls below);
//! - `ptrace`, `process_vm_readv`, `process_vm_writev`;
//! - `execveat(fd, "", ..., AT_EMPTY_PATH)` and `memfd_create` without
//!   `MFD_NOEXEC_SEAL`: running a copy of a program from a descriptor
//!   would step around the exec allowlist;
//! - the `TIOCSTI` and `TIOCLINUX` ioctls, which type into a terminal;
//! - changing a file's mode, owner or extended attributes (`chmod`, `chown`,
//!   `setxattr` and their variants): Landlock does not see them, and a child
//!   of root, which owns every root file, could otherwise make a program
//!   setuid root or `/etc/passwd` writable;
//! - changing a file's flags, project attributes, encryption policy or
//!   verity through a read-only descriptor (`file_setattr`, the
//!   `FS_IOC_SET*` ioctls);
//! - new namespaces (`unshare` and `clone` with a `CLONE_NEW*` flag, and
//!   `setns`): a child could use up the user's quota of namespaces and so
//!   leave later runs without a PID namespace; `clone3` fails with `ENOSYS`
//!   (the second filter), and libc falls back to `clone`;
//! - the kernel keyring (`add_key`, `keyctl`, `request_key`) and System V
//!   IPC (message queues, semaphores, shared memory): channels to, and
//!   secrets of, unconfined processes of the user;
//! - acting on another process by pid where Landlock's signal scoping does
//!   not reach: `prlimit64` with a new limit, `setpriority` and
//!   `ioprio_set` of anything but the caller, the `sched_set*` calls,
//!   `migrate_pages`, `move_pages`, `process_madvise`, `kcmp`.
//!
//! A second filter ([`unknown_calls`]) fails every call newer than this
//! list was written against with `ENOSYS`, so that a new kernel's call
//! that acts outside the grant is refused rather than allowed.
//!
//! Refused unless [`ChildNet`] grants them: Unix sockets (`socket(AF_UNIX)`,
//! and datagram `socketpair`s, whose `sendto` reaches any socket file;
//! stream `socketpair`s stay allowed); IPv4 and IPv6 sockets (with per-port
//! grants, only TCP stream sockets, whose ports Landlock checks, and no TCP
//! Fast Open, whose `sendto` connects without the `connect` Landlock
//! checks); `listen`.

use std::collections::BTreeMap;

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

use super::ChildNet;

/// Why a seccomp filter cannot be made on this machine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// `seccompiler` cannot build it (most often: no support for this
    /// architecture).
    #[error("seccomp filter: {0}")]
    Build(#[from] seccompiler::BackendError),
    /// procbox knows no audit architecture for this one.
    #[error("seccomp filter: no support for {arch}")]
    Unsupported {
        /// The architecture, as Rust names it.
        arch: &'static str,
    },
    /// The kernel refused to load a filter.
    #[error("loading {what}: {source}")]
    Load {
        /// Which filter.
        what: &'static str,
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
}

/// The filter for children with `net`, compiled for this machine.
///
/// # Errors
/// If this architecture has no seccomp support in `seccompiler`.
pub fn build(net: &ChildNet) -> Result<BpfProgram, FilterError> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)?;
    let filter = SeccompFilter::new(
        rules(net),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        arch,
    )?;
    Ok(filter.try_into()?)
}

/// The obsolete packet socket type (`libc` deprecates the name).
const SOCK_PACKET: libc::c_int = 10;

/// `sendto` flag that connects a TCP socket (TCP Fast Open).
const MSG_FASTOPEN: u64 = libc::MSG_FASTOPEN as u64;

/// Changing a file's mode, owner or extended attributes. The numbers 452
/// (`fchmodat2`), 463 (`setxattrat`) and 466 (`removexattrat`) are the same
/// on every architecture.
const METADATA: &[i64] = &[
    #[cfg(target_arch = "x86_64")]
    libc::SYS_chmod,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_chown,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_lchown,
    libc::SYS_fchmod,
    libc::SYS_fchmodat,
    452,
    libc::SYS_fchown,
    libc::SYS_fchownat,
    libc::SYS_setxattr,
    libc::SYS_lsetxattr,
    libc::SYS_fsetxattr,
    libc::SYS_removexattr,
    libc::SYS_lremovexattr,
    libc::SYS_fremovexattr,
    463,
    466,
    469, // file_setattr
];

/// The ioctls that change a file's attributes through a descriptor opened
/// only for reading: its flags (`chattr`: sync, nodump, noatime, append),
/// its project quota attributes, an fscrypt policy, fs-verity, its version.
const FILE_ATTRIBUTE_IOCTLS: &[u64] = &[
    0x4008_6602, // FS_IOC_SETFLAGS
    0x4004_6602, // FS_IOC32_SETFLAGS
    0x401c_5820, // FS_IOC_FSSETXATTR
    0x800c_6613, // FS_IOC_SET_ENCRYPTION_POLICY
    0x4080_6685, // FS_IOC_ENABLE_VERITY
    0x4008_7602, // FS_IOC_SETVERSION
    0x4004_7602, // FS_IOC32_SETVERSION
];

/// Calls that act on another process by pid (argument index of the pid;
/// 0 means the caller), which Landlock's signal scoping does not cover.
const OTHER_PROCESSES: &[(i64, u8)] = &[
    (libc::SYS_sched_setaffinity, 0),
    (libc::SYS_sched_setscheduler, 0),
    (libc::SYS_sched_setparam, 0),
    (libc::SYS_sched_setattr, 0),
    (libc::SYS_migrate_pages, 0),
    (libc::SYS_move_pages, 0),
];

/// The kernel keyring.
/// The `clone` and `unshare` flags that make a new namespace.
const NAMESPACE_FLAGS: [u64; 8] = [
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    0x80, // CLONE_NEWTIME
];

const KEYRING: &[i64] = &[libc::SYS_add_key, libc::SYS_keyctl, libc::SYS_request_key];

/// System V IPC.
const SYSV_IPC: &[i64] = &[
    libc::SYS_msgget,
    libc::SYS_msgsnd,
    libc::SYS_msgrcv,
    libc::SYS_msgctl,
    libc::SYS_semget,
    libc::SYS_semop,
    libc::SYS_semtimedop,
    libc::SYS_semctl,
    libc::SYS_shmget,
    libc::SYS_shmat,
    libc::SYS_shmctl,
];

/// The first system call number this filter does not know: 469
/// (`file_setattr`, Linux 6.17) is the last it was written against. New
/// calls get the same number on every architecture.
pub const FIRST_UNKNOWN_CALL: u32 = 470;

/// A second filter, for what the first cannot list: every system call from
/// `first_unknown` on fails with `ENOSYS`, as on a kernel without it (libc
/// falls back as it would there). A call added to a later kernel that acts
/// outside the grant is then refused until this filter learns it, rather
/// than allowed. The x32 calls (numbers with bit 30 set) fall under it too,
/// and so does `clone3`, whose flags (in memory) no filter can read: libc
/// falls back to `clone`, whose flags the first filter checks (Docker's
/// default profile does the same).
/// On another architecture than procbox's own, it allows (the first
/// filter kills).
///
/// # Errors
/// If this architecture has no seccomp support here.
pub fn unknown_calls(first_unknown: u32) -> Result<BpfProgram, FilterError> {
    const AUDIT_ARCH: u32 = match std::env::consts::ARCH.as_bytes() {
        b"x86_64" => 0xc000_003e,
        b"aarch64" => 0xc000_00b7,
        b"riscv64" => 0xc000_00f3,
        _ => 0,
    };
    if AUDIT_ARCH == 0 {
        return Err(FilterError::Unsupported {
            arch: std::env::consts::ARCH,
        });
    }
    let op = |code: u32, jt: u8, jf: u8, k: u32| sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let (arch_offset, nr_offset) = (4, 0); // struct seccomp_data
    Ok(vec![
        op(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, arch_offset),
        // Another architecture: jump to allow (the first filter kills).
        op(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 4, AUDIT_ARCH),
        op(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, nr_offset),
        op(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            1,
            0,
            libc::SYS_clone3 as u32,
        ),
        op(libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K, 0, 1, first_unknown),
        op(
            libc::BPF_RET | libc::BPF_K,
            0,
            0,
            libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        ),
        op(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ])
}

fn condition(arg: u8, op: Op, value: u64) -> SeccompCondition {
    SeccompCondition::new(arg, Len::Dword, op, value).expect("argument index below 6")
}

fn rule(conditions: Vec<SeccompCondition>) -> SeccompRule {
    SeccompRule::new(conditions).expect("a rule with conditions")
}

/// Syscall number → the argument patterns that refuse it (an empty list
/// refuses it whatever its arguments).
fn rules(net: &ChildNet) -> BTreeMap<i64, Vec<SeccompRule>> {
    let mut refused: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    refused.insert(libc::SYS_socket, socket_rules(net));
    network_rules(net, &mut refused);
    for always in METADATA.iter().chain(KEYRING).chain(SYSV_IPC) {
        refused.insert(*always, Vec::new());
    }
    if !(net.all || net.unix || !net.bind.is_empty()) {
        refused.insert(libc::SYS_listen, Vec::new());
    }
    process_rules(&mut refused);
    refused
}

/// The socket families and types the grants leave closed.
fn socket_rules(net: &ChildNet) -> Vec<SeccompRule> {
    let (unix, inet, inet6) = (libc::AF_UNIX as u64, libc::AF_INET as u64, libc::AF_INET6 as u64);
    let mut socket = vec![rule(vec![
        condition(0, Op::Ne, unix),
        condition(0, Op::Ne, inet),
        condition(0, Op::Ne, inet6),
    ])];
    if !net.unix {
        socket.push(rule(vec![condition(0, Op::Eq, unix)]));
    }
    for family in [inet, inet6] {
        if !net.any_inet() {
            socket.push(rule(vec![condition(0, Op::Eq, family)]));
        } else if !net.all {
            // Ports are Landlock's TCP rules: any other type or protocol
            // (UDP, raw, SCTP) would not be checked by them.
            for kind in [
                libc::SOCK_DGRAM,
                libc::SOCK_RAW,
                libc::SOCK_RDM,
                libc::SOCK_SEQPACKET,
                libc::SOCK_DCCP,
                SOCK_PACKET,
            ] {
                socket.push(rule(vec![
                    condition(0, Op::Eq, family),
                    condition(1, Op::MaskedEq(0xf), kind as u64),
                ]));
            }
            socket.push(rule(vec![
                condition(0, Op::Eq, family),
                condition(2, Op::Ne, 0),
                condition(2, Op::Ne, libc::IPPROTO_TCP as u64),
            ]));
        }
    }
    socket
}

/// Unix datagrams and TCP Fast Open (a connect that Landlock's connect
/// rule would not see), unless granted.
fn network_rules(net: &ChildNet, refused: &mut BTreeMap<i64, Vec<SeccompRule>>) {
    if !net.unix {
        // A Unix SOCK_RAW socket is a datagram socket too.
        let datagram = |kind: libc::c_int| rule(vec![condition(1, Op::MaskedEq(0xf), kind as u64)]);
        refused.insert(
            libc::SYS_socketpair,
            vec![datagram(libc::SOCK_DGRAM), datagram(libc::SOCK_RAW)],
        );
    }
    if !net.all {
        let fast_open = |arg| vec![rule(vec![condition(arg, Op::MaskedEq(MSG_FASTOPEN), MSG_FASTOPEN)])];
        refused.insert(libc::SYS_sendto, fast_open(3));
        refused.insert(libc::SYS_sendmsg, fast_open(2));
        refused.insert(libc::SYS_sendmmsg, fast_open(3));
    }
}

/// What no grant opens: io_uring, reaching into other processes, new
/// namespaces, executing a descriptor or an executable memfd, terminal
/// injection.
fn process_rules(refused: &mut BTreeMap<i64, Vec<SeccompRule>>) {
    for always in [
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_process_madvise,
        libc::SYS_kcmp,
    ] {
        refused.insert(always, Vec::new());
    }
    // New namespaces: a child could use up the user's quota of them, and so
    // take the PID namespace from every later run (best effort would then
    // fall back, and its children outlive a SIGKILL); none is needed to
    // run a granted program. `setns` into one that exists, likewise.
    let new_namespace: Vec<SeccompRule> = NAMESPACE_FLAGS
        .iter()
        .map(|flag| rule(vec![condition(0, Op::MaskedEq(*flag), *flag)]))
        .collect();
    refused.insert(libc::SYS_unshare, new_namespace.clone());
    refused.insert(libc::SYS_clone, new_namespace);
    refused.insert(libc::SYS_setns, Vec::new());
    refused.insert(
        libc::SYS_execveat,
        vec![rule(vec![condition(
            4,
            Op::MaskedEq(libc::AT_EMPTY_PATH as u64),
            libc::AT_EMPTY_PATH as u64,
        )])],
    );
    const MFD_NOEXEC_SEAL: u64 = 0x8;
    const MFD_EXEC: u64 = 0x10;
    refused.insert(
        libc::SYS_memfd_create,
        vec![
            rule(vec![condition(1, Op::MaskedEq(MFD_NOEXEC_SEAL), 0)]),
            rule(vec![condition(1, Op::MaskedEq(MFD_EXEC), MFD_EXEC)]),
        ],
    );
    refused.insert(
        libc::SYS_ioctl,
        [libc::TIOCSTI, libc::TIOCLINUX]
            .into_iter()
            .chain(FILE_ATTRIBUTE_IOCTLS.iter().copied())
            .map(|request| rule(vec![condition(1, Op::Eq, request)]))
            .collect(),
    );
    for (call, target) in OTHER_PROCESSES {
        refused.insert(*call, vec![rule(vec![condition(*target, Op::Ne, 0)])]);
    }
    // setpriority(PRIO_PROCESS = 0, 0, ...) and ioprio_set(IOPRIO_WHO_PROCESS
    // = 1, 0, ...) only: a group or a user (who = 0 means one's own) reaches
    // every process of the user, procbox included.
    refused.insert(
        libc::SYS_setpriority,
        vec![rule(vec![condition(0, Op::Ne, 0)]), rule(vec![condition(1, Op::Ne, 0)])],
    );
    refused.insert(
        libc::SYS_ioprio_set,
        vec![rule(vec![condition(0, Op::Ne, 1)]), rule(vec![condition(1, Op::Ne, 0)])],
    );
    // prlimit64 on another process, with a new limit (reading is harmless).
    refused.insert(
        libc::SYS_prlimit64,
        vec![rule(vec![condition(0, Op::Ne, 0), condition(2, Op::Ne, 0)])],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grant_compiles() {
        let mut net = ChildNet::default();
        assert!(!build(&net).unwrap().is_empty());
        net.add("443").unwrap();
        build(&net).unwrap();
        net.add("unix").unwrap();
        net.add("all").unwrap();
        build(&net).unwrap();
    }

    #[test]
    fn calls_the_filter_does_not_know_fail_as_if_the_kernel_lacked_them() {
        // Loaded in a throw-away child with a lowered threshold, so that a
        // call this kernel has (getppid, 110 on x86_64) counts as unknown.
        let program = unknown_calls(libc::SYS_getppid as u32).unwrap();
        // SAFETY: the child makes only system calls and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let _ = rustix::thread::set_no_new_privs(true);
            // SAFETY: the program refuses calls with ENOSYS, and the child
            // makes two more calls and exits.
            if unsafe { crate::sandbox::restrict::load_filter(&program) }.is_err() {
                crate::sys::exit_now(2);
            }
            let below = rustix::process::getpid().as_raw_nonzero().get();
            // SAFETY: a call without arguments (through libc: rustix's
            // getppid cannot fail, and this one must).
            let unknown = unsafe { libc::syscall(libc::SYS_getppid) };
            let errno = std::io::Error::last_os_error().raw_os_error();
            let refused = below > 0 && unknown == -1 && errno == Some(libc::ENOSYS);
            crate::sys::exit_now(if refused { 0 } else { 1 });
        }
        let pid = rustix::process::Pid::from_raw(pid).expect("forked");
        let (_, status) = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
            .unwrap()
            .unwrap();
        assert!(status.exited(), "{status:?}");
        assert_eq!(status.exit_status(), Some(0), "getppid was not refused with ENOSYS");
    }

    #[test]
    fn listen_is_refused_only_without_a_bind_grant() {
        let mut net = ChildNet::default();
        assert!(rules(&net).contains_key(&libc::SYS_listen));
        net.add("bind:8080").unwrap();
        assert!(!rules(&net).contains_key(&libc::SYS_listen));
    }
}
