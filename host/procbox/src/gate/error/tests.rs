//! The messages are the contract: plugins, logs and tests read them, so
//! each variant must write exactly what its string used to say.

use std::io;
use std::path::PathBuf;

use super::*;
use crate::redirect::Stream;
use crate::resolve::Malformed;

fn os(errno: i32) -> OsError {
    io::Error::from_raw_os_error(errno).into()
}

const CMD: &str = "/usr/bin/ls -l";

/// One of each variant, and the message it must write, spelled as the
/// code that built the strings did.
fn cases() -> Vec<(SpawnError, String)> {
    [
        missing_and_denied(),
        malformed_requests(),
        malformed_streams(),
        malformed_for_exec(),
        limits_and_the_rest(),
    ]
    .concat()
}

fn missing_and_denied() -> Vec<(SpawnError, String)> {
    let enoent = io::Error::from_raw_os_error(libc::ENOENT);
    vec![
        (
            SpawnError::denied("ls: matches deny rule ls"),
            "denied: ls: matches deny rule ls".into(),
        ),
        (
            SpawnError::from(ResolveError::NotFound {
                program: "nope".into(),
                looked: Looked::OnPath(vec!["/usr/bin".into(), "/bin".into()]),
            }),
            "not found: nope: no such program on the host's PATH (/usr/bin:/bin)".into(),
        ),
        (
            SpawnError::from(ResolveError::NotFound {
                program: "./x".into(),
                looked: Looked::At(PathBuf::from("/tmp/./x")),
            }),
            "not found: ./x: no executable file at /tmp/./x".into(),
        ),
        (
            SpawnError::NotFound(Missing {
                program: "/usr/bin/gone".into(),
                why: Absence::Exec(os(libc::ENOENT)),
            }),
            format!("not found: /usr/bin/gone: {enoent}"),
        ),
        (
            SpawnError::from(ResolveError::Malformed(Malformed::Empty)),
            "invalid input: the program name is empty".into(),
        ),
        (
            SpawnError::from(ResolveError::Malformed(Malformed::Nul("a\0b".into()))),
            format!("invalid input: the program name {:?} contains a NUL byte", "a\0b"),
        ),
    ]
}

fn malformed_requests() -> Vec<(SpawnError, String)> {
    let enoent = io::Error::from_raw_os_error(libc::ENOENT);
    let invalid = SpawnError::InvalidInput;
    vec![
        (
            invalid(Invalid::TooManyItems {
                program: "ls".into(),
                count: 5,
                max: 4,
            }),
            "invalid input: ls: 5 arguments and variables, more than the limit of 4".into(),
        ),
        (
            invalid(Invalid::TooLong {
                program: "ls".into(),
                bytes: 9,
                max: 8,
            }),
            "invalid input: ls: an argument or variable of 9 bytes is longer than the limit of 8 bytes".into(),
        ),
        (
            invalid(Invalid::TooLarge {
                program: "ls".into(),
                bytes: 90,
                max: 80,
            }),
            "invalid input: ls: the arguments and variables take 90 bytes, more than the limit of 80 bytes".into(),
        ),
        (
            invalid(Invalid::ArgumentNul {
                program: "ls".into(),
                argument: "a\0".into(),
            }),
            format!("invalid input: ls: the argument {:?} contains a NUL byte", "a\0"),
        ),
        (
            invalid(Invalid::Variable {
                program: "ls".into(),
                name: "A=B".into(),
            }),
            format!(
                "invalid input: ls: environment variable {:?}: a name must be non-empty without '=' or NUL, and a value without NUL",
                "A=B"
            ),
        ),
        (
            invalid(Invalid::Cwd(BadCwd::Nul { cwd: "d\0".into() })),
            format!("invalid input: the working directory {:?} contains a NUL byte", "d\0"),
        ),
        (
            invalid(Invalid::Cwd(BadCwd::Unresolved {
                cwd: "sub".into(),
                error: os(libc::ENOENT),
            })),
            format!("invalid input: working directory sub: {enoent}"),
        ),
        (
            invalid(Invalid::Cwd(BadCwd::NotADirectory { cwd: "f".into() })),
            "invalid input: working directory f: not a directory".into(),
        ),
    ]
}

