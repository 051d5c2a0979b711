//! Compiles the test plugins and exposes each `.wasm` path as a constant.

/// Every guest the tests run. A plugin in `guests/plugins/` that is not
/// listed here has no test: list it.
const GUESTS: &[(&str, &str)] = &[
    ("SCENARIOS", "scenarios"),
    ("BENCH", "bench"),
    ("SYSINFO", "sysinfo"),
    ("PS_TOP", "ps-top"),
    ("SORT_BIG", "sort-big"),
    ("REDIRECT_LOG", "redirect-log"),
    ("REPO_REPORT", "repo-report"),
    ("LOG_WATCHER", "log-watcher"),
    ("CHECKSUMS", "checksums"),
    ("FASTEST", "fastest"),
    // The demo is not in guests/plugins: the embedding example runs it.
    ("DEMO", "procbox-demo"),
];

fn main() {
    require_a_test_for_every_plugin();
    let packages: Vec<&str> = GUESTS.iter().map(|(_, package)| *package).collect();
    let paths = procbox_guest_build::build(&packages);
    let mut consts = String::new();
    for ((name, _), path) in GUESTS.iter().zip(paths) {
        consts.push_str(&format!("pub const {name}: &str = {:?};\n", path.display().to_string()));
    }
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("guests.rs"), consts).expect("write guests.rs");
}

/// A plugin in `guests/plugins/` that no test runs fails the build.
fn require_a_test_for_every_plugin() {
    let plugins = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../guests/plugins");
    for entry in std::fs::read_dir(&plugins).expect("guests/plugins") {
        let name = entry
            .expect("a directory entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !GUESTS.iter().any(|(_, package)| *package == name) {
            panic!("guests/plugins/{name} has no test: add it to GUESTS in tests/build.rs and run it from a test");
        }
    }
}
