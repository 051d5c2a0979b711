//! One launcher's socket, shared by every spawn that uses it, pipelined:
//! each request goes out with an id as soon as it is asked, and one thread
//! per launcher (`procbox-launcher-io`) reads the replies and hands each to
//! the spawn waiting on its id. No lock is held across a round trip, and
//! no tokio worker blocks: a spawn awaits its reply on a channel, which
//! works from any runtime (the launchers outlive any one of them).
//!
//! A request is sent straight from the asking task when the socket takes
//! it at once (the usual case: one request is a few KiB); the rest of one
//! the socket cannot take now waits in an outbox that the thread writes
//! when the socket has room, with its descriptors duplicated so that they
//! stay valid whatever the asking task does meanwhile.
//!
//! The children the launcher starts are procbox's (`CLONE_PARENT`), and a
//! reaper of adopted orphans must not take one before its watcher owns it:
//! every request counts as a launch in flight ([`owned`]) from before it
//! is sent until its reply registers the child, and the reaper waits for
//! none to be in flight. A reply whose asker has gone (its spawn was
//! cancelled) has its child killed and reaped here.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rustix::event::{eventfd, poll, EventfdFlags, PollFd, PollFlags};
use rustix::net::SendFlags;
use tokio::sync::oneshot;

use super::wire::{self, Replied, Reply, Request};
use crate::sys::owned;

/// A running launcher, as procbox talks to it.
pub(super) struct Link {
    /// Procbox's end of the socket, non-blocking.
    socket: OwnedFd,
    /// The launcher's pid (procbox's child).
    pub pid: libc::pid_t,
    /// Made readable when the outbox gains a message, to wake the thread.
    wake: OwnedFd,
    state: Mutex<State>,
    /// The plans sent on this socket.
    known: Mutex<HashSet<u64>>,
    next_id: AtomicU64,
    /// The init of its children's PID namespace, once it made one, as a
    /// pidfd: the CLI's sweep may reap init, and its pid be reused.
    pub init: OnceLock<OwnedFd>,
    /// The init's pid, for [`Link::pids`]; set before [`Link::init`].
    pub init_pid: OnceLock<libc::pid_t>,
    /// Why its hello, read by the link's thread, showed it is not a
    /// launcher; set before the link closes.
    refused: OnceLock<String>,
}

#[derive(Default)]
struct State {
    /// Messages, in order, that the socket could not take yet.
    outbox: VecDeque<Outgoing>,
    /// The spawns waiting for a reply, by request id.
    waiting: HashMap<u64, oneshot::Sender<Reply>>,
    /// Set once the launcher is gone: no request is taken any more.
    closed: bool,
    /// Set until the launcher's hello is checked: requests wait in the
    /// outbox.
    unchecked: bool,
}

struct Outgoing {
    bytes: Vec<u8>,
    sent: usize,
    /// Sent with the first byte, then dropped.
    fds: Vec<OwnedFd>,
}

/// Why a request got no reply.
#[derive(Debug)]
pub(super) enum Unanswered {
    /// The launcher was gone before the request was sent: another may take it.
    NotSent(io::Error),
    /// The launcher went away with the request sent (it may have acted on it).
    Lost,
}

