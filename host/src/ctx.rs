//! Per-plugin state for the process interface, and how it is linked.
//!
//! Host functions are implemented on the small [`ProcessView`] (the gate
//! plus the resource table), never on an embedder's store type; the
//! [`ProcessHost`] marker wires that view into a [`Linker`].

use std::sync::{Arc, Mutex};

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::WasiView;

use crate::bindings::process;
use crate::error::SpawnError;
use crate::gate::{Gate, Permit, SpawnRequest};
use crate::observe::SpawnHook;
use crate::supervisor::ExitWaiter;

/// The process-related state of one plugin instance.
pub struct ProcessCtx {
    pub(crate) gate: Gate,
    pub(crate) hooks: Vec<Arc<dyn SpawnHook>>,
    pub(crate) exits: ExitRegistry,
}

impl ProcessCtx {
    /// State whose every spawn goes through `gate`, reported to `hooks`.
    pub fn new(gate: Gate, hooks: Vec<Arc<dyn SpawnHook>>) -> Self {
        ProcessCtx {
            gate,
            hooks,
            exits: ExitRegistry::default(),
        }
    }

    /// Reports the gate's `verdict` to every hook; a hook may still refuse
    /// an allowed request.
    ///
    /// # Errors
    /// The gate's error, or a denial naming the hook's reason.
    pub fn decide(&self, request: &SpawnRequest, verdict: Result<Permit, SpawnError>) -> Result<Permit, SpawnError> {
        for hook in &self.hooks {
            if let Err(reason) = hook.on_decision(request, verdict.as_ref()) {
                if let Ok(permit) = &verdict {
                    return Err(SpawnError::Denied(format!(
                        "{}: refused by the host application: {reason}",
                        permit.command_line()
                    )));
                }
            }
        }
        verdict
    }

    /// The children this plugin started that have not been reaped yet,
    /// shared so that whoever ends the plugin can wait for their reaping.
    pub fn exits(&self) -> ExitRegistry {
        self.exits.clone()
    }
}

/// The unreaped children of one plugin.
#[derive(Debug, Clone, Default)]
pub struct ExitRegistry(Arc<Mutex<Vec<ExitWaiter>>>);

impl ExitRegistry {
    /// Remembers a new child, forgetting those already reaped.
    pub fn register(&self, waiter: ExitWaiter) {
        let mut waiters = self.0.lock().unwrap_or_else(|e| e.into_inner());
        waiters.retain(|w| !w.is_reaped());
        waiters.push(waiter);
    }

    /// Takes all remembered children.
    pub fn take(&self) -> Vec<ExitWaiter> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// What the process host functions operate on.
pub struct ProcessView<'a> {
    /// The plugin's process state.
    pub ctx: &'a mut ProcessCtx,
    /// The plugin's resource table, shared with WASI.
    pub table: &'a mut ResourceTable,
}

/// A store type that can host procbox plugins: it provides WASI and the
/// process interface over one shared resource table.
pub trait ProcboxView: WasiView {
    /// The process state and the resource table.
    fn procbox(&mut self) -> ProcessView<'_>;
}

/// Marker that maps a store type to its [`ProcessView`].
pub struct ProcessHost;

impl HasData for ProcessHost {
    type Data<'a> = ProcessView<'a>;
}

/// Adds WASI and `procbox:host/process` to `linker`.
///
/// # Errors
/// If an import is already defined in `linker`.
pub fn add_to_linker<T: ProcboxView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    process::add_to_linker::<T, ProcessHost>(linker, T::procbox)
}
