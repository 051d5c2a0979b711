//! The library's integration tests, in one test binary (`cargo test -p
//! procbox --test library`), one module per area: the gate against escape
//! attempts with real files, the spawn path with real processes and no
//! wasm, property tests of the parsers, the compile cache, and the spawn
//! races. The race loop runs its full count with `PROCBOX_STRESS=1`.

mod adversarial;
mod cache;
mod fuzz_policy;
mod races;
mod spawner;
