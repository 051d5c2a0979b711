//! The entry of procbox's helper processes: an ELF constructor that runs
//! before `main` in every process of any program linked with this library
//! (the CLI, the worker, an embedding application, every test binary) and
//! returns at once unless the process was exec'd as one of procbox's
//! roles ([`super::image`]): exactly one argument, the role's name, and an
//! empty environment. A process exec'd so never reaches `main`: it serves
//! its role on the one thread that exists and exits.
//!
//! Why a constructor: the helpers must start from a clean image (one
//! thread, no runtime, no inherited memory of procbox: its command line,
//! grants and environment), and a constructor needs no code on the
//! embedder's side. An application that wants its own launcher binary
//! names it with [`super::set_program`]; that binary needs only to link
//! this library.

use std::ffi::CStr;
use std::os::fd::BorrowedFd;

use super::{probes, server, wire};
use crate::sys::{self, Disposition};

/// The launcher of confined children: its socket to procbox is fd 3.
pub const LAUNCHER: &CStr = c"procbox-launcher";
/// The kernel probe: writes its findings to fd 1 and exits. (A launcher
/// whose fd 1 is a pipe probes too, in a fork of itself, before its hello:
/// [`probes::answer_if_asked`].)
pub const PROBE: &CStr = c"procbox-probe";

/// The descriptor the launcher's socket is given.
pub const SOCKET: libc::c_int = 3;

type Constructor = extern "C" fn(libc::c_int, *const *const libc::c_char, *const *const libc::c_char);

/// The constructor, in `.init_array`: glibc calls it with `argc`, `argv`
/// and `envp` before `main`. Referenced from [`super::image`] so that the
/// linker keeps it in every program that can start a helper.
#[used]
#[link_section = ".init_array"]
pub static ENTRY: Constructor = dispatch;

/// Runs in every process of this image, before `main`, on its only thread.
/// The arguments and environment are read through std, which captured
/// them in its own constructor (glibc runs prioritised `.init_array`
/// entries, std's among them, before this one).
extern "C" fn dispatch(argc: libc::c_int, _argv: *const *const libc::c_char, _envp: *const *const libc::c_char) {
    use std::os::unix::ffi::OsStrExt;
    if argc != 1 {
        return;
    }
    let mut args = std::env::args_os();
    let (Some(role), None) = (args.next(), args.next()) else {
        return;
    };
    if std::env::vars_os().next().is_some() {
        return;
    }
    if role.as_bytes() == LAUNCHER.to_bytes() {
        launcher_main()
    } else if role.as_bytes() == PROBE.to_bytes() {
        probe_main()
    }
}

/// The launcher: says hello with its protocol version, then serves procbox
/// (its parent) until procbox closes the socket or dies. Runs in the
/// launcher, exec'd by procbox, on its only thread.
fn launcher_main() -> ! {
    // The launcher lives until procbox closes the socket or dies (its
    // death signal, set before exec, survives it).
    ignore_terminal_signals();
    // Not readable or traceable by children of the user (as procbox
    // itself): it holds every plan of the run. First, so that no tracer
    // can attach in between and stay attached.
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    // While it is the clean image: the kernel probe, if procbox gave it a
    // pipe for that (a launcher started early).
    probes::answer_if_asked();
    let _ = rustix::thread::set_name(c"procbox-launch");
    // SAFETY: fd 3 is the socket procbox gave this process (image::start);
    // nothing else in this process uses or closes it.
    let socket = unsafe { BorrowedFd::borrow_raw(SOCKET) };
    // The socket came through exec open; no child may inherit it.
    let _ = rustix::io::fcntl_setfd(socket, rustix::io::FdFlags::CLOEXEC);
    let procbox = rustix::process::getppid().map_or(0, |pid| pid.as_raw_nonzero().get());
    let hello = wire::Hello {
        protocol: wire::PROTOCOL,
    };
    let code = match wire::send(socket, &hello, &[]) {
        Ok(()) => server::serve(socket, procbox),
        Err(_) => 1,
    };
    // Ends the process without running `main` or destructors.
    sys::exit_now(code)
}

/// The probe: what the kernel enforces, as JSON on fd 1. Runs in the
/// probe, exec'd by procbox, on its only thread.
fn probe_main() -> ! {
    ignore_terminal_signals();
    // Ends the process without running `main` or destructors.
    sys::exit_now(probes::answer())
}

/// The terminal's signals are procbox's to handle: a helper ignores them
/// (its children reset them). The probe especially: ended by a ^C at
/// start-up in the middle of its PID namespace, it would leave the
/// namespace's init to whatever reaps procbox's orphans.
fn ignore_terminal_signals() {
    for &signal in server::IGNORED {
        sys::set_disposition(signal, Disposition::Ignore);
    }
}
