//! Embeds the demo plugin (`guests/demo`) in the `procbox` binary, so that
//! `procbox demo` needs nothing else. Without the `demo` feature nothing is
//! built here, so embedders need no wasm toolchain.

fn main() {
    if std::env::var_os("CARGO_FEATURE_DEMO").is_none() {
        return;
    }
    let wasm = procbox_guest_build::build(&["procbox-demo"]);
    println!("cargo:rustc-env=PROCBOX_DEMO_WASM={}", wasm[0].display());
}
