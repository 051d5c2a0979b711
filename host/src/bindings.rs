//! The one `bindgen!` of the host: Rust types for `wit/process.wit`.
//!
//! WASI types come from wasmtime-wasi, so the child's streams and pollables
//! are the very same resources as every other `wasi:io` stream, and the
//! `child` resource maps to our own [`crate::child::Child`].

wasmtime::component::bindgen!({
    path: "../wit",
    world: "procbox:host/plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:cli": wasmtime_wasi::p2::bindings::cli,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:filesystem": wasmtime_wasi::p2::bindings::filesystem,
        "wasi:random": wasmtime_wasi::p2::bindings::random,
        "wasi:sockets": wasmtime_wasi::p2::bindings::sockets,
        "procbox:host/process.child": crate::child::Child,
    },
});

pub use self::procbox::host::process;
