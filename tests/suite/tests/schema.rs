//! One name per knob everywhere: every grant key and limit of the grants
//! file is a `procbox run` flag of the same name and has a line in
//! docs/reference.md, and a manifest (which only requests) refuses every
//! one of them.

use std::path::Path;

use procbox::policy::document::{self, Kind};
use procbox::policy::knobs::ValueKind;
use procbox::policy::KNOBS;
use procbox_tests::{bounded, procbox};

fn reference() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/reference.md");
    std::fs::read_to_string(path).expect("docs/reference.md")
}

/// The top-level keys of a grants file, as its parser names them when it
/// meets an unknown one.
fn grants_keys() -> Vec<String> {
    let error = document::parse("no-such-key = 1", Path::new("g.toml"), Kind::Grants)
        .unwrap_err()
        .to_string();
    let keys: Vec<String> = error.split('`').skip(3).step_by(2).map(str::to_string).collect();
    assert!(keys.contains(&"allow-run".to_string()), "{error}");
    keys
}

/// A value of the right kind for `kind`, as TOML.
fn toml_value(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Count => "2",
        ValueKind::Bytes => "\"1MiB\"",
        ValueKind::Duration => "\"1s\"",
        ValueKind::Switch => "true",
    }
}

#[tokio::test]
async fn every_limit_and_grant_key_is_a_flag_with_a_reference_line() {
    let help = bounded!(procbox(&["run", "--help"])).stdout;
    let reference = reference();
    // `run`, `limits` and `plugin` are tables, not flags; `remembered`
    // belongs only in the grant store's entries, `path` only in a
    // worker's worker.toml.
    let tables = ["run", "limits", "plugin", "remembered", "path"];
    let names = KNOBS
        .iter()
        .map(|k| k.name.to_string())
        .chain(grants_keys().into_iter().filter(|k| !tables.contains(&k.as_str())));
    for name in names {
        let flag = format!("--{name}");
        assert!(help.contains(&flag), "{flag} is not a flag of `procbox run`");
        assert!(reference.contains(&flag), "{flag} has no line in docs/reference.md");
    }
}

#[test]
fn every_limit_is_a_key_of_the_grants_file_and_refused_by_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file.toml");
    for knob in KNOBS {
        let text = format!("[limits]\n{} = {}\n", knob.name, toml_value(knob.kind));
        let grants = document::parse(&text, &path, Kind::Grants);
        assert!(grants.is_ok(), "{}: {grants:?}", knob.name);
        let manifest = document::parse(&text, &path, Kind::Manifest).unwrap_err().to_string();
        assert!(
            manifest.contains("belong in the user's grants"),
            "{}: {manifest}",
            knob.name
        );
    }
}

#[test]
fn an_old_limit_name_says_what_it_is_called_now() {
    let err = document::parse(
        "[limits]\nplugin-memory = \"1MiB\"\n",
        Path::new("g.toml"),
        Kind::Grants,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`plugin-memory` is now `max-plugin-memory`"), "{err}");
}
