//! The compilation cache: compiled once, loaded after; a changed plugin is
//! recompiled; a corrupt, truncated or foreign entry is detected and
//! rebuilt, never loaded.

use procbox::Origin;
use procbox::Runtime;

/// A real plugin: the demo, which `procbox-demo-wasm` embeds.
const PLUGIN: &[u8] = procbox_demo_wasm::DEMO_WASM;

fn runtime(dir: &std::path::Path) -> Runtime {
    Runtime::new().unwrap().with_cache(dir)
}

fn origin(runtime: &Runtime, wasm: &[u8]) -> Origin {
    runtime.compile_cached("demo.wasm", wasm).unwrap().1
}

#[test]
fn compiled_once_then_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    assert_eq!(origin(&rt, PLUGIN), Origin::Compiled);
    assert!(rt.cache().unwrap().entry_path(PLUGIN).is_file());
    assert_eq!(origin(&rt, PLUGIN), Origin::Cached);
    // A new runtime (a new procbox process) finds it too, and the loaded
    // component is a working plugin.
    let again = runtime(dir.path());
    assert_eq!(origin(&again, PLUGIN), Origin::Cached);
    again.load_bytes("demo.wasm", PLUGIN).unwrap();
}

#[test]
fn a_changed_plugin_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    assert_eq!(origin(&rt, PLUGIN), Origin::Compiled);
    // The same plugin with one more (custom) section: other bytes.
    let mut changed = PLUGIN.to_vec();
    changed.extend_from_slice(&[0, 5, 4, b'n', b'o', b't', b'e']);
    assert_ne!(
        rt.cache().unwrap().entry_path(&changed),
        rt.cache().unwrap().entry_path(PLUGIN)
    );
    assert_eq!(origin(&rt, &changed), Origin::Compiled);
}

#[test]
fn broken_entries_are_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let entry = rt.cache().unwrap().entry_path(PLUGIN);
    assert_eq!(origin(&rt, PLUGIN), Origin::Compiled);
    let good = std::fs::read(&entry).unwrap();
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("one flipped bit in the code", flipped),
        ("truncated", good[..good.len() / 3].to_vec()),
        ("empty", Vec::new()),
        ("a foreign file", b"\x7fELF not a cache entry at all".to_vec()),
        (
            "a raw wasmtime artifact without our trailer",
            good[..good.len() - 48].to_vec(),
        ),
        ("a trailer with nothing before it", good[good.len() - 48..].to_vec()),
    ];
    for (what, bytes) in cases {
        std::fs::write(&entry, &bytes).unwrap();
        assert_eq!(origin(&rt, PLUGIN), Origin::Compiled, "{what}: must be recompiled");
        assert_eq!(
            std::fs::read(&entry).unwrap(),
            good,
            "{what}: the entry is rewritten whole"
        );
        assert_eq!(origin(&rt, PLUGIN), Origin::Cached, "{what}: and then used");
    }
}

#[test]
fn an_unwritable_cache_still_runs_the_plugin() {
    let file = tempfile::NamedTempFile::new().unwrap();
    // A "directory" that is a file: nothing can be stored there.
    let rt = runtime(&file.path().join("cache"));
    assert_eq!(origin(&rt, PLUGIN), Origin::Compiled);
    assert_eq!(origin(&rt, PLUGIN), Origin::Compiled);
    rt.load_bytes("demo.wasm", PLUGIN).unwrap();
}

/// An entry runs as machine code, so only a private one is trusted.
#[test]
fn entries_that_others_could_have_planted_are_not_trusted() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let entry = rt.cache().unwrap().entry_path(PLUGIN);
    assert_eq!(origin(&rt, PLUGIN), Origin::Compiled);
    let mode = |path: &std::path::Path| std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&entry), 0o600, "entries are written private");
    let good = std::fs::read(&entry).unwrap();

    // Writable by others: intact, but not trusted.
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(origin(&rt, PLUGIN), Origin::Compiled, "a world-writable entry");
    assert_eq!(mode(&entry), 0o600, "and it is replaced by a private one");

    // A symbolic link to an intact entry elsewhere: not followed.
    let elsewhere = dir.path().join("elsewhere.cwasm");
    std::fs::write(&elsewhere, &good).unwrap();
    std::fs::remove_file(&entry).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &entry).unwrap();
    assert_eq!(origin(&rt, PLUGIN), Origin::Compiled, "a symlinked entry");
    assert!(!std::fs::symlink_metadata(&entry).unwrap().file_type().is_symlink());
    assert_eq!(origin(&rt, PLUGIN), Origin::Cached);
}

