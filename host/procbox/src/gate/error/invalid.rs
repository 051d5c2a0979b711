//! Why a request is malformed: [`Invalid`], the payload of
//! [`SpawnError::InvalidInput`](super::SpawnError::InvalidInput).

use crate::redirect::Stream;
use crate::resolve::Malformed;

use super::OsError;

/// Why a request to start a child is malformed. `program` is the program
/// as the plugin named it; `command` the command line of the resolved
/// program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// The program's name is empty or has a NUL byte.
    #[error("{0}")]
    Program(Malformed),
    /// More arguments and variables than the policy's request limits allow.
    #[error("{program}: {count} arguments and variables, more than the limit of {max}")]
    TooManyItems {
        /// The program as requested.
        program: String,
        /// How many arguments and variables the request has.
        count: usize,
        /// The most a request may have.
        max: usize,
    },
    /// An argument or variable (`NAME=value`) longer than the request
    /// limits allow.
    #[error("{program}: an argument or variable of {bytes} bytes is longer than the limit of {max} bytes")]
    TooLong {
        /// The program as requested.
        program: String,
        /// The longest argument or variable, in bytes.
        bytes: usize,
        /// The most one may take.
        max: usize,
    },
    /// The arguments and variables take more bytes in all than the request
    /// limits allow.
    #[error("{program}: the arguments and variables take {bytes} bytes, more than the limit of {max} bytes")]
    TooLarge {
        /// The program as requested.
        program: String,
        /// Their size, each with its terminating NUL.
        bytes: usize,
        /// The most they may take.
        max: usize,
    },
    /// An argument has a NUL byte, which would cut it short in `exec`.
    #[error("{program}: the argument {argument:?} contains a NUL byte")]
    ArgumentNul {
        /// The program as requested.
        program: String,
        /// The argument.
        argument: String,
    },
    /// A variable the plugin sets has an empty name, or a name with `=` or
    /// a NUL byte, or a value with a NUL byte.
    #[error("{program}: environment variable {name:?}: a name must be non-empty without '=' or NUL, and a value without NUL")]
    Variable {
        /// The program as requested.
        program: String,
        /// The variable's name.
        name: String,
    },
    /// The working directory cannot be used.
    #[error("{0}")]
    Cwd(BadCwd),
    /// A stream is redirected to another stream it cannot take.
    #[error("{command}: {stream}: `{redirect}` is only for {}", redirect.only_for())]
    Misplaced {
        /// The command line.
        command: String,
        /// The stream redirected.
        stream: Stream,
        /// Where it was redirected to.
        redirect: OtherStream,
    },
    /// A stream's redirection file cannot be used.
    #[error("{command}: {stream} file {path:?}: {why}")]
    File {
        /// The command line.
        command: String,
        /// The stream redirected.
        stream: Stream,
        /// The file as the plugin wrote it.
        path: String,
        /// What is wrong with it.
        why: BadFile,
    },
    /// A stream could not be set up because of what it was given (`EINVAL`,
    /// a `child-stdout` with no child's stdout).
    #[error("{command}: {doing}: {error}")]
    Stream {
        /// The command line.
        command: String,
        /// What was being done: `opening stdout`, ...
        doing: String,
        /// Why it failed.
        error: OsError,
    },
    /// The child given as stdin (`child-stdout`) is not a child's handle.
    #[error("stdin: the child given as stdin is not a valid child handle ({reason})")]
    UpstreamHandle {
        /// Why the handle does not name a child.
        reason: String,
    },
    /// The child given as stdin (`child-stdout`) has no stdout pipe left.
    #[error("stdin: the child given as stdin has no stdout pipe to pass on (spawn it with `stdout: piped` and do not take its stdout)")]
    UpstreamTaken,
    /// The program, its arguments or environment cannot be given to `exec`
    /// (a string with a NUL byte).
    #[error("{command}: {error}")]
    Exec {
        /// The command line.
        command: String,
        /// Why it cannot.
        error: OsError,
    },
    /// The kernel refused the arguments and environment as too large
    /// (`E2BIG`).
    #[error("{program}: the kernel refused the arguments and environment as too large ({error})")]
    KernelTooLarge {
        /// The resolved program.
        program: String,
        /// The kernel's error.
        error: OsError,
    },
    /// procbox's launcher could not act on the request (a string with a NUL
    /// byte, the wrong descriptors, a plan it does not know).
    #[error("{command}: {message}")]
    LauncherRefused {
        /// The command line.
        command: String,
        /// The launcher's reason.
        message: String,
    },
}

/// Why a working directory cannot be used. `cwd` is the directory as the
/// plugin wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadCwd {
    /// It has a NUL byte.
    #[error("the working directory {cwd:?} contains a NUL byte")]
    Nul {
        /// The directory as written.
        cwd: String,
    },
    /// It cannot be resolved (it does not exist, it cannot be searched).
    #[error("working directory {cwd}: {error}")]
    Unresolved {
        /// The directory as written.
        cwd: String,
        /// Why it cannot be resolved.
        error: OsError,
    },
    /// It is not a directory.
    #[error("working directory {cwd}: not a directory")]
    NotADirectory {
        /// The directory as written.
        cwd: String,
    },
}

/// Why a redirection file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadFile {
    /// The path is empty or has a NUL byte.
    #[error("the path is empty or contains a NUL byte")]
    EmptyOrNul,
    /// The path names no file (it ends in `..` or is `/`).
    #[error("not a file path")]
    NotAFilePath,
    /// The file's directory cannot be resolved.
    #[error("its directory: {0}")]
    Directory(OsError),
    /// The path is a directory.
    #[error("a directory")]
    IsADirectory,
}

/// A redirect to another stream, which only one stream can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtherStream {
    /// `stdout`: stderr goes where stdout goes.
    Stdout,
    /// `child-stdout`: stdin reads another child's stdout.
    ChildStdout,
}

impl OtherStream {
    /// The one stream that can take this redirect.
    pub fn only_for(self) -> Stream {
        match self {
            OtherStream::Stdout => Stream::Stderr,
            OtherStream::ChildStdout => Stream::Stdin,
        }
    }
}

impl std::fmt::Display for OtherStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OtherStream::Stdout => "stdout",
            OtherStream::ChildStdout => "child-stdout",
        })
    }
}
