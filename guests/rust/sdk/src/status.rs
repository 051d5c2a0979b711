//! How a child ended and what it printed.

use std::fmt;
use std::time::Duration;

use crate::bindings::process as wit;

/// CPU time and peak memory of a finished child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Time spent in user mode.
    pub user_cpu: Duration,
    /// Time spent in the kernel on the child's behalf.
    pub system_cpu: Duration,
    /// Largest resident set size, in bytes.
    pub max_rss_bytes: u64,
}

/// What a child's whole tree used (the child and every process it
/// started), as its cgroup counted it: see [`crate::Command::measure_tree`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreeUsage {
    /// Time spent in user mode by the whole tree.
    pub user_cpu: Duration,
    /// Time spent in the kernel on the tree's behalf.
    pub system_cpu: Duration,
    /// The most memory the tree used at once, in bytes.
    pub peak_memory_bytes: u64,
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    code: Option<i32>,
    signal: Option<i32>,
    /// Wall time from spawn to exit.
    pub duration: Duration,
    /// Whether the host stopped the child because its timeout ran out.
    pub timed_out: bool,
    /// Whether the host killed the child for writing more output than the
    /// policy's cap; the output read ends at the cap.
    pub output_truncated: bool,
    /// CPU time and peak memory.
    pub usage: Usage,
    /// The whole tree's usage, when the command asked for it
    /// ([`crate::Command::measure_tree`]) and the host could measure it.
    pub tree_usage: Option<TreeUsage>,
}

/// SIGPIPE's number on Linux: a write to a pipe whose reader has gone.
pub(crate) const SIGPIPE: i32 = 13;

impl ExitStatus {
    /// Whether the child succeeded: it exited with code 0, was not stopped
    /// by its timeout and its output was not cut at the policy's cap. This
    /// is the one success rule of `procbox:host/process` (see
    /// `wit/process.wit`); every checked call of this crate uses it.
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out && !self.output_truncated
    }
    /// The exit code, if the child exited by itself.
    pub fn code(&self) -> Option<i32> {
        self.code
    }
    /// The signal number, if a signal killed the child.
    pub fn signal(&self) -> Option<i32> {
        self.signal
    }
}

#[cfg(test)]
impl ExitStatus {
    /// A status that exited with `code` (tests only).
    pub(crate) fn exited(code: i32) -> ExitStatus {
        ExitStatus::ended(Some(code), None)
    }
    /// A status killed by `signal` (tests only).
    pub(crate) fn signalled(signal: i32) -> ExitStatus {
        ExitStatus::ended(None, Some(signal))
    }
    fn ended(code: Option<i32>, signal: Option<i32>) -> ExitStatus {
        ExitStatus {
            code,
            signal,
            duration: Duration::ZERO,
            timed_out: false,
            output_truncated: false,
            usage: Usage::default(),
            tree_usage: None,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}")?,
            (_, Some(signal)) => write!(f, "killed by signal {signal}")?,
            _ => write!(f, "unknown status")?,
        }
        if self.timed_out {
            write!(f, " (timed out)")?;
        }
        if self.output_truncated {
            write!(f, " (output over the cap; killed)")?;
        }
        write!(f, " after {:.3}s", self.duration.as_secs_f64())
    }
}

impl From<wit::ExitStatus> for ExitStatus {
    fn from(status: wit::ExitStatus) -> Self {
        let (code, signal) = match status.termination {
            wit::Termination::Exited(code) => (Some(code), None),
            wit::Termination::Signalled(signal) => (None, Some(signal)),
        };
        ExitStatus {
            code,
            signal,
            duration: Duration::from_nanos(status.duration),
            timed_out: status.timed_out,
            output_truncated: status.output_truncated,
            usage: Usage {
                user_cpu: Duration::from_nanos(status.usage.user_cpu),
                system_cpu: Duration::from_nanos(status.usage.system_cpu),
                max_rss_bytes: status.usage.max_rss_bytes,
            },
            tree_usage: status.tree_usage.map(|tree| TreeUsage {
                user_cpu: Duration::from_nanos(tree.user_cpu),
                system_cpu: Duration::from_nanos(tree.system_cpu),
                peak_memory_bytes: tree.peak_memory_bytes,
            }),
        }
    }
}

/// A finished child and everything it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// How it ended.
    pub status: ExitStatus,
    /// Everything it wrote to stdout (empty unless piped).
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr (empty unless piped).
    pub stderr: Vec<u8>,
}

impl Output {
    /// Stdout as text; invalid UTF-8 is an error.
    ///
    /// # Errors
    /// [`crate::Error::Decode`] if stdout is not UTF-8.
    pub fn stdout_text(&self) -> Result<String, crate::Error> {
        String::from_utf8(self.stdout.clone()).map_err(|e| crate::Error::Decode(format!("stdout is not UTF-8: {e}")))
    }

    /// Stdout as text without leading and trailing white space (invalid
    /// UTF-8 replaced), as `$(command)` gives it in a shell.
    pub fn stdout_trimmed(&self) -> String {
        self.stdout_lossy().trim().to_string()
    }

    /// Stdout parsed as JSON into `T`.
    ///
    /// # Errors
    /// [`crate::Error::Decode`] naming where the JSON went wrong.
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, crate::Error> {
        serde_json::from_slice(&self.stdout)
            .map_err(|e| crate::Error::Decode(format!("stdout is not the JSON expected: {e}")))
    }

    /// Stdout as text, with invalid UTF-8 replaced by U+FFFD.
    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// Stderr as text, with invalid UTF-8 replaced by U+FFFD.
    pub fn stderr_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::ExitStatus;

    /// The success rule of `wit/process.wit`: exited(0), not timed out, not
    /// truncated.
    #[test]
    fn success_is_exit_0_without_timeout_or_truncation() {
        let timed_out = ExitStatus {
            timed_out: true,
            ..ExitStatus::exited(0)
        };
        let truncated = ExitStatus {
            output_truncated: true,
            ..ExitStatus::exited(0)
        };
        let cases = [
            (ExitStatus::exited(0), true),
            (ExitStatus::exited(1), false),
            (ExitStatus::exited(-1), false),
            (ExitStatus::signalled(9), false),
            (ExitStatus::signalled(13), false),
            (timed_out, false),
            (truncated, false),
        ];
        for (status, success) in cases {
            assert_eq!(status.success(), success, "{status:?}");
        }
    }
}