/// A FIFO in an entry's place must not hang the loader.
#[test]
fn a_fifo_in_place_of_an_entry_does_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let entry = rt.cache().unwrap().entry_path(PLUGIN);
    std::fs::create_dir_all(entry.parent().unwrap()).unwrap();
    let path = std::ffi::CString::new(entry.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(origin(&rt, PLUGIN)));
    let got = finished
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the load hung on a FIFO");
    assert_eq!(got, Origin::Compiled);
}

/// A cache directory that others may write to is not used at all.
#[test]
fn a_shared_cache_directory_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let shared = parent.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let rt = runtime(&shared);
    assert!(rt.cache().unwrap().ensure_dir().is_err());
    assert_eq!(origin(&rt, PLUGIN), Origin::Compiled);
    assert_eq!(origin(&rt, PLUGIN), Origin::Compiled, "nothing stored, nothing loaded");
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);

    // One procbox creates for itself is private.
    let own = parent.path().join("own/cache");
    let rt = runtime(&own);
    assert_eq!(origin(&rt, PLUGIN), Origin::Compiled);
    let mode = std::fs::metadata(&own).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert_eq!(origin(&rt, PLUGIN), Origin::Cached);
}

/// Loads the plugin file at `path` as `procbox run` does; says where it
/// came from, whether its bytes were read, and how many bytes were hashed.
fn load_file(runtime: &Runtime, path: &std::path::Path) -> (Origin, bool, u64) {
    let before = procbox::hashed_bytes();
    let mut plugin = runtime.open_plugin(path).unwrap();
    let (_, origin) = runtime.load_plugin(&mut plugin).unwrap();
    (origin, plugin.was_read(), procbox::hashed_bytes() - before)
}

/// Once the plugin and its entry have settled (see `known.rs`), a run
/// reads and hashes neither; a changed plugin or entry is still caught.
#[test]
fn an_unchanged_plugin_and_entry_are_not_read_again() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("demo.wasm");
    std::fs::write(&plugin, PLUGIN).unwrap();
    let rt = runtime(&dir.path().join("cache"));
    let (origin, read, _) = load_file(&rt, &plugin);
    assert_eq!((origin, read), (Origin::Compiled, true));
    // Two seconds on, both files have settled: checked once more, recorded.
    std::thread::sleep(Duration::from_millis(2100));
    let (origin, read, hashed) = load_file(&rt, &plugin);
    assert_eq!((origin, read), (Origin::Cached, true));
    assert!(hashed > PLUGIN.len() as u64, "the plugin and its entry, in full");
    let (origin, read, hashed) = load_file(&rt, &plugin);
    assert_eq!((origin, read, hashed), (Origin::Cached, false, 0), "nothing read");
    // A new process (runtime) trusts the records too.
    let again = runtime(&dir.path().join("cache"));
    assert_eq!(load_file(&again, &plugin), (Origin::Cached, false, 0));

    // The entry corrupted in place, its mtime put back: refused, rebuilt.
    let entry = rt.cache().unwrap().entry_path(PLUGIN);
    let mtime = std::fs::metadata(&entry).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&entry, &bytes).unwrap();
    let file = std::fs::File::options().write(true).open(&entry).unwrap();
    file.set_modified(mtime).unwrap();
    assert_eq!(load_file(&rt, &plugin).0, Origin::Compiled);

    // The plugin replaced by rename with other bytes and its old times: a
    // new inode, so it is read, and the new bytes are what is compiled.
    let meta = std::fs::metadata(&plugin).unwrap();
    let mut changed = PLUGIN.to_vec();
    changed.extend_from_slice(&[0, 5, 4, b'n', b'o', b't', b'e']);
    let new = dir.path().join("new.wasm");
    std::fs::write(&new, &changed).unwrap();
    let file = std::fs::File::options().write(true).open(&new).unwrap();
    file.set_modified(meta.modified().unwrap()).unwrap();
    std::fs::rename(&new, &plugin).unwrap();
    let (origin, read, _) = load_file(&rt, &plugin);
    assert_eq!((origin, read), (Origin::Compiled, true));
    assert!(rt.cache().unwrap().entry_path(&changed).is_file());
}
