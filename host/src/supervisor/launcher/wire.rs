//! The messages between procbox and its launcher, over a Unix stream
//! socket: a little-endian `u32` length, then that many bytes of JSON. A
//! request carries the child's four descriptors (stdin, stdout, stderr,
//! working directory) as `SCM_RIGHTS` on its first byte.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use serde::{Deserialize, Serialize};

use crate::confine::plan::ChildPlan;

/// How many descriptors a request carries.
pub const FDS: usize = 4;

/// The largest message either side accepts: the kernel's own limit on
/// arguments and environment is far below it.
const MAX_MESSAGE: usize = 64 << 20;

/// The version of these messages. A launcher's first message is a
/// [`Hello`] with it; procbox refuses a launcher that speaks another.
pub const PROTOCOL: u32 = 1;

/// The launcher's first message, sent as soon as it runs.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hello {
    /// The launcher's [`PROTOCOL`].
    pub protocol: u32,
}

/// Start one child.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// The program file.
    pub program: Vec<u8>,
    /// `argv[0]`.
    pub arg0: String,
    /// The arguments after `argv[0]`.
    pub args: Vec<String>,
    /// The whole environment.
    pub env: Vec<(String, String)>,
    /// A session of its own (`true`) or a process group in procbox's.
    pub new_session: bool,
    /// `setrlimit` calls: resource, value.
    pub rlimits: Vec<(u32, u64)>,
    /// Die with procbox (`PR_SET_PDEATHSIG`); procbox's pid.
    pub die_with: Option<i32>,
    /// The working directory's path in procbox's mount namespace, for a
    /// launcher in another one (its descriptor is then re-opened by path
    /// and checked to be the same directory).
    #[serde(default)]
    pub cwd_path: Vec<u8>,
    /// `cgroup.procs` files the child writes itself into before `exec`
    /// (its own cgroup, to measure its tree).
    #[serde(default)]
    pub join_cgroups: Vec<Vec<u8>>,
    /// The number of its confinement plan.
    pub plan_id: u64,
    /// The plan, the first time this launcher is asked for it.
    pub plan: Option<ChildPlan>,
}

/// How a request ended.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Reply {
    /// The child runs: procbox's own child.
    Started {
        /// Its pid, in procbox's PID namespace.
        pid: i32,
        /// The init of the PID namespace it runs in, if the launcher made
        /// one (procbox's child too).
        init: Option<i32>,
    },
    /// The launcher does not know the plan (any more): send it with it.
    UnknownPlan,
    /// It did not start. `pid` is set when a child was made and exited
    /// before `exec` (procbox reaps it); `message` explains a failure that
    /// is not an OS error of the child.
    Failed {
        /// The child that exited, if one was made.
        pid: Option<i32>,
        /// The OS error.
        errno: i32,
        /// What failed, when the errno alone does not say.
        message: Option<String>,
    },
}

/// Sends `message` with `fds` attached.
pub fn send<T: Serialize>(socket: BorrowedFd<'_>, message: &T, fds: &[RawFd]) -> io::Result<()> {
    let body = serde_json::to_vec(message).map_err(io::Error::other)?;
    let mut framed = Vec::with_capacity(4 + body.len());
    framed.extend_from_slice(&(body.len() as u32).to_le_bytes());
    framed.extend_from_slice(&body);
    let sent = send_with_fds(socket, &framed, fds)?;
    write_all(socket, &framed[sent..])
}

/// Receives one message and the descriptors attached to it; `None` at end
/// of file before a message.
pub fn recv<T: for<'de> Deserialize<'de>>(socket: BorrowedFd<'_>) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
    let mut length = [0u8; 4];
    let (got, fds) = recv_with_fds(socket, &mut length)?;
    if got == 0 {
        return Ok(None);
    }
    read_exact(socket, &mut length[got..])?;
    let length = u32::from_le_bytes(length) as usize;
    if length > MAX_MESSAGE {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "launcher message too large"));
    }
    let mut body = vec![0u8; length];
    read_exact(socket, &mut body)?;
    let message = serde_json::from_slice(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Some((message, fds)))
}

pub(crate) fn send_with_fds(socket: BorrowedFd<'_>, bytes: &[u8], fds: &[RawFd]) -> io::Result<usize> {
    let mut control = vec![0u8; cmsg_space(fds.len())];
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below points to a
    // live local of the right size.
    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
    header.msg_iov = &mut iov;
    header.msg_iovlen = 1;
    if !fds.is_empty() {
        header.msg_control = control.as_mut_ptr().cast();
        header.msg_controllen = control.len() as _;
        // SAFETY: the control buffer holds one header with room for `fds`
        // (cmsg_space), so CMSG_FIRSTHDR and CMSG_DATA point inside it.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&header);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(fds) as u32) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg).cast::<RawFd>(), fds.len());
        }
    }
    loop {
        // SAFETY: the header and what it points to are valid for the call.
        let sent = unsafe { libc::sendmsg(socket.as_raw_fd(), &header, libc::MSG_NOSIGNAL) };
        if sent >= 0 {
            return Ok(sent as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

pub(crate) fn recv_with_fds(socket: BorrowedFd<'_>, bytes: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut control = vec![0u8; cmsg_space(FDS)];
    let mut iov = libc::iovec {
        iov_base: bytes.as_mut_ptr().cast(),
        iov_len: bytes.len(),
    };
    // SAFETY: as in send_with_fds.
    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
    header.msg_iov = &mut iov;
    header.msg_iovlen = 1;
    header.msg_control = control.as_mut_ptr().cast();
    header.msg_controllen = control.len() as _;
    let got = loop {
        // SAFETY: the header and its buffers are valid for the call.
        let got = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut header, libc::MSG_CMSG_CLOEXEC) };
        if got >= 0 {
            break got as usize;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    };
    let mut fds = Vec::new();
    // SAFETY: the kernel filled the control buffer; CMSG_* walk only the
    // headers it wrote, and each SCM_RIGHTS descriptor is now ours.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&header);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let count = ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&header, cmsg);
        }
    }
    if header.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "too many descriptors in a launcher message",
        ));
    }
    Ok((got, fds))
}

fn cmsg_space(fds: usize) -> usize {
    // SAFETY: a pure size computation.
    unsafe { libc::CMSG_SPACE((fds * std::mem::size_of::<RawFd>()) as u32) as usize }
}

fn write_all(socket: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: writes from a live slice.
        let n = unsafe {
            libc::send(
                socket.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        match n {
            n if n > 0 => bytes = &bytes[n as usize..],
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
    Ok(())
}

fn read_exact(socket: BorrowedFd<'_>, mut bytes: &mut [u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: reads into a live slice.
        let n = unsafe { libc::read(socket.as_raw_fd(), bytes.as_mut_ptr().cast(), bytes.len()) };
        match n {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n if n > 0 => bytes = &mut bytes[n as usize..],
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
    Ok(())
}
