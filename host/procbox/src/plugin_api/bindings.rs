//! The one `bindgen!` of the host: Rust types for `wit/process.wit`.
//!
//! WASI types come from wasmtime-wasi, so the child's streams and pollables
//! are the very same resources as every other `wasi:io` stream, and the
//! `child` resource maps to our own [`crate::plugin_api::child::Child`].

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "procbox:host/plugin@0.2.1",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:cli": wasmtime_wasi::p2::bindings::cli,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:filesystem": wasmtime_wasi::p2::bindings::filesystem,
        "wasi:random": wasmtime_wasi::p2::bindings::random,
        "wasi:sockets": wasmtime_wasi::p2::bindings::sockets,
        "procbox:host/process@0.2.1.child": crate::plugin_api::child::Child,
    },
});

pub use self::procbox::host0_2_1::process;

/// `procbox:host@0.1.0`, still served beside 0.2.x: plugins built against
/// it keep running (`host/v0_1.rs` adapts each call).
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "procbox:host/imports@0.1.0",
        imports: { default: async | trappable },
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:cli": wasmtime_wasi::p2::bindings::cli,
            "procbox:host/process@0.1.0.child": crate::plugin_api::child::Child,
        },
    });

    pub use self::procbox::host0_1_0::process;
}
