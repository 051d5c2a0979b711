//! Why a plugin could not be loaded or run, each in one line a user can act
//! on.

use std::time::Duration;

/// A plugin that cannot be loaded. Each message says what is wrong and what
/// to do; `name` is the plugin as the caller named it (usually its path).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
#[allow(missing_docs)] // the fields are the message's parts, named as it uses them
pub enum LoadError {
    /// The file cannot be read.
    #[error("cannot read plugin {name}: {source}")]
    Read { name: String, source: std::io::Error },
    /// Not WebAssembly at all.
    #[error("{name} is not a WebAssembly file (it does not start with the \\0asm magic bytes)")]
    NotWasm { name: String },
    /// A core module rather than a component.
    #[error("{name} is a core WebAssembly module, not a component: build the plugin for the wasm32-wasip2 target")]
    CoreModule { name: String },
    /// wasmtime refused it.
    #[error("{name} is not a valid WebAssembly component: {reason}")]
    Invalid { name: String, reason: String },
    /// A component, but not of the `procbox:host/plugin` world.
    #[error("{name} is not a procbox plugin (world procbox:host/plugin, 0.1.0 to 0.2.1): {reason}")]
    WrongWorld { name: String, reason: String },
}

/// Why a component is not a procbox plugin ([`crate::Description::fits`]):
/// what keeps it from the `procbox:host/plugin` world, without its name.
#[derive(Debug)]
pub struct Misfit {
    /// The error loading it as a plugin gave.
    pub error: LoadError,
}

impl std::fmt::Display for Misfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            LoadError::WrongWorld { reason, .. } => f.write_str(reason),
            other => other.fmt(f),
        }
    }
}

impl std::error::Error for Misfit {}

/// A plugin that failed while running; `name` is the plugin as loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
#[allow(missing_docs)] // the fields are the message's parts, named as it uses them
pub enum RunError {
    /// Instantiation failed (e.g. a directory it was granted cannot be opened).
    #[error("plugin {name} could not start: {reason}")]
    Instantiate { name: String, reason: String },
    /// The kernel cannot confine or contain children as the policy
    /// requires (`--confine=require`, `--contain=require`); nothing was
    /// started.
    #[error("plugin {name} was not run: {reason}")]
    Unconfinable { name: String, reason: String },
    /// The escalation hook could not decide (a permission broker that
    /// failed): the plugin was stopped and its children killed.
    #[error("plugin {name} was stopped: {reason}; its children were killed")]
    Aborted { name: String, reason: String },
    /// The plugin trapped; `reason` is one line naming the plugin's function.
    #[error("plugin {name} trapped: {reason}")]
    Trap { name: String, reason: String },
    /// `--max-plugin-time` ran out.
    #[error(
        "plugin {name} ran out of its time budget of {} (`max-plugin-time`); it was stopped and its children were killed",
        humantime::format_duration(*budget)
    )]
    OutOfTime { name: String, budget: Duration },
    /// The plugin tried to grow its memories and tables past
    /// `--max-plugin-memory` together, or to make more instances, memories
    /// or tables than a plugin may.
    #[error(
        "plugin {name} tried to grow its memory past its cap of {} MiB (`max-plugin-memory`); it was stopped and its children were killed",
        cap >> 20
    )]
    OutOfMemory { name: String, cap: u64 },
}

/// A trap in one line: its root cause, and the innermost function of the
/// plugin's own code it happened in, e.g. `unknown handle index 77 (in
/// scenarios::forge_handle)`.
pub(super) fn trap_reason(error: &wasmtime::Error) -> String {
    let cause = error.root_cause().to_string();
    let cause = cause.split_whitespace().collect::<Vec<_>>().join(" ");
    let function = error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .into_iter()
        .flat_map(|trace| trace.frames())
        .filter_map(|frame| frame.func_name())
        .map(|name| without_symbol_hash(&format!("{:#}", rustc_demangle::demangle(name))).to_string())
        .find(|name| !is_runtime_code(name));
    match function {
        Some(function) => format!("{cause} (in {function})"),
        None => cause,
    }
}

/// Whether the function `name` belongs to the language's runtime (Rust's
/// standard library, the start and panic machinery) rather than the plugin.
fn is_runtime_code(name: &str) -> bool {
    let krate = name.split("::").next().unwrap_or(name);
    let krate = krate.split('[').next().unwrap_or(krate);
    matches!(krate, "std" | "core" | "alloc" | "panic_abort" | "panic_unwind") || name.starts_with(['_', '<'])
}

/// `scenarios::main::heb8ff38b950ce567` without its `::h…` hash.
fn without_symbol_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((path, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => path,
        _ => name,
    }
}
