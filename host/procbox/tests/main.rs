//! The library's integration tests, in one test binary (`cargo test -p
//! procbox --test library`), one module per area: the gate against escape
//! attempts with real files, the spawn path with real processes and no
//! wasm, property tests of the parsers, the compile cache, and the spawn
//! races. The race loop sits in `races::stress` and runs its full count
//! with `PROCBOX_STRESS=1` (see [`stress`]).

// The 80-line bound on functions (clippy.toml) is for the host's code; a
// test may read top to bottom as one scenario.
#![allow(clippy::too_many_lines)]

mod adversarial;
mod cache;
mod fuzz_policy;
mod races;
mod spawner;

/// How many times a stress loop goes round: `full` when
/// `PROCBOX_STRESS=1`, which `.ci/run` sets for one step of its own, and
/// `quick` otherwise. The end-to-end tests have the same function
/// (`procbox_tests::stress`, which this crate cannot depend on: that
/// crate depends on this one); the rules are there.
fn stress(full: usize, quick: usize) -> usize {
    if std::env::var_os("PROCBOX_STRESS").is_some_and(|v| v == "1") {
        full
    } else {
        quick
    }
}
