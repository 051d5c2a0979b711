//! A manifest embedded in the plugin: it holds without being named, a file
//! beside it that differs is refused, `grant-requested` grants what it asks.

use super::*;

/// A copy of the spawn-outcome plugin in a directory of its own, with
/// `manifest` embedded in it (through `procbox embed-manifest`).
async fn plugin_embedding(manifest: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("tool.wasm");
    std::fs::copy(guests::SPAWN_OUTCOME, &plugin).unwrap();
    let file = dir.path().join("requests.toml");
    std::fs::write(&file, manifest).unwrap();
    let embed = bounded!(procbox(&[
        "embed-manifest",
        plugin.to_str().unwrap(),
        file.to_str().unwrap()
    ]));
    assert_eq!(embed.code, Some(0), "{embed:?}");
    (dir, plugin)
}

#[tokio::test]
async fn an_embedded_manifest_holds_without_being_named() {
    let (_dir, plugin) = plugin_embedding("allow-run = [\"echo hi\"]\n").await;
    let plugin = plugin.to_str().unwrap();
    // Granted, but not requested by the manifest inside the plugin: denied.
    let run = bounded!(procbox(&[
        "run",
        plugin,
        "--allow-run=echo",
        "--",
        "denied:manifest",
        "echo",
        "bye"
    ]));
    assert_eq!(run.code, Some(0), "{run:?}");
    let run = bounded!(procbox(&[
        "run",
        plugin,
        "--allow-run=echo",
        "--",
        "stdout:hi",
        "echo",
        "hi"
    ]));
    assert_eq!(run.code, Some(0), "{run:?}");
    let inspect = bounded!(procbox(&["inspect", plugin]));
    assert!(
        inspect.stdout.contains("manifest: embedded in the plugin") && inspect.stdout.contains("requests run: echo hi"),
        "{inspect:?}"
    );
}

#[tokio::test]
async fn an_embedded_manifest_and_a_different_file_beside_it_are_refused() {
    let (dir, plugin) = plugin_embedding("allow-run = [\"echo hi\"]\n").await;
    let beside = dir.path().join("tool.manifest.toml");
    std::fs::write(&beside, "allow-run = [\"echo **\"]\n").unwrap();
    let argv = [
        "run",
        plugin.to_str().unwrap(),
        "--allow-run=echo",
        "--",
        "ok",
        "echo",
        "hi",
    ];
    let run = bounded!(procbox(&argv));
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("embeds a manifest that differs from") && run.stderr.contains("procbox embed-manifest"),
        "{run:?}"
    );
    // The same text beside it is fine.
    std::fs::write(&beside, "allow-run = [\"echo hi\"]\n").unwrap();
    let run = bounded!(procbox(&argv));
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[tokio::test]
async fn grant_requested_grants_exactly_what_the_manifest_asks_and_says_so() {
    let (_dir, plugin) = plugin_embedding("allow-run = [\"echo hi\", \"wc -l\"]\nallow-env = [\"LANG=C*\"]\n").await;
    let plugin = plugin.to_str().unwrap();
    let flags = bounded!(procbox(&["inspect", "--as-flags", plugin]));
    assert_eq!(
        flags.stdout, "--allow-run='echo hi'\n--allow-run='wc -l'\n--allow-env='LANG=C*'\n",
        "{flags:?}"
    );
    let run = bounded!(procbox(&[
        "run",
        plugin,
        "--grant-requested",
        "--",
        "stdout:hi",
        "echo",
        "hi"
    ]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stderr.contains("granting what") && run.stderr.contains("--allow-run='echo hi'"),
        "{run:?}"
    );
    // Exactly that: another echo is not granted.
    let run = bounded!(procbox(&[
        "run",
        plugin,
        "--grant-requested",
        "--",
        "denied:",
        "echo",
        "bye"
    ]));
    assert_eq!(run.code, Some(0), "{run:?}");
    // Without a manifest there is nothing to grant: refused, not silent.
    let run = bounded!(procbox(&[
        "run",
        guests::SPAWN_OUTCOME,
        "--grant-requested",
        "--",
        "ok",
        "true"
    ]));
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("has no manifest"), "{run:?}");
}

#[tokio::test]
async fn embedding_into_something_that_is_not_a_component_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let not_wasm = dir.path().join("notes.wasm");
    std::fs::write(&not_wasm, "hello").unwrap();
    let manifest = dir.path().join("m.toml");
    std::fs::write(&manifest, "allow-run = [\"echo\"]\n").unwrap();
    let run = bounded!(procbox(&[
        "embed-manifest",
        not_wasm.to_str().unwrap(),
        manifest.to_str().unwrap()
    ]));
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("not a WebAssembly component"), "{run:?}");
    assert_eq!(std::fs::read_to_string(&not_wasm).unwrap(), "hello");
    // A manifest that is not one is refused before the plugin is touched.
    std::fs::write(&manifest, "deny-run = [\"rm\"]\n").unwrap();
    let run = bounded!(procbox(&[
        "embed-manifest",
        guests::SPAWN_OUTCOME,
        manifest.to_str().unwrap()
    ]));
    assert_eq!(run.code, Some(2), "{run:?}");
}
