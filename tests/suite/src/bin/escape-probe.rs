//! `escape-probe ACTION [ARG]`: a real program that tries one thing a
//! confined child must not be able to do, for the confinement tests. It
//! prints `ok` and exits 0 when the action worked, or `refused: ERROR` and
//! exits 1 when the OS refused it.
//!
//! Actions: `read PATH`, `write PATH`, `exec PROGRAM [ARGS...]`,
//! `tcp HOST:PORT`, `udp HOST:PORT`, `unix PATH`, `signal-parent` (every
//! thread of the parent, which is procbox), `tiocsti` (on /dev/null),
//! `memfd`, `caps` (prints the effective and bounding sets), `tmpdir`
//! (writes a file in `$TMPDIR` and prints its path), `chmod PATH` (makes it
//! setuid), `unix-dgram PATH` (a datagram to a socket file, from a
//! `socketpair`), `fastopen HOST:PORT` (TCP Fast Open: `sendto` without
//! `connect`), `keyring` (adds a key to the session keyring), `sysv`
//! (creates a System V message queue), `unix-raw PATH` (the same as
//! `unix-dgram`, from a `SOCK_RAW` pair), `setflags PATH` (sets the
//! `nodump` flag through a read-only descriptor), `prlimit PID` (lowers
//! another process's CPU limit), `renice PID` (another process's priority),
//! `unshare` (a new user namespace).

use std::io::{self, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (action, rest) = args.split_first().expect("ACTION [ARG]");
    let arg = rest.first().map(String::as_str).unwrap_or("");
    let result = match action.as_str() {
        "read" => std::fs::read(arg).map(|_| ()),
        "write" => std::fs::write(arg, "written by escape-probe\n"),
        "exec" => exec(rest),
        "tcp" => TcpStream::connect(arg).map(|_| ()),
        "udp" => UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.send_to(b"x", arg))
            .map(|_| ()),
        "unix" => UnixStream::connect(arg).map(|_| ()),
        "signal-parent" => signal_parent(),
        "tiocsti" => tiocsti(),
        "memfd" => memfd(),
        "caps" => caps(),
        "tmpdir" => tmpdir(),
        "chmod" => chmod_setuid(arg),
        "unix-dgram" => unix_dgram(arg, libc::SOCK_DGRAM),
        "unix-raw" => unix_dgram(arg, libc::SOCK_RAW),
        "setflags" => set_flags(arg),
        "prlimit" => prlimit(arg),
        "renice" => renice(arg),
        "fastopen" => fastopen(arg),
        "keyring" => keyring(),
        "unshare" => unshare_user(),
        "sysv" => sysv(),
        other => panic!("unknown action {other}"),
    };
    match result {
        Ok(()) => println!("ok"),
        Err(e) => {
            println!("refused: {e}");
            std::process::exit(1);
        }
    }
}

fn exec(command: &[String]) -> io::Result<()> {
    let status = std::process::Command::new(&command[0]).args(&command[1..]).status()?;
    match status.success() {
        true => Ok(()),
        false => Err(io::Error::other(format!("{status}"))),
    }
}

