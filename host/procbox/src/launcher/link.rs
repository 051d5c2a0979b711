//! One launcher's socket, shared by every spawn that uses it, pipelined:
//! each request goes out with an id as soon as it is asked, with a socket
//! of its own for the reply, which the asking spawn reads on its own
//! runtime (the launcher writes it straight there: no thread in between
//! wakes for it). No lock is held across a round trip, and no tokio worker
//! blocks.
//!
//! A request is sent straight from the asking task when the socket takes
//! it at once (the usual case: one request is a few KiB); the rest of one
//! the socket cannot take now waits in an outbox that the link's thread
//! (`procbox-launcher-io`) writes when the socket has room, with its
//! descriptors duplicated so that they stay valid whatever the asking
//! task does meanwhile. That thread also reads a launcher's hello when it
//! was started early, and notices the launcher's end.
//!
//! The children the launcher starts are procbox's (`CLONE_PARENT`), and a
//! reaper of adopted orphans must not take one before its watcher owns it:
//! every request counts as a launch in flight ([`owned`]) from before it
//! is sent until its reply registers the child, and the reaper waits for
//! none to be in flight. A spawn cancelled before its reply leaves its
//! reply socket to the link's thread, which reads the reply and kills and
//! reaps the child no one waits for.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rustix::event::{eventfd, poll, EventfdFlags, PollFd, PollFlags};
use rustix::net::SendFlags;

use super::wire::{self, Replied, Reply, Request};
use crate::sys::owned;

mod reply;
use reply::{launched, reply_sockets, settle_later, Awaiting, Orphan};

/// A running launcher, as procbox talks to it.
pub(super) struct Link {
    /// Procbox's end of the socket, non-blocking.
    socket: OwnedFd,
    /// The launcher's pid (procbox's child).
    pub pid: libc::pid_t,
    /// Made readable when the outbox or the orphans gain one, to wake
    /// the thread.
    wake: OwnedFd,
    state: Mutex<State>,
    /// The plans sent on this socket.
    known: Mutex<HashSet<u64>>,
    /// Its requests sent (or queued) and not yet settled: each counts as a
    /// launch in flight in [`owned`] too, and is settled exactly once.
    in_flight: Arc<AtomicUsize>,
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
    /// Reply sockets of spawns cancelled before their reply, for the
    /// thread to settle.
    orphans: Vec<Orphan>,
    /// Set once the launcher is gone: no request is taken any more.
    closed: bool,
    /// Set until the launcher's hello is checked: requests wait in the
    /// outbox.
    unchecked: bool,
    /// Set when the thread has ended: an orphan is settled where it is
    /// left.
    unserved: bool,
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

    /// Wraps procbox's end of a launcher's socket and starts the link's
    /// thread (the outbox, the orphans, the launcher's end). When `unchecked` (the caller did not read
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
            in_flight: Arc::default(),
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
                        serving.unserve();
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

