//! Compiles the test plugins and exposes each `.wasm` path as a constant.

/// Every guest the tests run. A plugin in `guests/plugins/` that is not
/// listed here has no test: list it.
const GUESTS: &[(&str, &str)] = &[("SCENARIOS", "scenarios"), ("BENCH", "bench")];

fn main() {
    let packages: Vec<&str> = GUESTS.iter().map(|(_, package)| *package).collect();
    let paths = procbox_guest_build::build(&packages);
    let mut consts = String::new();
    for ((name, _), path) in GUESTS.iter().zip(paths) {
        consts.push_str(&format!("pub const {name}: &str = {:?};\n", path.display().to_string()));
    }
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("guests.rs"), consts).expect("write guests.rs");
}
