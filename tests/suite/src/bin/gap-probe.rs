//! `gap-probe ACTION [ARG...]`: a real program that does one thing a
//! confined, contained child can still do (the gaps SECURITY.md and
//! `procbox doctor` list), for `tests/suite/tests/gaps.rs`. It prints what it
//! did and exits 0, or prints `refused: ERROR` and exits 1 when the OS
//! refused it.
//!
//! Actions:
//! - `inotify PATH`: watches PATH, prints `watching PATH`, then prints
//!   `inotify-event mask=0x...` for the first event and exits;
//! - `flock PATH`: opens PATH read-only, takes an exclusive `flock` on it,
//!   prints `locked PATH` and holds it until killed;
//! - `signal PID`: sends SIGTERM to PID;
//! - `fork N`: has N child processes alive at once (each blocked on a
//!   pipe), prints `forked N`, then lets them go;
//! - `alloc MIB`: allocates and touches MIB mebibytes, prints `allocated`;
//! - `listen`: listens on a TCP socket it never bound, prints the
//!   ephemeral port it got;
//! - `exec PROGRAM [ARGS...]`: runs PROGRAM and waits (its output is ours);
//! - `ldso-copy LDSO FILE [ARGS...]`: copies FILE to `$TMPDIR`, then execs
//!   `LDSO COPY ARGS...` (the ELF loader runs a file it was never allowed
//!   to execute);
//! - `ldso-memfd LDSO FILE [ARGS...]`: copies FILE into a memfd sealed
//!   against exec (`MFD_NOEXEC_SEAL`), then execs `LDSO /proc/self/fd/N`;
//! - `tty`: on the terminal that is its stdout, sets the window size,
//!   makes its own process group the foreground one, and tries `TIOCSTI`;
//!   prints what each gave (as the interpreter of a `#!` script, it takes
//!   no arguments of its own);
//! - `fill DIR COUNT MIB`: writes COUNT files of MIB mebibytes in DIR
//!   (`TMPDIR` for `$TMPDIR`), prints `wrote TOTAL MiB`.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (action, rest) = args.split_first().expect("ACTION [ARG...]");
    let arg = rest.first().map(String::as_str).unwrap_or("");
    let result = match action.as_str() {
        "inotify" => inotify(arg),
        "flock" => flock(arg),
        "signal" => signal(arg),
        "fork" => fork(arg),
        "alloc" => alloc(arg),
        "listen" => listen(),
        "exec" => exec(rest),
        "ldso-copy" => ldso_copy(rest),
        "ldso-memfd" => ldso_memfd(rest),
        "tty" => tty(),
        "fill" => fill(rest),
        other => panic!("unknown action {other}"),
    };
    match result {
        Ok(()) => {}
        Err(e) => {
            println!("refused: {e}");
            std::process::exit(1);
        }
    }
}

fn check(rc: libc::c_long) -> io::Result<libc::c_long> {
    match rc {
        rc if rc < 0 => Err(io::Error::last_os_error()),
        rc => Ok(rc),
    }
}

fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn c_path(path: &str) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(path).map_err(io::Error::other)
}

fn inotify(path: &str) -> io::Result<()> {
    // SAFETY: plain calls on our own descriptor and a NUL-terminated path.
    let fd = check(unsafe { libc::inotify_init1(0) } as libc::c_long)? as i32;
    let c = c_path(path)?;
    // SAFETY: as above.
    check(unsafe { libc::inotify_add_watch(fd, c.as_ptr(), libc::IN_ALL_EVENTS) } as libc::c_long)?;
    say(&format!("watching {path}"));
    // SAFETY: the descriptor is ours and owned by the file from here on.
    let mut events = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut buffer = [0u8; 4096];
    let read = events.read(&mut buffer)?;
    // struct inotify_event { int wd; uint32_t mask; uint32_t cookie; uint32_t len; char name[]; }
    let mask = u32::from_ne_bytes(buffer[4..8].try_into().expect("4 bytes"));
    let len = u32::from_ne_bytes(buffer[12..16].try_into().expect("4 bytes")) as usize;
    let name = buffer[16..(16 + len).min(read)]
        .split(|b| *b == 0)
        .next()
        .unwrap_or(&[]);
    say(&format!(
        "inotify-event mask={mask:#x} name={}",
        String::from_utf8_lossy(name)
    ));
    Ok(())
}

fn flock(path: &str) -> io::Result<()> {
    let file = std::fs::File::open(path)?;
    // SAFETY: a plain call on our own descriptor.
    check(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } as libc::c_long)?;
    say(&format!("locked {path}"));
    loop {
        // SAFETY: waits for a signal; the lock goes with the process.
        unsafe { libc::pause() };
    }
}

fn signal(pid: &str) -> io::Result<()> {
    let pid: libc::pid_t = pid.parse().map_err(io::Error::other)?;
    // SAFETY: a plain kill.
    check(unsafe { libc::kill(pid, libc::SIGTERM) } as libc::c_long)?;
    say(&format!("signalled {pid}"));
    Ok(())
}

