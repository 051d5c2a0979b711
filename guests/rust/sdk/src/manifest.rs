//! The plugin's manifest, compiled into the plugin.

/// Embeds the plugin's manifest (what it asks to run) in the plugin when it
/// is compiled, so that `procbox run PLUGIN --grant-requested` and
/// `procbox inspect --as-flags PLUGIN` find it with no step after
/// `cargo build`. The path is relative to the crate's root (the directory
/// of its `Cargo.toml`); cargo rebuilds the plugin when the file changes.
///
/// ```ignore
/// procbox_sdk::embed_manifest!("my-tool.manifest.toml");
/// ```
///
/// The file's bytes go into a custom section named `procbox-manifest` of
/// the plugin's code (a linker cannot add a section to the component
/// around it, and procbox looks in both places). procbox checks the
/// manifest when it reads the plugin, not here: `procbox inspect --manifest
/// FILE` checks a file before you build. Use it once per plugin: a plugin
/// that carries two manifests is refused, and `procbox embed-manifest`
/// refuses to add a second one to it.
#[macro_export]
macro_rules! embed_manifest {
    ($path:literal) => {
        const _: () = {
            #[used]
            #[unsafe(link_section = "procbox-manifest")]
            static PROCBOX_MANIFEST: [u8; include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)).len()] =
                *include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path));
        };
    };
}
