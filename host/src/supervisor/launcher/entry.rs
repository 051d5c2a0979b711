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

/// The launcher of confined children: its socket to procbox is fd 3.
pub const LAUNCHER: &CStr = c"procbox-launcher";
/// The kernel probe: writes its findings to fd 1 and exits.
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
extern "C" fn dispatch(argc: libc::c_int, argv: *const *const libc::c_char, envp: *const *const libc::c_char) {
    if argc != 1 || argv.is_null() || envp.is_null() {
        return;
    }
    // SAFETY: the kernel's argv and envp: null-terminated arrays of
    // C strings, alive for the whole process.
    let (role, environment_is_empty) = unsafe { (CStr::from_ptr(*argv), (*envp).is_null()) };
    if !environment_is_empty {
        return;
    }
    if role == LAUNCHER {
        launcher_main()
    } else if role == PROBE {
        probe_main()
    }
}

/// The launcher: says hello with its protocol version, then serves procbox
/// (its parent) until procbox closes the socket or dies.
fn launcher_main() -> ! {
    // SAFETY: prctl, signal and getppid on the process's only thread.
    let procbox = unsafe {
        // Not readable or traceable by children of the user (as procbox
        // itself): it holds every plan of the run.
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::prctl(libc::PR_SET_NAME, c"procbox-launch".as_ptr(), 0, 0, 0);
        // The socket came through exec open; no child may inherit it.
        libc::fcntl(SOCKET, libc::F_SETFD, libc::FD_CLOEXEC);
        // The terminal's signals are procbox's to handle; the launcher
        // lives until procbox closes the socket or dies (its death signal,
        // set before exec, survives it).
        for &signal in server::IGNORED {
            libc::signal(signal, libc::SIG_IGN);
        }
        libc::getppid()
    };
    // SAFETY: fd 3 is the socket procbox gave this process (image::start);
    // nothing else in this process uses or closes it.
    let socket = unsafe { BorrowedFd::borrow_raw(SOCKET) };
    let hello = wire::Hello {
        protocol: wire::PROTOCOL,
    };
    let code = match wire::send(socket, &hello, &[]) {
        Ok(()) => server::serve(socket, procbox),
        Err(_) => 1,
    };
    // SAFETY: ends the process without running `main` or destructors.
    unsafe { libc::_exit(code) }
}

/// The probe: what the kernel enforces, as JSON on fd 1.
fn probe_main() -> ! {
    let found = probes::probe_here();
    let written = serde_json::to_vec(&found).map(|json| {
        use std::io::Write;
        // Flushed by hand: `_exit` below skips std's flush at exit.
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&json).and_then(|()| stdout.flush()).is_ok()
    });
    // SAFETY: ends the process without running `main` or destructors.
    unsafe { libc::_exit(if matches!(written, Ok(true)) { 0 } else { 1 }) }
}