impl Link {
    /// The launcher's pid, and its init's once it made one.
    pub fn pids(&self) -> impl Iterator<Item = libc::pid_t> + '_ {
        std::iter::once(self.pid).chain(self.init_pid.get().copied())
    }

    /// Wraps procbox's end of a launcher's socket and starts the thread
    /// that reads its replies. When `unchecked` (the caller did not read
    /// its hello: [`handshake`]), that thread reads it first, and until then
    /// requests wait in the outbox: nothing reaches a program that has not
    /// shown it is this procbox's launcher.
    pub fn start(socket: OwnedFd, pid: libc::pid_t, unchecked: bool) -> io::Result<Arc<Link>> {
        // A pidfd, to kill a program found not to be a launcher without
        // ever signalling a pid that may have been reaped and reused.
        let pidfd = match unchecked {
            true => Some(crate::sys::pidfd::pidfd_open(pid)?),
            false => {
                rustix::io::ioctl_fionbio(&socket, true)?;
                None
            }
        };
        let link = Arc::new(Link {
            socket,
            pid,
            wake: eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?,
            state: Mutex::new(State {
                unchecked,
                ..State::default()
            }),
            known: Mutex::default(),
            next_id: AtomicU64::new(1),
            init: OnceLock::new(),
            init_pid: OnceLock::new(),
            refused: OnceLock::new(),
        });
        let serving = link.clone();
        std::thread::Builder::new()
            .name("procbox-launcher-io".into())
            .spawn(move || {
                if let Some(pidfd) = pidfd {
                    if !serving.check_hello(&pidfd) {
                        return;
                    }
                }
                serving.serve();
            })?;
        Ok(link)
    }

    /// Runs on the link's thread: reads the hello, then lets the outbox
    /// go. A program that is not a launcher is killed (by `pidfd`; it is
    /// reaped where every launcher is) and its link closed with the reason.
    fn check_hello(&self, pidfd: &OwnedFd) -> bool {
        let checked = handshake(&self.socket).and_then(|()| {
            rustix::io::ioctl_fionbio(&self.socket, true)?;
            Ok(())
        });
        match checked {
            Ok(()) => {
                lock(&self.state).unchecked = false;
                true
            }
            Err(e) => {
                let _ = self.refused.set(e.to_string());
                let _ = rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::KILL);
                self.close();
                false
            }
        }
    }

    /// Why this launcher was found not to be one, once its link closed.
    pub fn refusal(&self) -> Option<io::Error> {
        self.refused.get().map(|why| io::Error::other(why.clone()))
    }

    /// Whether this launcher was sent `plan_id`; marks it sent, since the
    /// caller sends it now if not (the socket keeps the order).
    pub fn knows(&self, plan_id: u64) -> bool {
        !lock(&self.known).insert(plan_id)
    }

    /// Forgets `plan_id` (the launcher dropped it from its cache).
    pub fn forget(&self, plan_id: u64) {
        lock(&self.known).remove(&plan_id);
    }

    /// Sends `request` (numbered here) with `fds`, and waits for its reply.
    pub async fn ask(&self, request: &mut Request, fds: &[BorrowedFd<'_>]) -> Result<Reply, Unanswered> {
        request.id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let framed = wire::frame(&*request).map_err(Unanswered::NotSent)?;
        let (reply, answer) = oneshot::channel();
        {
            let mut state = lock(&self.state);
            if state.closed {
                return Err(Unanswered::NotSent(gone()));
            }
            owned::Owned::lock().launching();
            state.waiting.insert(request.id, reply);
            if let Err(e) = self.send_or_queue(&mut state, framed, fds) {
                state.waiting.remove(&request.id);
                owned::Owned::lock().launched(None);
                return Err(Unanswered::NotSent(e));
            }
        }
        answer.await.map_err(|_| Unanswered::Lost)
    }

    /// Sends what the socket takes now; queues the rest for the thread.
    fn send_or_queue(&self, state: &mut State, bytes: Vec<u8>, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        let sent = match state.outbox.is_empty() && !state.unchecked {
            true => match wire::send_with_fds(self.socket.as_fd(), &bytes, fds, SendFlags::DONTWAIT) {
                Ok(sent) => sent,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => return Err(e),
            },
            false => 0,
        };
        if sent == bytes.len() {
            return Ok(());
        }
        let fds = match sent {
            0 => fds
                .iter()
                .map(|fd| fd.try_clone_to_owned())
                .collect::<io::Result<_>>()?,
            _ => Vec::new(),
        };
        state.outbox.push_back(Outgoing { bytes, sent, fds });
        rustix::io::write(&self.wake, &1u64.to_ne_bytes())?;
        Ok(())
    }

    /// Shuts the socket down: the launcher sees end of file and exits, and
    /// this link's thread ends.
    pub fn shut_down(&self) {
        let _ = rustix::net::shutdown(&self.socket, rustix::net::Shutdown::Both);
    }

    /// The thread's loop: writes the outbox when the socket has room,
    /// delivers replies as they arrive, until the launcher is gone.
    fn serve(&self) {
        let mut frames = wire::Frames::default();
        let ended = loop {
            let writing = !lock(&self.state).outbox.is_empty();
            let socket_events = match writing {
                true => PollFlags::IN | PollFlags::OUT,
                false => PollFlags::IN,
            };
            let mut polled = [
                PollFd::new(&self.socket, socket_events),
                PollFd::new(&self.wake, PollFlags::IN),
            ];
            match poll(&mut polled, None) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => break Err(e.into()),
            }
            let (socket, woken) = (polled[0].revents(), polled[1].revents());
            if !woken.is_empty() {
                let _ = rustix::io::read(&self.wake, &mut [0u8; 8]);
            }
            if socket.contains(PollFlags::OUT) {
                if let Err(e) = self.flush() {
                    break Err(e);
                }
            }
            if socket.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
                match self.receive(&mut frames) {
                    Ok(true) => {}
                    Ok(false) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
        };
        if let Err(e) = ended {
            tracing::debug!("launcher {}: {e}", self.pid);
        }
        self.close();
    }

    /// Writes the outbox until it is empty or the socket is full.
    fn flush(&self) -> io::Result<()> {
        let mut state = lock(&self.state);
        while let Some(front) = state.outbox.front_mut() {
            let fds: Vec<BorrowedFd<'_>> = front.fds.iter().map(|fd| fd.as_fd()).collect();
            let rest = &front.bytes[front.sent..];
            match wire::send_with_fds(self.socket.as_fd(), rest, &fds, SendFlags::DONTWAIT) {
                Ok(n) => {
                    front.sent += n;
                    front.fds.clear();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
            if front.sent == front.bytes.len() {
                state.outbox.pop_front();
            }
        }
        Ok(())
    }

    /// Reads what arrived and delivers every whole reply; `Ok(false)` once
    /// the launcher closed its end.
    fn receive(&self, frames: &mut wire::Frames) -> io::Result<bool> {
        let open = loop {
            match frames.fill(self.socket.as_fd()) {
                Ok(true) => {}
                Ok(false) => break false,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
                Err(e) => return Err(e),
            }
        };
        while let Some(replied) = frames.next::<Replied>()? {
            self.deliver(replied);
        }
        Ok(open)
    }

    /// Hands a reply to its spawn, its child registered as owned first; a
    /// child whose spawn is gone is killed and reaped.
    fn deliver(&self, Replied { id, reply }: Replied) {
        let child = match &reply {
            Reply::Started { pid, .. } => Some(*pid),
            Reply::Failed(wire::Failure::Child { pid, .. }) => *pid,
            Reply::Failed(_) => None,
            Reply::UnknownPlan => None,
        };
        let Some(waiting) = lock(&self.state).waiting.remove(&id) else {
            return;
        };
        owned::Owned::lock().launched(child);
        if waiting.send(reply).is_err() {
            if let Some(pid) = child {
                abandon(pid);
            }
        }
    }

    /// The launcher is gone: every waiting spawn learns it, and no request
    /// is taken any more.
    fn close(&self) {
        let waiting = {
            let mut state = lock(&self.state);
            state.closed = true;
            state.outbox.clear();
            std::mem::take(&mut state.waiting)
        };
        let mut owned = owned::Owned::lock();
        for _ in waiting {
            owned.launched(None);
        }
    }
}

/// Kills and reaps a child no spawn waits for any more. Runs on the link's
/// thread; the child is ours and unreaped, so its pid is still its own.
fn abandon(pid: libc::pid_t) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
    }
    owned::release(pid);
}

