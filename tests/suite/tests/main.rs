//! procbox end to end: real guests, real processes, the real kernel, in one
//! test binary (`cargo test -p procbox-tests --test end_to_end`), one module
//! per area. One binary links wasmtime once instead of once per area, and
//! its tests share the cores instead of waiting for each area's slowest.
//!
//! Run one area with a filter: `cargo test -p procbox-tests --test
//! end_to_end containment::`. The stress loops (kill storms, zombie churn)
//! sit in a module `stress` of their area, run a quick count by default,
//! and run their full counts with `PROCBOX_STRESS=1`: `PROCBOX_STRESS=1
//! cargo test -p procbox-tests --test end_to_end stress::` (see
//! `procbox_tests::stress`).

// The 80-line bound on functions (clippy.toml) is for the host's code; a
// test may read top to bottom as one scenario.
#![allow(clippy::too_many_lines)]

mod bench_plugin;
mod broker;
mod cli;
mod composition;
mod confinement;
mod containment;
mod docs;
mod doctor;
mod embed;
mod examples;
mod fleet_files;
mod gaps;
mod hardening;
mod js_plugin;
mod launcher;
mod layers;
mod leftovers;
mod lifecycle;
mod many_runs;
mod permissions;
mod policy;
mod protected;
mod python_plugin;
mod python_subprocess;
mod scaffold;
mod schema;
mod sizes;
mod spawn_and_stream;
mod warnings;
mod worker;
