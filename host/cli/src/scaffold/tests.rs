use std::path::Path;

/// The vendored paths of `list` under `dir`, against the files in it:
/// a source added to an SDK and not to its list builds in the repo
/// and breaks every `procbox new` project.
fn assert_vendors_every_file(list: &[(&str, &str)], dir: &str, ext: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut on_disk: Vec<String> = std::fs::read_dir(root.join(dir))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(ext))
        .map(|name| format!("{dir}/{name}"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = list
        .iter()
        .map(|(path, _)| path.to_string())
        .filter(|path| path.starts_with(&format!("{dir}/")) && path.ends_with(ext))
        .collect();
    listed.sort();
    assert_eq!(listed, on_disk, "the vendored list misses or invents a file of {dir}");
}

#[test]
fn every_sdk_source_is_vendored_into_new_projects() {
    assert_vendors_every_file(super::SDK_SOURCES, "guests/rust/sdk/src", ".rs");
    assert_vendors_every_file(super::PYTHON_SDK_SOURCES, "guests/python/sdk/procbox", ".py");
    assert_vendors_every_file(super::JS_SDK_SOURCES, "guests/js/sdk", ".js");
    assert_vendors_every_file(super::JS_SDK_SOURCES, "guests/js/sdk", ".ts");
}
