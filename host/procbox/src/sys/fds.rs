//! Descriptors passed over a Unix socket (`SCM_RIGHTS`): a launcher
//! request's five, a namespace's report; and a descriptor handed to the
//! current tokio runtime's reactor ([`readable_on_reactor`]).

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer, SendAncillaryMessage,
    SendFlags,
};

/// The most descriptors one message carries (a launcher request's: the
/// child's stdin, stdout, stderr and working directory, and the socket its
/// reply goes to).
pub(crate) const FDS: usize = 5;

/// Registers `fd` with the current tokio runtime's reactor, to await its
/// readability (a pidfd's exit, a socket's data). Call it from a task of a
/// runtime with its I/O driver (tokio panics otherwise).
///
/// # Errors
/// The OS error of registering it.
pub(crate) fn readable_on_reactor(fd: OwnedFd) -> io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    // SAFETY: the AsyncFd owns the OwnedFd, which stays open and refers to
    // the same file until the AsyncFd is dropped or gives it back
    // (`into_inner`); an OwnedFd's raw descriptor never changes.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(io::Error::from)
}

/// Sends what it can of `bytes` with `fds` on its first byte; returns how
/// many bytes went (the descriptors went with the first one). With
/// `SendFlags::DONTWAIT`, `WouldBlock` when none could. Makes no
/// allocation: usable between `fork` and `exec`.
///
/// # Errors
/// The OS error of `sendmsg`.
pub(crate) fn send_with_fds(
    socket: BorrowedFd<'_>,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
    flags: SendFlags,
) -> io::Result<usize> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many descriptors for one launcher message",
        ));
    }
    loop {
        match rustix::net::sendmsg(
            socket,
            &[IoSlice::new(bytes)],
            &mut control,
            flags | SendFlags::NOSIGNAL,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            sent => return Ok(sent?),
        }
    }
}

/// Receives into `bytes`, with the descriptors attached to them (made
/// close-on-exec); `(0, [])` at end of file. With `RecvFlags::DONTWAIT`,
/// `WouldBlock` when nothing is there.
///
/// # Errors
/// The OS error of `recvmsg`; `InvalidData` if more descriptors came than
/// a request carries (the rest were closed).
pub(crate) fn recv_with_fds(socket: BorrowedFd<'_>, bytes: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    recv_with_fds_flags(socket, bytes, RecvFlags::empty())
}

pub(crate) fn recv_with_fds_flags(
    socket: BorrowedFd<'_>,
    bytes: &mut [u8],
    flags: RecvFlags,
) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = loop {
        match rustix::net::recvmsg(
            socket,
            &mut [IoSliceMut::new(bytes)],
            &mut control,
            flags | RecvFlags::CMSG_CLOEXEC,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            received => break received?,
        }
    };
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = message {
            fds.extend(rights);
        }
    }
    if received.flags.contains(ReturnFlags::CTRUNC) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "too many descriptors in a launcher message",
        ));
    }
    Ok((received.bytes, fds))
}
