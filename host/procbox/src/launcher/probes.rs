//! The kernel probes (Landlock, seccomp, a PID namespace), made for real in
//! a process with one thread and a clean image, never in a fork of a
//! threaded procbox: making a namespace needs a process with one thread,
//! and the probe's set-up allocates. Two such processes:
//! - a fork of the launcher started early ([`super::start_early`]), before
//!   its first plan: the common case, which costs one exec of procbox's
//!   program (the launcher's) where a probe of its own would cost two;
//! - a probe process exec'd from procbox's image ([`super::image`]), when
//!   no launcher was started early or it gave no findings.

use std::io::Read;
use std::os::fd::AsFd;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{entry, image};
use crate::process_tree::namespace::NoNamespace;
use crate::process_tree::ProbeError;

/// What the probe process found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probed {
    /// The Landlock ABI that really restricts a process (0: none).
    pub landlock_abi: u32,
    /// Whether a seccomp filter really loads.
    pub seccomp: bool,
    /// Whether children can get a PID namespace: `Ok(true)` when it needs a
    /// user namespace (procbox is not root); `Err` says why not.
    pub namespace: Result<bool, NoNamespace>,
}

/// The probe's findings, once per process; `Err` when the probe process
/// could not run.
pub fn probed() -> &'static Result<Probed, ProbeError> {
    PROBED.get_or_init(|| {
        let found = run_probe().map_err(ProbeError::new);
        if let Err(e) = &found {
            tracing::warn!("{e}: procbox counts this kernel as enforcing nothing");
        }
        found
    })
}

static PROBED: OnceLock<Result<Probed, ProbeError>> = OnceLock::new();

/// Where the findings of the probe started ahead of need come from: the
/// spare launcher's standard output ([`ask_early`]).
static PENDING: Mutex<Option<std::io::PipeReader>> = Mutex::new(None);

/// How long a run waits for a probe's findings (the launcher's, then a
/// probe process's): the probe takes milliseconds, and a program that is
/// not this procbox's (a wrong [`super::set_program`]) may never close the
/// pipe, or never stop writing to it.
const ANSWER_BOUND: Duration = Duration::from_secs(10);

/// The most a probe's findings take: a few hundred bytes of JSON.
const MAX_ANSWER: usize = 64 << 10;

/// Asks the launcher about to be started early to probe the kernel (the
/// pipe returned is to be its standard output: see [`answer_if_asked`]),
/// so that the answer is ready when a run first asks ([`probed`]) at the
/// price of a fork of the launcher, not of a third exec of procbox's
/// program. `None` when the findings are known or already asked for.
///
/// # Errors
/// The OS error of making the pipe.
pub(super) fn ask_early() -> std::io::Result<Option<std::io::PipeWriter>> {
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    if PROBED.get().is_some() || pending.is_some() {
        return Ok(None);
    }
    let (answer, asked) = std::io::pipe()?;
    *pending = Some(answer);
    Ok(Some(asked))
}

/// Runs in a launcher, on its only thread, before its hello and before
/// any plan: when procbox gave it a pipe for its standard output
/// ([`ask_early`]), probes the kernel in a fork of itself, which writes
/// the findings there, reaps that fork and only then puts `/dev/null` in
/// the pipe's place. So the pipe's end of file tells procbox that the
/// probe, and the PID namespace it made, are gone.
///
/// A fork is safe here: the launcher has one thread (it was dispatched
/// before `main`, and starts none), so the fork may allocate. The probe
/// runs before the first plan, so it meets no filter or namespace the
/// launcher made for children.
pub(super) fn answer_if_asked() {
    use rustix::fs::FileType;
    let stdout = std::io::stdout();
    let asked = rustix::fs::fstat(&stdout).is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Fifo);
    if !asked {
        return;
    }
    match crate::sys::fork::fork_alone(0) {
        // The child holds the launcher's socket for the milliseconds it
        // lives; it never reads or writes it.
        Ok(0) => crate::sys::exit_now(answer()),
        // A failed fork leaves procbox an end of file without findings:
        // it then starts a probe process of its own.
        Err(_) => {}
        Ok(probe) => {
            let probe = rustix::process::Pid::from_raw(probe);
            while let Err(rustix::io::Errno::INTR) =
                rustix::process::waitpid(probe, rustix::process::WaitOptions::empty())
            {}
        }
    }
    // Fd 0 is `/dev/null` ([`image::start`]): nothing to open, so this
    // cannot fail for want of a descriptor and leave the pipe open.
    let _ = rustix::stdio::dup2_stdout(std::io::stdin());
}

