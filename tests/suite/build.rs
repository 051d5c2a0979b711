//! Compiles the Rust guests the tests run and exposes each `.wasm` path as a
//! constant in `procbox_tests::guests`, and fails the build when a guest, in
//! any of the three languages, has no test.
//!
//! The Rust guests are the packages of the workspace `guests/rust` but the
//! SDK: the examples (`guests/rust/examples/`, the demo among them), the
//! benchmark plugin (`guests/rust/bench`) and the tests' fixtures
//! (`tests/fixtures/rust/`). Two kinds:
//! - one plugin per package, listed in [`PACKAGES`];
//! - the scenario guests: every
//!   `tests/fixtures/rust/scenarios/src/bin/NAME.rs` is one small plugin
//!   that checks one scenario, found here by itself and named
//!   `guests::NAME` in capitals (`drop-kills` is `DROP_KILLS`).
//!
//! Every constant must be used, as `guests::NAME`, by a test in
//! `tests/suite/tests/` (or below it), and every package must be built
//! here. The Python and JavaScript plugins are built by the tests
//! themselves (`src/language.rs`); each directory of their examples
//! (`guests/python/examples/`, `guests/js/examples/`) and fixtures
//! (`tests/fixtures/python/`, `tests/fixtures/js/`) must be named by a test
//! as `PYTHON.plugin(&CELL, "NAME")` or `JAVASCRIPT.plugin(&CELL, "NAME")`.
//! Otherwise the build fails and says which.

use std::path::{Path, PathBuf};

/// The Rust plugins the tests run, by package. A package of the Rust
/// guests that is not listed here has no test: list it.
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
    // The embedding example runs the demo.
    ("DEMO", "procbox-demo"),
];

/// The fixture package whose every binary is one scenario guest.
const SCENARIOS: &str = "scenarios";

/// The package every other Rust guest uses; it is not a plugin.
const SDK: &str = "procbox-sdk";

/// The Python and JavaScript plugins' directories, each with the
/// `Language` of `src/language.rs` that builds them.
const SCRIPTED: &[(&str, &str)] = &[
    ("guests/python/examples", "PYTHON"),
    ("tests/fixtures/python", "PYTHON"),
    ("guests/js/examples", "JAVASCRIPT"),
    ("tests/fixtures/js", "JAVASCRIPT"),
];

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fixtures = repo.join("tests/fixtures/rust");
    // guests/rust (examples, bench, the SDK) is watched by the guest build.
    println!("cargo:rerun-if-changed={}", fixtures.display());
    require_every_package_built(&repo);
    let scenarios = scenario_guests(&fixtures.join(SCENARIOS).join("src/bin"));

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

    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    println!("cargo:rerun-if-changed={}", tests.display());
    let mut sources = String::new();
    read_sources(&tests, &mut sources);
    require_a_test_for_every_guest(&guests, &sources);
    require_a_test_for_every_scripted_plugin(&repo, &sources);

    let mut consts = String::new();
    for (name, path) in &guests {
        consts.push_str(&format!("pub const {name}: &str = {:?};\n", path.display().to_string()));
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("guests.rs"), consts).expect("write guests.rs");
}

/// A package of the Rust guests (other than the SDK) that is not built
/// here fails the build.
fn require_every_package_built(repo: &Path) {
    for dir in rust_packages(repo) {
        let name = package_name(&dir);
        if name != SDK && name != SCENARIOS && !PACKAGES.iter().any(|(_, package)| *package == name) {
            panic!(
                "{} (package {name}) has no test: add it to PACKAGES in tests/suite/build.rs and run it from a test",
                dir.strip_prefix(repo).unwrap_or(&dir).display()
            );
        }
    }
}

/// The directories of the Rust guests' packages: those directly in
/// `guests/rust` and in `guests/rust/examples`, and the fixtures in
/// `tests/fixtures/rust` (the members of `guests/rust/Cargo.toml`).
fn rust_packages(repo: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for parent in ["guests/rust", "guests/rust/examples", "tests/fixtures/rust"] {
        dirs.extend(
            subdirectories(&repo.join(parent))
                .into_iter()
                .filter(|dir| dir.join("Cargo.toml").is_file()),
        );
    }
    dirs
}

/// The directories in `dir`, sorted.
fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The `name` of the package whose manifest is in `dir`.
fn package_name(dir: &Path) -> String {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    text.lines()
        .find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "name").then(|| value.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| panic!("{} names no package", manifest.display()))
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

/// A Rust guest that no test names as `guests::NAME` fails the build.
fn require_a_test_for_every_guest(guests: &[(String, PathBuf)], sources: &str) {
    let untested: Vec<&str> = guests
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| !names_guest(sources, name))
        .collect();
    if !untested.is_empty() {
        panic!(
            "no test in tests/suite/tests/ runs these guests: {}; use each as `guests::NAME` in a test, or delete the guest",
            untested.join(", ")
        );
    }
}

/// A Python or JavaScript plugin that no test builds, as
/// `LANGUAGE.plugin(&CELL, "NAME")`, fails the build.
fn require_a_test_for_every_scripted_plugin(repo: &Path, sources: &str) {
    let mut untested = Vec::new();
    for (dir, language) in SCRIPTED {
        println!("cargo:rerun-if-changed={}", repo.join(dir).display());
        for plugin in subdirectories(&repo.join(dir)) {
            let name = plugin.file_name().expect("a directory name").to_string_lossy();
            if !builds_plugin(sources, language, &name) {
                untested.push(format!("{dir}/{name}"));
            }
        }
    }
    if !untested.is_empty() {
        panic!(
            "no test in tests/suite/tests/ builds these plugins: {}; build each with `PYTHON.plugin(&CELL, \"NAME\")` or `JAVASCRIPT.plugin(&CELL, \"NAME\")` in a test, or delete it",
            untested.join(", ")
        );
    }
}

/// Whether `sources` call `LANGUAGE.plugin(...)` with the argument `"NAME"`.
fn builds_plugin(sources: &str, language: &str, name: &str) -> bool {
    let call = format!("{language}.plugin(");
    let argument = format!("\"{name}\"");
    sources.match_indices(&call).any(|(at, _)| {
        let rest = &sources[at + call.len()..];
        let args = &rest[..rest.find(')').unwrap_or(rest.len())];
        args.contains(&argument)
    })
}

/// Appends every `.rs` file below `dir` (an area's modules sit in a
/// directory named after it) to `sources`.
fn read_sources(dir: &Path, sources: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
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
