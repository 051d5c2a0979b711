//! `procbox demo`: the bundled plugin (built from `guests/rust/examples/demo`
//! into the binary), run under exactly the grants it needs.

use crate::failure::Failure;

/// The demo's grants: exactly the programs the bundled plugin uses.
#[cfg(feature = "demo")]
const DEMO_GRANTS: &[&str] = &["echo", "cat", "grep", "tee"];

#[cfg(feature = "demo")]
pub async fn demo(verbose: bool) -> Result<u8, Failure> {
    use std::sync::Arc;

    use anyhow::Context;
    use procbox::{PolicyBuilder, RunOptions, VerboseLog};
    use procbox_demo_wasm::DEMO_WASM;

    use crate::{execute, fixes, output, runtime, FIRST_RUN};
    let policy = DEMO_GRANTS
        .iter()
        .fold(PolicyBuilder::new(), |builder, program| builder.allow_run(program))
        .build()
        .context("the demo needs echo, cat, grep and tee on PATH")
        .map_err(|e| Failure::procbox(e).with_hint("install coreutils and grep, or put them on PATH"))?;
    let granted: Vec<String> = policy
        .grants()
        .allow_rules()
        .iter()
        .map(|r| r.path.display().to_string())
        .collect();
    output::emit(&format!(
        "procbox demo: the bundled plugin may run only {}\n",
        granted.join(", ")
    ))?;
    let runtime = runtime(false, FIRST_RUN)?;
    let plugin = runtime.load_bytes("demo.wasm", DEMO_WASM)?;
    let mut options = RunOptions::new(Arc::new(policy)).fix_style(Arc::new(fixes::Flags));
    if verbose {
        options = options.observer(Arc::new(VerboseLog));
    }
    execute(&runtime, &plugin, options).await
}

#[cfg(not(feature = "demo"))]
pub async fn demo(_verbose: bool) -> Result<u8, Failure> {
    Err(Failure::usage_msg("this procbox was built without the `demo` feature")
        .with_hint("build procbox with its default features (cargo build -p procbox-cli --features demo)"))
}
