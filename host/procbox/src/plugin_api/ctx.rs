//! Per-plugin state for the process interface, and how it is linked, named
//! as wasmtime-wasi names its own: [`ProcessCtx`] is the state,
//! [`ProcessCtxView`] the state plus the resource table that host functions
//! operate on, and [`ProcessView`] the trait an embedder's store type
//! implements to hand out that view.

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::WasiView;

use crate::plugin_api::bindings::process;
use crate::spawn::spawner::{ExitRegistry, Spawner};

/// The process-related state of one plugin instance.
pub struct ProcessCtx {
    pub(crate) spawner: Spawner,
}

impl ProcessCtx {
    /// State whose every spawn goes through `spawner`.
    pub fn new(spawner: Spawner) -> Self {
        ProcessCtx { spawner }
    }

    /// The children this plugin started that have not been reaped yet,
    /// shared so that whoever ends the plugin can wait for their reaping.
    pub fn exits(&self) -> ExitRegistry {
        self.spawner.exits()
    }
}

/// What the process host functions operate on.
pub struct ProcessCtxView<'a> {
    /// The plugin's process state.
    pub ctx: &'a mut ProcessCtx,
    /// The plugin's resource table, shared with WASI.
    pub table: &'a mut ResourceTable,
}

/// A store type that can host `procbox:host/process`.
pub trait ProcessView: Send {
    /// The process state and the resource table (the same table WASI uses,
    /// so a child's streams are ordinary `wasi:io` streams).
    fn process(&mut self) -> ProcessCtxView<'_>;
}

/// Marker that maps a store type to its [`ProcessCtxView`].
pub struct ProcessHost;

impl HasData for ProcessHost {
    type Data<'a> = ProcessCtxView<'a>;
}

/// Adds `procbox:host/process` (only) to `linker`.
///
/// # Errors
/// If an import is already defined in `linker`.
pub fn add_to_linker<T: ProcessView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    process::add_to_linker::<T, ProcessHost>(linker, T::process)?;
    crate::plugin_api::bindings::v0_1::process::add_to_linker::<T, ProcessHost>(linker, T::process)
}

/// Adds WASI (`wasi:cli`, `wasi:io`, `wasi:filesystem`, ...) and
/// `procbox:host/process` to `linker`: everything a procbox plugin imports.
///
/// # Errors
/// If an import is already defined in `linker`.
pub fn add_to_linker_with_wasi<T: WasiView + ProcessView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    add_to_linker(linker)
}
