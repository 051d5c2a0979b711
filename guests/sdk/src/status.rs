//! How a child ended and what it printed.

use std::fmt;
use std::time::Duration;

use crate::bindings::procbox::host::process as wit;

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
}

impl ExitStatus {
    /// True for exit code 0, without a timeout or truncated output.
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
