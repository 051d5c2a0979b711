//! What one run gets ([`RunOptions`]) and how it ended ([`Outcome`]).

use std::sync::Arc;

use wasmtime_wasi::WasiCtxBuilder;

use crate::policy::Policy;
use crate::spawn::hooks::{Authorizer, Escalation, Observer};
use crate::spawn::spawner::Hooks;

/// What one run of a plugin gets. Start from [`RunOptions::new`] and add
/// to it; the defaults are the safe ones:
/// - no arguments;
/// - no hooks: the policy alone decides, and nothing is logged;
/// - the plugin's own stdout and stderr are procbox's; it gets only the
///   directories, network and variables its policy grants it.
#[derive(Clone)]
#[non_exhaustive]
pub struct RunOptions {
    /// The policy every spawn is checked against.
    pub policy: Arc<Policy>,
    /// The plugin's arguments, after its name.
    pub args: Vec<String>,
    /// The hooks of the run's [`crate::Spawner`].
    pub hooks: Hooks,
    /// Shapes the plugin's own WASI context after procbox has set it up.
    pub wasi: Option<Arc<WasiSetup>>,
}

/// Changes the plugin's own WASI context: capture its stdout or stderr,
/// add a preopened directory, set a variable. What is given here is the
/// plugin's alone: it grants nothing to the processes the plugin starts.
pub type WasiSetup = dyn Fn(&mut WasiCtxBuilder) + Send + Sync;

impl RunOptions {
    /// Options with `policy`, no arguments and no hooks.
    pub fn new(policy: Arc<Policy>) -> Self {
        RunOptions {
            policy,
            args: Vec::new(),
            hooks: Hooks::default(),
            wasi: None,
        }
    }

    /// Passes `args` to the plugin, after its name.
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an authorizer, asked after those added before it.
    pub fn authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.hooks.authorizers.push(authorizer);
        self
    }

    /// Sets the escalation hook (there is at most one).
    pub fn escalation(mut self, escalation: Arc<dyn Escalation>) -> Self {
        self.hooks.escalation = Some(escalation);
        self
    }

    /// Adds an observer.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.hooks.observers.push(observer);
        self
    }

    /// Sets how the denials the plugin gets write their fix (default: as a
    /// grants-file line); the `procbox` command line writes flags.
    pub fn fix_style(mut self, style: Arc<dyn crate::gate::fix::FixStyle>) -> Self {
        self.hooks.fix_style = Some(style);
        self
    }

    /// Shapes the plugin's WASI context; see [`WasiSetup`]. What it adds
    /// (preopened directories, say) is the plugin's alone: children are
    /// confined by the policy (`allow_read`, `allow_write`), never by this.
    pub fn wasi(mut self, setup: impl Fn(&mut WasiCtxBuilder) + Send + Sync + 'static) -> Self {
        self.wasi = Some(Arc::new(setup));
        self
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The plugin returned or exited with this code.
    Exited(i32),
    /// The run was stopped from outside with this code (e.g. 130 after SIGINT).
    Stopped(i32),
}