/// Runs in the probe (a probe process, or the launcher's fork), on its
/// only thread: tries each mechanism on itself and writes the findings to
/// its standard output as JSON. Returns its exit code.
pub(super) fn answer() -> i32 {
    let found = probe_here();
    let written = serde_json::to_vec(&found).map(|json| {
        use std::io::Write;
        // Flushed by hand: the process ends with `_exit`, which skips
        // std's flush at exit.
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&json).and_then(|()| stdout.flush()).is_ok()
    });
    if matches!(written, Ok(true)) {
        0
    } else {
        1
    }
}

/// Runs in the probe process (one thread, clean image), which exits right
/// after: tries each mechanism on itself, with no child but the
/// namespace's init. The namespace first: Landlock and seccomp stay on the
/// process once tried.
pub fn probe_here() -> Probed {
    let namespace = crate::process_tree::namespace::probe_here().map_err(NoNamespace::from);
    let (landlock_abi, seccomp) = crate::sandbox::probe::probe_here();
    Probed {
        landlock_abi,
        seccomp,
        namespace,
    }
}

/// How long procbox's exit waits for an unasked probe to finish on its
/// own. A probe takes milliseconds.
const UNASKED_BOUND: Duration = Duration::from_secs(2);

/// Runs in procbox at exit ([`super::exit`]), before the launchers are
/// ended: lets the launcher's probe, whose answer nobody asked for
/// (procbox stopped at a usage error), finish first.
///
/// It is let finish rather than orphaned: the probe, a fork of the
/// launcher, has no death signal, so killing the launcher in the middle
/// would not end it; it would end its namespace's init, then exit with
/// nobody to reap it but procbox's nearest subreaper (a container's
/// entrypoint, a CI agent), a zombie there. The pipe's end of file says
/// the launcher has reaped its probe; only a launcher that has not within
/// [`UNASKED_BOUND`] is ended mid-probe. (A run that asked, on another
/// thread, waits for the findings itself, up to [`ANSWER_BOUND`]; exit does
/// not wait for it.)
pub(super) fn let_unasked_finish() {
    let Some(answer) = PENDING.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    let _ = read_until_end(answer, UNASKED_BOUND);
}