/// SIGURG (ignored by default) to the parent's pid and to each of its
/// threads: ok only if every one of them could be signalled.
fn signal_parent() -> io::Result<()> {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    let mut refused = Vec::new();
    // SAFETY: plain kill.
    if unsafe { libc::kill(parent, libc::SIGURG) } != 0 {
        refused.push(format!("pid {parent}: {}", io::Error::last_os_error()));
    }
    let tids: Vec<i32> = std::fs::read_dir(format!("/proc/{parent}/task"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for tid in &tids {
        // SAFETY: plain tgkill.
        if unsafe { libc::syscall(libc::SYS_tgkill, parent, *tid, libc::SIGURG) } != 0 {
            refused.push(format!("tid {tid}: {}", io::Error::last_os_error()));
        }
    }
    match refused.len() {
        0 => Ok(()),
        n if n == tids.len() + 1 => Err(io::Error::other(format!("every thread: {}", refused.join("; ")))),
        // Some thread could be signalled: that is an escape, reported as ok.
        _ => {
            println!("partly: {}", refused.join("; "));
            Ok(())
        }
    }
}

fn unshare_user() -> io::Result<()> {
    // SAFETY: a plain unshare with a flag.
    match unsafe { libc::unshare(libc::CLONE_NEWUSER) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

fn tiocsti() -> io::Result<()> {
    let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null")?;
    let byte = b'x';
    // SAFETY: an ioctl on our own descriptor with a pointer to a local.
    let rc = unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&null), libc::TIOCSTI, &byte) };
    match rc {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

fn memfd() -> io::Result<()> {
    // SAFETY: a NUL-terminated name; flags 0 (executable, unsealed).
    let fd = unsafe { libc::memfd_create(c"copy".as_ptr(), 0) };
    match fd {
        fd if fd >= 0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

fn caps() -> io::Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    for line in status
        .lines()
        .filter(|l| l.starts_with("Cap") || l.starts_with("NoNewPrivs"))
    {
        println!("{}", line.replace(":\t", "="));
    }
    Ok(())
}

fn tmpdir() -> io::Result<()> {
    let dir = std::env::var("TMPDIR").map_err(io::Error::other)?;
    let path = std::path::Path::new(&dir).join("probe");
    std::fs::File::create(&path)?.write_all(b"x")?;
    println!("tmpdir={dir}");
    Ok(())
}

fn last_error(rc: libc::c_long) -> io::Result<libc::c_long> {
    match rc {
        rc if rc < 0 => Err(io::Error::last_os_error()),
        rc => Ok(rc),
    }
}

fn chmod_setuid(path: &str) -> io::Result<()> {
    let path = std::ffi::CString::new(path).map_err(io::Error::other)?;
    // SAFETY: a NUL-terminated path.
    last_error(unsafe { libc::chmod(path.as_ptr(), 0o4755) } as libc::c_long).map(drop)
}

fn unix_dgram(path: &str, kind: libc::c_int) -> io::Result<()> {
    let mut pair = [0; 2];
    // SAFETY: socketpair fills the array.
    last_error(unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, pair.as_mut_ptr()) } as libc::c_long)?;
    // SAFETY: a zeroed sockaddr_un with a path shorter than sun_path.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (slot, byte) in address.sun_path.iter_mut().zip(path.bytes()) {
        *slot = byte as libc::c_char;
    }
    // SAFETY: sends from a local buffer to a local address.
    let sent = unsafe {
        libc::sendto(
            pair[0],
            b"x".as_ptr().cast(),
            1,
            0,
            (&address as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    last_error(sent as libc::c_long).map(drop)
}

fn fastopen(address: &str) -> io::Result<()> {
    let address: std::net::SocketAddrV4 = address.parse().map_err(io::Error::other)?;
    // SAFETY: a plain socket call.
    let fd = last_error(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) } as libc::c_long)? as i32;
    // SAFETY: a zeroed sockaddr_in filled in below.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_port = address.port().to_be();
    sin.sin_addr.s_addr = u32::from(*address.ip()).to_be();
    // SAFETY: sends from a local buffer to a local address.
    let sent = unsafe {
        libc::sendto(
            fd,
            b"x".as_ptr().cast(),
            1,
            libc::MSG_FASTOPEN,
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    last_error(sent as libc::c_long).map(drop)
}

fn keyring() -> io::Result<()> {
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    // SAFETY: NUL-terminated strings and a local payload.
    let key = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            c"user".as_ptr(),
            c"escape-probe".as_ptr(),
            b"x".as_ptr(),
            1usize,
            KEY_SPEC_SESSION_KEYRING,
        )
    };
    let key = last_error(key)?;
    // Clean up what was planted.
    const KEYCTL_INVALIDATE: libc::c_long = 21;
    // SAFETY: a plain keyctl on the key just made.
    unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_INVALIDATE, key) };
    Ok(())
}

fn sysv() -> io::Result<()> {
    // SAFETY: a private queue, removed at once.
    let id = last_error(unsafe { libc::msgget(libc::IPC_PRIVATE, 0o600 | libc::IPC_CREAT) } as libc::c_long)?;
    // SAFETY: removes the queue just made.
    unsafe { libc::msgctl(id as i32, libc::IPC_RMID, std::ptr::null_mut()) };
    Ok(())
}

fn set_flags(path: &str) -> io::Result<()> {
    const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
    const FS_IOC_SETFLAGS: libc::c_ulong = 0x4008_6602;
    const FS_NODUMP_FL: libc::c_long = 0x40;
    let file = std::fs::File::open(path)?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let mut flags: libc::c_long = 0;
    // SAFETY: ioctls on our own descriptor with a pointer to a local.
    last_error(unsafe { libc::ioctl(fd, FS_IOC_GETFLAGS, &mut flags) } as libc::c_long)?;
    flags |= FS_NODUMP_FL;
    // SAFETY: as above.
    last_error(unsafe { libc::ioctl(fd, FS_IOC_SETFLAGS, &flags) } as libc::c_long).map(drop)
}

fn prlimit(pid: &str) -> io::Result<()> {
    let pid: libc::pid_t = pid.parse().map_err(io::Error::other)?;
    let limit = libc::rlimit64 {
        rlim_cur: 3600,
        rlim_max: 3600,
    };
    // SAFETY: a pointer to a local; no old value asked for.
    let rc = unsafe { libc::prlimit64(pid, libc::RLIMIT_CPU, &limit, std::ptr::null_mut()) };
    last_error(rc as libc::c_long).map(drop)
}

fn renice(pid: &str) -> io::Result<()> {
    let pid: libc::id_t = pid.parse().map_err(io::Error::other)?;
    // SAFETY: a plain call.
    last_error(unsafe { libc::setpriority(libc::PRIO_PROCESS, pid, 1) } as libc::c_long).map(drop)
}
