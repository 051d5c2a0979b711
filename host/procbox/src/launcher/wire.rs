//! The messages between procbox and its launcher, over Unix stream
//! sockets: a little-endian `u32` length, then that many bytes of JSON.
//! The launcher's [`Hello`] and every [`Request`] travel on the launcher's
//! socket; a request carries, as `SCM_RIGHTS` on its first byte, the
//! child's four descriptors (stdin, stdout, stderr, working directory)
//! and a fifth: one end of a socket pair made for this request alone, on
//! which the launcher sends its [`Replied`] and which it then closes.
//!
//! Pipelined: many requests are in flight at once, and each reply goes
//! straight to the spawn that asked, which reads it on its own runtime:
//! no reader in between wakes for it. End of file on a reply socket
//! before the reply means the launcher is gone.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::net::{RecvFlags, SendFlags};

use serde::{Deserialize, Serialize};

use crate::sandbox::plan::ChildPlan;
use crate::sys::fds::recv_with_fds_flags;
pub(crate) use crate::sys::fds::{recv_with_fds, send_with_fds};

/// How many of a request's descriptors are the child's; the request
/// carries one more, its reply socket.
pub const FDS: usize = 4;
const _: () = assert!(
    FDS < crate::sys::fds::FDS,
    "a request's descriptors and its reply socket fit in one message"
);

/// The largest message either side accepts: the kernel's own limit on
/// arguments and environment is far below it.
const MAX_MESSAGE: usize = 64 << 20;

/// The version of these messages (and of what a launcher does before
/// them: from 3 it probes the kernel when its standard output is a pipe;
/// from 4 a started child's reply carries the launcher's stages; from 5
/// each reply goes to the socket its request carried). A
/// launcher's first message is a [`Hello`] with it; procbox refuses a
/// launcher that speaks another.
pub const PROTOCOL: u32 = 5;

/// The launcher's first message, sent as soon as it runs.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Hello {
    /// The launcher's [`PROTOCOL`].
    pub protocol: u32,
}

/// Start one child.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// Its number, unique on this launcher's socket, which the reply
    /// repeats.
    pub id: u64,
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

/// The reply to the request numbered `id`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Replied {
    /// The request's [`Request::id`].
    pub id: u64,
    /// How it ended.
    pub reply: Reply,
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
        /// Where the launcher's time went.
        stages: crate::exit::LauncherStages,
        /// The launcher's monotonic clock (`sys::monotonic_ns`) when it
        /// had read the request, and when it sent this reply: procbox
        /// reads the same clock, and so times the ways between them.
        received: u64,
        /// See `received`.
        replied: u64,
    },
    /// The launcher does not know the plan (any more): send it with it.
    UnknownPlan,
    /// It did not start.
    Failed(Failure),
}

/// Why a child did not start.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Failure {
    /// The child's own OS error before `exec` (its program, its limits,
    /// its cgroup, its confinement as the kernel applied it), or of
    /// `clone`. `pid` is the child, when one was made: it has exited, and
    /// procbox reaps it.
    Child {
        /// The child that exited, if one was made.
        pid: Option<i32>,
        /// The OS error.
        errno: i32,
    },
    /// The confinement or the namespace the plan asks for cannot be set up.
    Confinement(String),
    /// The working directory cannot be reached from the child's namespace.
    Directory {
        /// The OS error.
        errno: i32,
        /// What failed.
        message: String,
    },
    /// A request the launcher cannot act on (a string with a NUL byte, the
    /// wrong descriptors).
    Request(String),
}

/// One message as it travels: its length, then its JSON.
///
/// # Errors
/// `InvalidData` if it cannot be encoded or is larger than any side accepts.
pub fn frame<T: Serialize>(message: &T) -> io::Result<Vec<u8>> {
    let body = serde_json::to_vec(message).map_err(io::Error::other)?;
    if body.len() > MAX_MESSAGE {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "launcher message too large"));
    }
    let mut framed = Vec::with_capacity(4 + body.len());
    framed.extend_from_slice(&(body.len() as u32).to_le_bytes());
    framed.extend_from_slice(&body);
    Ok(framed)
}

/// Sends `message` with `fds` attached, blocking until all of it is sent.
///
/// # Errors
/// The OS error of sending (`BrokenPipe` once the peer is gone).
pub fn send<T: Serialize>(socket: BorrowedFd<'_>, message: &T, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let framed = frame(message)?;
    let sent = send_with_fds(socket, &framed, fds, SendFlags::empty())?;
    write_all(socket, &framed[sent..])
}

/// Receives one message and the descriptors attached to it, blocking;
/// `None` at end of file before a message.
///
/// # Errors
/// The OS error of reading, `UnexpectedEof` in the middle of a message,
/// `InvalidData` for one that does not decode.
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
    Ok(Some((decode(&body)?, fds)))
}

fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> io::Result<T> {
    serde_json::from_slice(body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Bytes read from a socket, split into whole messages as they complete.
#[derive(Default)]
pub struct Frames {
    buffer: Vec<u8>,
}

impl Frames {
    /// Reads what the socket has now without blocking; `Ok(false)` at end
    /// of file, `WouldBlock` when it has nothing.
    ///
    /// # Errors
    /// The OS error of reading.
    pub fn fill(&mut self, socket: BorrowedFd<'_>) -> io::Result<bool> {
        let mut chunk = [0u8; 16 << 10];
        let (got, _) = recv_with_fds_flags(socket, &mut chunk, RecvFlags::DONTWAIT)?;
        self.buffer.extend_from_slice(&chunk[..got]);
        Ok(got > 0)
    }

    /// The next whole message, if one has arrived.
    ///
    /// # Errors
    /// `InvalidData` for a message too large or that does not decode.
    pub fn next<T: for<'de> Deserialize<'de>>(&mut self) -> io::Result<Option<T>> {
        let Some(length) = self.buffer.first_chunk::<4>() else {
            return Ok(None);
        };
        let length = u32::from_le_bytes(*length) as usize;
        if length > MAX_MESSAGE {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "launcher message too large"));
        }
        if self.buffer.len() < 4 + length {
            return Ok(None);
        }
        let message = decode(&self.buffer[4..4 + length]);
        self.buffer.drain(..4 + length);
        message.map(Some)
    }
}

fn write_all(socket: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::net::send(socket, bytes, SendFlags::NOSIGNAL) {
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn read_exact(socket: BorrowedFd<'_>, mut bytes: &mut [u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::read(socket, &mut *bytes) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => bytes = &mut bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