    /// Sends `request` (numbered here) with `fds` and a socket for its
    /// reply, and waits for the reply on that socket.
    pub async fn ask(&self, request: &mut Request, fds: &[BorrowedFd<'_>]) -> Result<Reply, Unanswered> {
        request.id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let framed = wire::frame(&*request).map_err(Unanswered::NotSent)?;
        let (ours, theirs) = reply_sockets().map_err(Unanswered::NotSent)?;
        let ours = crate::sys::fds::readable_on_reactor(ours).map_err(Unanswered::NotSent)?;
        {
            let mut state = lock(&self.state);
            if state.closed {
                return Err(Unanswered::NotSent(gone()));
            }
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            owned::Owned::lock().launching();
            let mut with_reply = fds.to_vec();
            with_reply.push(theirs.as_fd());
            if let Err(e) = self.send_or_queue(&mut state, framed, &with_reply) {
                launched(&self.in_flight, None);
                return Err(Unanswered::NotSent(e));
            }
        }
        // The launcher has its own end now (or the outbox a copy): ours
        // must not keep the reply socket open if the launcher dies.
        drop(theirs);
        Awaiting::new(self, request.id, ours).reply().await
    }

    /// Takes over the reply socket of a spawn cancelled before its reply.
    fn adopt(&self, orphan: Orphan) {
        let mut state = lock(&self.state);
        if state.unserved {
            drop(state);
            settle_later(orphan);
            return;
        }
        state.orphans.push(orphan);
        let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
    }

    /// Its requests not yet settled (each a launch in flight).
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Records the init of the PID namespace this launcher's children run
    /// in, the first time a reply names it (as a pidfd: the sweep may reap
    /// it, and its pid be reused).
    pub fn learn_init(&self, init: libc::pid_t) {
        if self.init.get().is_none() {
            if let Ok(pidfd) = crate::sys::pidfd::pidfd_open(init) {
                let _ = self.init_pid.set(init);
                let _ = self.init.set(pidfd);
            }
        }
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
        // Queued: it goes out whatever this write says (the thread also
        // writes the outbox whenever the socket has room).
        let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
        Ok(())
    }

    /// Shuts the socket down: the launcher sees end of file and exits, and
    /// this link's thread ends.
    pub fn shut_down(&self) {
        let _ = rustix::net::shutdown(&self.socket, rustix::net::Shutdown::Both);
    }

    /// The thread's loop: writes the outbox when the socket has room and
    /// settles orphans, until the launcher is gone and no orphan is left.
    fn serve(&self) {
        let mut orphans: Vec<Orphan> = Vec::new();
        let mut open = true;
        loop {
            if !open {
                let mut state = lock(&self.state);
                orphans.append(&mut state.orphans);
                if orphans.is_empty() {
                    state.unserved = true;
                    return;
                }
            }
            let writing = open && !lock(&self.state).outbox.is_empty();
            let socket_events = match writing {
                true => PollFlags::IN | PollFlags::OUT,
                false => PollFlags::IN,
            };
            let mut polled = vec![PollFd::new(&self.wake, PollFlags::IN)];
            if open {
                polled.push(PollFd::new(&self.socket, socket_events));
            }
            polled.extend(orphans.iter().map(|o| PollFd::new(&o.socket, PollFlags::IN)));
            match poll(&mut polled, None) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    // Nothing can be waited for any more: the launcher's
                    // socket closes, and each orphan takes what it has.
                    tracing::debug!("launcher {}: {e}", self.pid);
                    self.close();
                    open = false;
                    orphans.drain(..).for_each(settle_later);
                    continue;
                }
            }
            let events: Vec<PollFlags> = polled.iter().map(PollFd::revents).collect();
            drop(polled);
            let (woken, socket, settling) = match open {
                true => (events[0], events[1], &events[2..]),
                false => (events[0], PollFlags::empty(), &events[1..]),
            };
            if !woken.is_empty() {
                let _ = rustix::io::read(&self.wake, &mut [0u8; 8]);
                orphans.append(&mut lock(&self.state).orphans);
            }
            if open && !socket.is_empty() {
                if let Err(e) = self.on_socket(socket) {
                    tracing::debug!("launcher {}: {e}", self.pid);
                    self.close();
                    open = false;
                }
            }
            let mut index = 0;
            orphans.retain_mut(|orphan| {
                let ready = settling.get(index).is_some_and(|events| !events.is_empty());
                index += 1;
                !(ready && orphan.settle(Some(self)))
            });
        }
    }

    /// The thread ends without serving (a refused hello): orphans are
    /// settled where they are left from now on.
    fn unserve(&self) {
        let orphans = {
            let mut state = lock(&self.state);
            state.unserved = true;
            std::mem::take(&mut state.orphans)
        };
        orphans.into_iter().for_each(settle_later);
    }

    /// The launcher's socket is ready: writes the outbox, and reads what
    /// the launcher sends there after its hello (nothing: an error, or the
    /// end of file once it is gone).
    fn on_socket(&self, events: PollFlags) -> io::Result<()> {
        if events.contains(PollFlags::OUT) {
            self.flush()?;
        }
        if events.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
            let mut unexpected = wire::Frames::default();
            match unexpected.fill(self.socket.as_fd()) {
                Ok(false) => return Err(gone()),
                Ok(true) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the launcher wrote on its socket after its hello",
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
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

    /// The launcher is gone (or speaks out of turn): no request is taken
    /// any more, and those in the outbox are dropped with their reply
    /// sockets, so that their spawns see the end of them.
    fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        state.outbox.clear();
    }
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
