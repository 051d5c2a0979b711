//! Compiles the bench plugin and tells the harness where it is, and which
//! compiler built it (for the machine notes it prints).

fn main() {
    let paths = procbox_guest_build::build(&["bench"]);
    println!("cargo:rustc-env=PROCBOX_BENCH_WASM={}", paths[0].display());
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PROCBOX_BENCH_RUSTC={version}");
}
