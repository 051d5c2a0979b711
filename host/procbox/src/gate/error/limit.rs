//! Which limit a request reached: [`Exceeded`], the payload of
//! [`SpawnError::LimitExceeded`](super::SpawnError::LimitExceeded).

use std::fmt;

/// A limit reached, and the request that reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exceeded {
    /// The command line that was to be started, when the limit is on
    /// starting children (not on handles).
    pub command: Option<String>,
    /// The limit, with its number.
    pub limit: Limit,
}

impl Exceeded {
    /// `limit`, reached by starting `command`.
    pub fn starting(command: impl Into<String>, limit: Limit) -> Self {
        Exceeded {
            command: Some(command.into()),
            limit,
        }
    }

    /// `limit`, reached with no command to name.
    pub fn plain(limit: Limit) -> Self {
        Exceeded { command: None, limit }
    }
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.command {
            Some(command) => write!(f, "{command}: {}", self.limit),
            None => write!(f, "{}", self.limit),
        }
    }
}

impl std::error::Error for Exceeded {}

/// A limit of the policy (or of the plugin's store) that a request can
/// reach, by its key in the one schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Limit {
    /// `max-children`: children running at once.
    #[error("{max} children are already running, the most this policy allows at once (max-children)")]
    Children {
        /// The limit.
        max: usize,
    },
    /// `max-spawns`: children started in one run.
    #[error("the plugin already started {max} children, the most this policy allows in one run (max-spawns)")]
    Spawns {
        /// The limit.
        max: u64,
    },
    /// `max-processes`: processes in the run's tree at once (the kernel's
    /// cgroup refused another).
    #[error("the tree of children already has as many processes as `max-processes` allows")]
    Processes,
    /// `max-handles`: handles the plugin holds at once.
    #[error("the plugin holds {max} handles, the most it may (max-handles)")]
    Handles {
        /// The limit.
        max: usize,
    },
}
