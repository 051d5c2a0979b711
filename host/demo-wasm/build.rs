//! Builds the demo plugin (`guests/rust/examples/demo`) for wasm32-wasip2,
//! so that `src/lib.rs` can embed it and `procbox demo` needs nothing else.

fn main() {
    let wasm = procbox_guest_build::build(&["procbox-demo"]);
    println!("cargo:rustc-env=PROCBOX_DEMO_WASM={}", wasm[0].display());
}
