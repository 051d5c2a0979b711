//! The library's layers (ARCHITECTURE.md, "The library's layers"): each
//! folder of `host/procbox/src` is a layer, and the layers' uses of each
//! other (non-test code naming `crate::LAYER`, doc links included) form no
//! circle, so each can be read and changed knowing only those below it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn library_src() -> PathBuf {
    // This crate is tests/suite.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../host/procbox/src")
}

/// The non-test part of a source file: up to its `#[cfg(test)] mod tests`.
fn non_test(source: &str) -> &str {
    let end = source
        .match_indices("#[cfg(test)]")
        .find(|(at, _)| {
            source[at + "#[cfg(test)]".len()..]
                .trim_start()
                .starts_with("mod tests")
        })
        .map_or(source.len(), |(at, _)| at);
    &source[..end]
}

/// Every name that follows `crate::`, alone or in a `crate::{...}` group.
fn crate_names(source: &str) -> BTreeSet<String> {
    let word = |text: &str| -> String { text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    let mut names = BTreeSet::new();
    for (at, _) in source.match_indices("crate::") {
        let rest = &source[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                names.extend(group.split(',').map(|item| word(item.trim())));
            }
            None => {
                names.insert(word(rest));
            }
        }
    }
    names
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a library folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() && path.file_name().is_some_and(|name| name != "tests") {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") && path.file_name().is_some_and(|n| n != "tests.rs") {
            found.push(path);
        }
    }
}

/// Each layer (a folder) and the other layers and shared files it names.
fn uses() -> BTreeMap<String, BTreeSet<String>> {
    let src = library_src();
    let entries: Vec<PathBuf> = std::fs::read_dir(&src)
        .expect("host/procbox/src")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    let stem = |path: &Path| path.file_stem().expect("a name").to_string_lossy().into_owned();
    let known: BTreeSet<String> = entries
        .iter()
        .map(|path| stem(path))
        .filter(|name| name != "lib")
        .collect();
    let mut uses = BTreeMap::new();
    for layer in entries.iter().filter(|path| path.is_dir()) {
        let mut files = Vec::new();
        rust_files(layer, &mut files);
        let named: BTreeSet<String> = files
            .iter()
            .flat_map(|file| crate_names(non_test(&std::fs::read_to_string(file).expect("a source file"))))
            .filter(|name| known.contains(name) && *name != stem(layer))
            .collect();
        uses.insert(stem(layer), named);
    }
    uses
}

/// A circle through `from`, if its uses lead back to it.
fn circle_through(from: &str, uses: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn walk(at: &str, path: &mut Vec<String>, uses: &BTreeMap<String, BTreeSet<String>>) -> bool {
        for next in uses.get(at).into_iter().flatten() {
            if *next == path[0] {
                path.push(next.clone());
                return true;
            }
            if !path.contains(next) {
                path.push(next.clone());
                if walk(next, path, uses) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![from.to_string()];
    walk(from, &mut path, uses).then_some(path)
}

#[test]
fn the_library_layers_use_each_other_in_no_circle() {
    let uses = uses();
    // The walk sees the layers it must (a walk that found nothing would
    // find no circle either).
    for layer in ["launcher", "sandbox", "process_tree", "policy", "spawn", "supervisor"] {
        assert!(
            uses.contains_key(layer),
            "{layer} is no folder of the library: {uses:?}"
        );
    }
    assert!(
        uses["launcher"].contains("sandbox") && uses["launcher"].contains("process_tree"),
        "{uses:?}"
    );
    for layer in uses.keys() {
        if let Some(circle) = circle_through(layer, &uses) {
            panic!("the layers use each other in a circle: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn the_walk_finds_names_in_paths_and_groups_and_skips_tests() {
    let source = "use crate::sandbox::plan;\nuse crate::{sys, terms::Source};\n/// [`crate::gate`]\n#[cfg(test)]\nmod tests { use crate::spawn; }";
    let names = crate_names(non_test(source));
    assert_eq!(
        names,
        ["gate", "sandbox", "sys", "terms"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let uses: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(from, to)| (from.to_string(), BTreeSet::from([to.to_string()])))
        .collect();
    assert_eq!(
        circle_through("a", &uses),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
