//! Compiles the test plugins and exposes each `.wasm` path as a constant in
//! `procbox_tests::guests`, and fails the build when a guest has no test.
//!
//! Two kinds of guests:
//! - the example plugins (and the demo), one package each, listed in
//!   [`PACKAGES`];
//! - the scenario guests: every `guests/plugins/scenarios/src/bin/NAME.rs`
//!   is one small plugin that checks one scenario, found here by itself and
//!   named `guests::NAME` in capitals (`drop-kills` is `DROP_KILLS`).
//!
//! Every constant must be used, as `guests::NAME`, by a test in
//! `tests/tests/` (or below it), and every directory in `guests/plugins/` must be built
//! here; otherwise the build fails and says which.

use std::path::{Path, PathBuf};

/// The example plugins the tests run, by package. A plugin in
/// `guests/plugins/` that is not listed here has no test: list it.
const PACKAGES: &[(&str, &str)] = &[
    ("BENCH", "bench"),
    ("SYSINFO", "sysinfo"),
    ("PS_TOP", "ps-top"),
    ("SORT_BIG", "sort-big"),
    ("REDIRECT_LOG", "redirect-log"),
    ("REPO_REPORT", "repo-report"),
    ("LOG_WATCHER", "log-watcher"),
    ("CHECKSUMS", "checksums"),
    ("FASTEST", "fastest"),
    ("RECENT", "recent"),
    // The demo is not in guests/plugins: the embedding example runs it.
    ("DEMO", "procbox-demo"),
];

/// The package whose every binary is one scenario guest.
const SCENARIOS: &str = "scenarios";

fn main() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plugins = manifest_dir.join("../guests/plugins");
    require_every_plugin_built(&plugins);
    let scenarios = scenario_guests(&plugins.join(SCENARIOS).join("src/bin"));

    let mut packages: Vec<&str> = PACKAGES.iter().map(|(_, package)| *package).collect();
    packages.push(SCENARIOS);
    let paths = procbox_guest_build::build(&packages);
    let out_dir = paths[0].parent().expect("the guests' output directory").to_path_buf();
    let mut guests: Vec<(String, PathBuf)> = PACKAGES
        .iter()
        .zip(paths)
        .map(|((name, _), path)| (name.to_string(), path))
        .collect();
    guests.extend(
        scenarios
            .iter()
            .map(|bin| (constant_name(bin), out_dir.join(format!("{bin}.wasm")))),
    );

    let tests = manifest_dir.join("tests");
    println!("cargo:rerun-if-changed={}", tests.display());
    require_a_test_for_every_guest(&guests, &tests);

    let mut consts = String::new();
    for (name, path) in &guests {
        consts.push_str(&format!("pub const {name}: &str = {:?};\n", path.display().to_string()));
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("guests.rs"), consts).expect("write guests.rs");
}

/// A plugin in `guests/plugins/` that is not built here fails the build.
fn require_every_plugin_built(plugins: &Path) {
    for entry in std::fs::read_dir(plugins).expect("guests/plugins") {
        let name = entry
            .expect("a directory entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name != SCENARIOS && !PACKAGES.iter().any(|(_, package)| *package == name) {
            panic!("guests/plugins/{name} has no test: add it to PACKAGES in tests/build.rs and run it from a test");
        }
    }
}

/// The names of the scenario guests: the files in `src/bin` of the
/// scenarios package, sorted.
fn scenario_guests(bin_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(bin_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", bin_dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| path.file_stem().expect("a file name").to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `drop-kills` → `DROP_KILLS`.
fn constant_name(bin: &str) -> String {
    bin.replace('-', "_").to_uppercase()
}

/// A guest that no file in `tests/tests/` names as `guests::NAME` fails the
/// build.
fn require_a_test_for_every_guest(guests: &[(String, PathBuf)], tests: &Path) {
    let mut sources = String::new();
    read_sources(tests, &mut sources);
    let untested: Vec<&str> = guests
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| !names_guest(&sources, name))
        .collect();
    if !untested.is_empty() {
        panic!(
            "no test in tests/tests/ runs these guests: {}; use each as `guests::NAME` in a test, or delete the guest",
            untested.join(", ")
        );
    }
}

/// Appends every `.rs` file below `dir` (an area's modules sit in a
/// directory named after it) to `sources`.
fn read_sources(dir: &Path, sources: &mut String) {
    for entry in std::fs::read_dir(dir).expect("tests/tests") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            read_sources(&path, sources);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            sources.push_str(&std::fs::read_to_string(&path).expect("read a test file"));
        }
    }
}

/// Whether `sources` mention `guests::NAME` as a whole word.
fn names_guest(sources: &str, name: &str) -> bool {
    let needle = format!("guests::{name}");
    sources.match_indices(&needle).any(|(at, _)| {
        let next = sources[at + needle.len()..].chars().next();
        !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}