/// Everything `pipe` gives until its end of file; `TimedOut` if that has
/// not come within `bound` (a writer that never stops included),
/// `InvalidData` past [`MAX_ANSWER`] bytes.
fn read_until_end(mut pipe: std::io::PipeReader, bound: Duration) -> std::io::Result<Vec<u8>> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let deadline = Instant::now() + bound;
    let mut read = Vec::new();
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        if read.len() > MAX_ANSWER {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "more than a probe's findings",
            ));
        }
        let left = deadline - now;
        let timeout = Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let mut polled = [PollFd::new(&pipe, PollFlags::IN)];
        match poll(&mut polled, Some(&timeout)) {
            Ok(0) => return Err(std::io::ErrorKind::TimedOut.into()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let mut chunk = [0u8; 4096];
        match pipe.read(&mut chunk) {
            Ok(0) => return Ok(read),
            Ok(n) => read.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A probe process of its own ([`entry::PROBE`]): procbox's child.
struct Alone {
    pid: libc::pid_t,
    /// Where its answer comes.
    answer: std::io::PipeReader,
}

/// Starts a probe process, its pid owned (the reaper of adopted orphans
/// must not reap it and lose its answer).
fn start() -> std::io::Result<Alone> {
    let (answer, write_end) = std::io::pipe()?;
    let streams = image::Streams {
        stdout: Some(write_end.as_fd()),
        fd3: None,
    };
    let mut owned = crate::sys::owned::Owned::lock();
    let pid = image::start(entry::PROBE, &streams, true)?;
    owned.insert(pid);
    Ok(Alone { pid, answer })
}

/// The findings of the launcher's probe, if one was asked for early and
/// answered; else of a probe process started now.
fn run_probe() -> std::io::Result<Probed> {
    let early = PENDING.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(answer) = early {
        // A launcher that could not start, died, or is not this procbox's
        // (its hello refuses it later) leaves no findings: a probe process
        // answers instead.
        match read_until_end(answer, ANSWER_BOUND).and_then(|json| decode(&json)) {
            Ok(found) => return Ok(found),
            Err(e) => tracing::debug!("the launcher's probe gave no findings ({e}): starting a probe process"),
        }
    }
    let Alone { pid, answer } = start()?;
    let read = read_until_end(answer, ANSWER_BOUND);
    if read.is_err() {
        // Owned and unreaped: the pid cannot have been reused.
        if let Some(probe) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(probe, rustix::process::Signal::KILL);
        }
    }
    let status = loop {
        match rustix::process::waitpid(
            rustix::process::Pid::from_raw(pid),
            rustix::process::WaitOptions::empty(),
        ) {
            Ok(Some((_, status))) => break status.as_raw(),
            Err(rustix::io::Errno::INTR) => {}
            _ => break 0,
        }
    };
    crate::sys::owned::release(pid);
    let json = read?;
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(not_a_probe(format!("it ended with status {status:#x}")));
    }
    decode(&json)
}

fn decode(json: &[u8]) -> std::io::Result<Probed> {
    serde_json::from_slice(json).map_err(|e| not_a_probe(e.to_string()))
}

fn not_a_probe(why: String) -> std::io::Error {
    std::io::Error::other(format!(
        "{} did not answer as procbox's probe ({why}); if it is not a program linked with this version \
         of procbox, name one with procbox::set_launcher_program",
        image::program().display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of `field` in `/proc/PID/status`.
    fn status(pid: libc::pid_t, field: &str) -> String {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|line| line.starts_with(field)).unwrap();
        line[field.len()..].trim().to_string()
    }

    /// A launcher given a pipe for its standard output probes the kernel in
    /// a fork of itself before its hello: the findings are those of a probe
    /// process of its own, the pipe ends only once that fork is reaped,
    /// and the launcher itself stays without Landlock or seccomp (what it
    /// carries, its children inherit).
    #[test]
    fn a_launcher_given_a_pipe_probes_in_a_fork_then_says_hello() {
        use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
        let (answer, asked) = std::io::pipe().unwrap();
        let (ours, theirs) = socketpair(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None).unwrap();
        let streams = image::Streams {
            stdout: Some(asked.as_fd()),
            fd3: Some(theirs.as_fd()),
        };
        let launcher = image::start(entry::LAUNCHER, &streams, true).unwrap();
        drop((asked, theirs));

        let json = read_until_end(answer, Duration::from_secs(60)).expect("the probe answers, then the pipe ends");
        let in_fork = decode(&json).unwrap();
        // Its hello comes after the probe.
        super::super::link::handshake(&ours).unwrap();
        let children = format!("/proc/{launcher}/task/{launcher}/children");
        assert_eq!(
            std::fs::read_to_string(children).unwrap().trim(),
            "",
            "the probe's fork was reaped"
        );
        assert_eq!(
            status(launcher, "Seccomp:"),
            "0",
            "the launcher loaded the probe's filter"
        );
        assert_eq!(status(launcher, "NoNewPrivs:"), "0", "the launcher restricted itself");
        let stdout = std::fs::read_link(format!("/proc/{launcher}/fd/1")).unwrap();
        assert_eq!(
            stdout,
            std::path::Path::new("/dev/null"),
            "the pipe is closed after the probe"
        );
        image::reap(launcher);

        let Alone { pid, mut answer } = start().unwrap();
        let mut json = Vec::new();
        answer.read_to_end(&mut json).unwrap();
        image::reap(pid);
        crate::sys::owned::release(pid);
        assert_eq!(in_fork, decode(&json).unwrap(), "a probe process found otherwise");
    }

    /// A writer that never stops (a wrong launcher program printing) does
    /// not hold a run past the bound, nor grow its memory without end.
    #[test]
    fn a_writer_that_never_stops_is_cut_off() {
        use std::io::Write;
        let (answer, mut writer) = std::io::pipe().unwrap();
        let chatter = std::thread::spawn(move || while writer.write_all(&[b'x'; 4096]).is_ok() {});
        let started = Instant::now();
        let read = read_until_end(answer, Duration::from_millis(200));
        let kind = read.expect_err("an endless answer was accepted").kind();
        assert!(
            matches!(kind, std::io::ErrorKind::InvalidData | std::io::ErrorKind::TimedOut),
            "{kind:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        chatter.join().unwrap();
    }
}