fn malformed_streams() -> Vec<(SpawnError, String)> {
    let enoent = io::Error::from_raw_os_error(libc::ENOENT);
    let cmd = CMD;
    let invalid = SpawnError::InvalidInput;
    vec![
        (
            invalid(Invalid::Misplaced {
                command: cmd.into(),
                stream: Stream::Stdout,
                redirect: OtherStream::Stdout,
            }),
            format!("invalid input: {cmd}: stdout: `stdout` is only for stderr"),
        ),
        (
            invalid(Invalid::Misplaced {
                command: cmd.into(),
                stream: Stream::Stderr,
                redirect: OtherStream::ChildStdout,
            }),
            format!("invalid input: {cmd}: stderr: `child-stdout` is only for stdin"),
        ),
        (
            invalid(Invalid::File {
                command: cmd.into(),
                stream: Stream::Stdin,
                path: "".into(),
                why: BadFile::EmptyOrNul,
            }),
            format!("invalid input: {cmd}: stdin file \"\": the path is empty or contains a NUL byte"),
        ),
        (
            invalid(Invalid::File {
                command: cmd.into(),
                stream: Stream::Stdout,
                path: "..".into(),
                why: BadFile::NotAFilePath,
            }),
            format!("invalid input: {cmd}: stdout file \"..\": not a file path"),
        ),
        (
            invalid(Invalid::File {
                command: cmd.into(),
                stream: Stream::Stderr,
                path: "no/x".into(),
                why: BadFile::Directory(os(libc::ENOENT)),
            }),
            format!("invalid input: {cmd}: stderr file \"no/x\": its directory: {enoent}"),
        ),
        (
            invalid(Invalid::File {
                command: cmd.into(),
                stream: Stream::Stdout,
                path: "d".into(),
                why: BadFile::IsADirectory,
            }),
            format!("invalid input: {cmd}: stdout file \"d\": a directory"),
        ),
        (
            invalid(Invalid::Stream {
                command: cmd.into(),
                doing: "stdin".into(),
                error: io::Error::new(io::ErrorKind::InvalidInput, "no child stdout was given").into(),
            }),
            format!("invalid input: {cmd}: stdin: no child stdout was given"),
        ),
        (
            invalid(Invalid::UpstreamHandle {
                reason: "resource not present".into(),
            }),
            "invalid input: stdin: the child given as stdin is not a valid child handle (resource not present)".into(),
        ),
        (
            invalid(Invalid::UpstreamTaken),
            "invalid input: stdin: the child given as stdin has no stdout pipe to pass on (spawn it with `stdout: piped` and do not take its stdout)".into(),
        ),
    ]
}

fn malformed_for_exec() -> Vec<(SpawnError, String)> {
    let e2big = io::Error::from_raw_os_error(libc::E2BIG);
    let cmd = CMD;
    let invalid = SpawnError::InvalidInput;
    vec![
        (
            invalid(Invalid::Exec {
                command: cmd.into(),
                error: io::Error::new(io::ErrorKind::InvalidInput, "nul byte found").into(),
            }),
            format!("invalid input: {cmd}: nul byte found"),
        ),
        (
            invalid(Invalid::KernelTooLarge {
                program: "/usr/bin/ls".into(),
                error: os(libc::E2BIG),
            }),
            format!(
                "invalid input: /usr/bin/ls: the kernel refused the arguments and environment as too large ({e2big})"
            ),
        ),
        (
            invalid(Invalid::LauncherRefused {
                command: cmd.into(),
                message: "the launcher refused a plan it was sent".into(),
            }),
            format!("invalid input: {cmd}: the launcher refused a plan it was sent"),
        ),
    ]
}

fn limits_and_the_rest() -> Vec<(SpawnError, String)> {
    let eperm = io::Error::from_raw_os_error(libc::EPERM);
    let cmd = CMD;
    vec![
        (
            Exceeded::starting(cmd, Limit::Children { max: 2 }).into(),
            format!("limit exceeded: {cmd}: 2 children are already running, the most this policy allows at once (max-children)"),
        ),
        (
            Exceeded::starting(cmd, Limit::Spawns { max: 7 }).into(),
            format!("limit exceeded: {cmd}: the plugin already started 7 children, the most this policy allows in one run (max-spawns)"),
        ),
        (
            Exceeded::starting(cmd, Limit::Processes).into(),
            format!("limit exceeded: {cmd}: the tree of children already has as many processes as `max-processes` allows"),
        ),
        (
            Exceeded::plain(Limit::Handles { max: 100 }).into(),
            "limit exceeded: the plugin holds 100 handles, the most it may (max-handles)".into(),
        ),
        (
            SpawnError::io(format_args!("signalling process {}", 42), eperm),
            format!("i/o error: signalling process 42: {}", io::Error::from_raw_os_error(libc::EPERM)),
        ),
        (
            SpawnError::Launcher {
                command: cmd.into(),
                error: io::Error::new(io::ErrorKind::BrokenPipe, "the launcher process exited").into(),
            },
            format!("i/o error: {cmd}: procbox's launcher: the launcher process exited"),
        ),
        (
            SpawnError::StatusLost(StatusLost::SupervisorStopped),
            "i/o error: the child's supervisor stopped before it exited".into(),
        ),
        (
            SpawnError::StatusLost(StatusLost::AlreadyReaped { pid: 42 }),
            "i/o error: process 42 was already reaped".into(),
        ),
        (
            SpawnError::Aborted {
                command: cmd.into(),
                reason: "the broker is gone".into(),
            },
            format!("aborted: {cmd}: the broker is gone"),
        ),
    ]
}

#[test]
fn each_variant_writes_the_message_its_string_said() {
    for (error, message) in cases() {
        assert_eq!(error.to_string(), message, "{error:?}");
    }
}

#[test]
fn the_detail_is_the_message_after_its_kind() {
    for (error, message) in cases() {
        let (_, detail) = message.split_once(": ").expect("a kind, then the detail");
        assert_eq!(error.detail(), detail, "{error:?}");
    }
}

#[test]
fn os_errors_compare_by_kind_code_and_message() {
    assert_eq!(os(libc::ENOENT), os(libc::ENOENT));
    assert_ne!(os(libc::ENOENT), os(libc::EPERM));
    let made = |m: &str| OsError::from(io::Error::other(m.to_string()));
    assert_eq!(made("a"), made("a"));
    assert_ne!(made("a"), made("b"));
    let error = SpawnError::io("hashing /bin/ls", io::Error::from_raw_os_error(libc::EACCES));
    assert_eq!(error.clone(), error);
}
