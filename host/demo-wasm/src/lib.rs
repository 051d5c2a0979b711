//! The demo plugin (`guests/rust/examples/demo`), built for `wasm32-wasip2`
//! by this crate's build script and embedded here. The `procbox` command
//! line runs it for `procbox demo`; the library's cache tests and its
//! embedding example load it. The library itself does not depend on this crate, so
//! embedders need no wasm toolchain.

/// The demo plugin's component bytes.
pub const DEMO_WASM: &[u8] = include_bytes!(env!("PROCBOX_DEMO_WASM"));