fn fork(count: &str) -> io::Result<()> {
    let count: usize = count.parse().map_err(io::Error::other)?;
    let mut pipe = [0; 2];
    // SAFETY: pipe fills the array.
    check(unsafe { libc::pipe(pipe.as_mut_ptr()) } as libc::c_long)?;
    let mut children = Vec::new();
    let mut failed = None;
    for _ in 0..count {
        // SAFETY: the child only reads the pipe and exits.
        match unsafe { libc::fork() } {
            -1 => {
                failed = Some(io::Error::last_os_error());
                break;
            }
            // SAFETY: only system calls on the pipe, then _exit.
            0 => unsafe {
                libc::close(pipe[1]);
                let mut byte = 0u8;
                libc::read(pipe[0], (&mut byte as *mut u8).cast(), 1);
                libc::_exit(0);
            },
            pid => children.push(pid),
        }
    }
    let alive = children.len();
    // SAFETY: closing our write end lets every child go; then reap them.
    unsafe {
        libc::close(pipe[1]);
        for pid in children {
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    match failed {
        None => {
            say(&format!("forked {alive}"));
            Ok(())
        }
        Some(e) => Err(io::Error::new(e.kind(), format!("after {alive} forks: {e}"))),
    }
}

fn alloc(mib: &str) -> io::Result<()> {
    let mib: usize = mib.parse().map_err(io::Error::other)?;
    let mut block = vec![0u8; mib << 20];
    for page in block.chunks_mut(4096) {
        page[0] = 1;
    }
    say(&format!(
        "allocated {} MiB",
        block.iter().step_by(4096).filter(|b| **b == 1).count() >> 8
    ));
    Ok(())
}

fn listen() -> io::Result<()> {
    // SAFETY: plain socket calls on our own descriptor.
    let fd = check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) } as libc::c_long)? as i32;
    // SAFETY: as above.
    check(unsafe { libc::listen(fd, 1) } as libc::c_long)?;
    // SAFETY: a zeroed sockaddr_in that getsockname fills.
    let mut address: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a pointer to a local of the given length.
    check(unsafe { libc::getsockname(fd, (&mut address as *mut libc::sockaddr_in).cast(), &mut len) } as libc::c_long)?;
    say(&format!("listening port={}", u16::from_be(address.sin_port)));
    Ok(())
}

fn exec(command: &[String]) -> io::Result<()> {
    let status = std::process::Command::new(&command[0]).args(&command[1..]).status()?;
    match status.success() {
        true => Ok(()),
        false => Err(io::Error::other(format!("{status}"))),
    }
}

fn ldso_copy(rest: &[String]) -> io::Result<()> {
    let [ldso, file, args @ ..] = rest else {
        panic!("ldso-copy LDSO FILE [ARGS...]")
    };
    let dir = std::env::var("TMPDIR").map_err(io::Error::other)?;
    let copy = std::path::Path::new(&dir).join("copied-program");
    // Written, not `fs::copy`, which would also copy the mode (chmod is refused).
    std::fs::write(&copy, std::fs::read(file)?)?;
    Err(std::process::Command::new(ldso).arg(&copy).args(args).exec())
}

fn ldso_memfd(rest: &[String]) -> io::Result<()> {
    let [ldso, file, args @ ..] = rest else {
        panic!("ldso-memfd LDSO FILE [ARGS...]")
    };
    const MFD_NOEXEC_SEAL: libc::c_uint = 0x8;
    // SAFETY: a NUL-terminated name; sealed against exec, kept across exec.
    let fd = check(unsafe { libc::memfd_create(c"copy".as_ptr(), MFD_NOEXEC_SEAL) } as libc::c_long)? as i32;
    // SAFETY: the descriptor is ours; it stays open across the exec below.
    let mut memfd = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    memfd.write_all(&std::fs::read(file)?)?;
    Err(std::process::Command::new(ldso)
        .arg(format!("/proc/self/fd/{fd}"))
        .args(args)
        .exec())
}

fn tty() -> io::Result<()> {
    let fd = 1;
    // SAFETY: ioctls on our own stdout with pointers to locals; SIGTTOU
    // ignored so that a background group may take the foreground.
    let (size, foreground, inject) = unsafe {
        libc::signal(libc::SIGTTOU, libc::SIG_IGN);
        let mut size: libc::winsize = std::mem::zeroed();
        libc::ioctl(fd, libc::TIOCGWINSZ, &mut size);
        size.ws_col = 91;
        size.ws_row = 19;
        let set = check(libc::ioctl(fd, libc::TIOCSWINSZ, &size) as libc::c_long).map(drop);
        let foreground = check(libc::tcsetpgrp(fd, libc::getpgrp()) as libc::c_long).map(drop);
        let byte = b'x';
        let inject = check(libc::ioctl(fd, libc::TIOCSTI, &byte) as libc::c_long).map(drop);
        (set, foreground, inject)
    };
    let shown = |r: io::Result<()>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("refused ({e})"),
    };
    say(&format!(
        "tty: resize {}; foreground {}; TIOCSTI {}",
        shown(size),
        shown(foreground),
        shown(inject)
    ));
    Ok(())
}

fn fill(rest: &[String]) -> io::Result<()> {
    let [dir, count, mib] = rest else {
        panic!("fill DIR COUNT MIB")
    };
    let dir = match dir.as_str() {
        "TMPDIR" => std::env::var("TMPDIR").map_err(io::Error::other)?,
        dir => dir.to_string(),
    };
    let count: usize = count.parse().map_err(io::Error::other)?;
    let block = vec![b'x'; mib.parse::<usize>().map_err(io::Error::other)? << 20];
    for n in 0..count {
        std::fs::write(std::path::Path::new(&dir).join(format!("fill-{n}")), &block)?;
    }
    say(&format!("wrote {} MiB", (count * block.len()) >> 20));
    Ok(())
}