/// How long a new launcher may take to say hello: a program that is not a
/// launcher (a wrong [`super::set_program`]) may never answer.
const HELLO_BOUND: Duration = Duration::from_secs(10);

/// Reads a new launcher's hello on `socket` (blocking, for at most
/// [`HELLO_BOUND`]) and checks its protocol version.
pub(super) fn handshake(socket: &OwnedFd) -> io::Result<()> {
    use rustix::net::sockopt::{set_socket_timeout, Timeout};
    let program = super::image::program();
    let not_a_launcher = |why: String| {
        io::Error::other(format!(
            "{} did not start as procbox's launcher ({why}); if it is not a program linked with this \
             version of procbox, name one with procbox::set_launcher_program",
            program.display()
        ))
    };
    set_socket_timeout(socket, Timeout::Recv, Some(HELLO_BOUND))?;
    let hello = wire::recv::<wire::Hello>(socket.as_fd());
    set_socket_timeout(socket, Timeout::Recv, None)?;
    match hello {
        Ok(Some((hello, _))) if hello.protocol == wire::PROTOCOL => Ok(()),
        Ok(Some((hello, _))) => Err(not_a_launcher(format!(
            "it speaks launcher protocol {}, this procbox {}",
            hello.protocol,
            wire::PROTOCOL
        ))),
        Ok(None) => Err(not_a_launcher("it exited".into())),
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            Err(not_a_launcher(format!("no hello within {} s", HELLO_BOUND.as_secs())))
        }
        Err(e) => Err(not_a_launcher(e.to_string())),
    }
}

/// The launcher process is gone: its requests get no reply.
pub(super) fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the launcher process exited")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
