use super::*;
use std::time::Duration;

const PLUGIN: &[u8] = procbox_demo_wasm::DEMO_WASM;

/// A time at which files written now have long settled.
fn later() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

/// A cache in a new directory with the demo compiled into it, and the
/// entry's path.
fn compiled() -> (tempfile::TempDir, Engine, PathBuf) {
    let engine = Engine::new(wasmtime::Config::new().epoch_interruption(true)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path(), &engine);
    let compile = || Component::new(&engine, PLUGIN);
    let (_, origin) = cache.load_or_compile(&engine, PLUGIN, compile).unwrap();
    assert_eq!(origin, Origin::Compiled);
    let entry = cache.entry_path(PLUGIN);
    (dir, engine, entry)
}

/// Reads `entry` at `now`; says whether it was usable and how many
/// bytes that hashed.
fn read(engine: &Engine, entry: &Path, now: SystemTime) -> (Result<bool, String>, u64) {
    let before = known::hashed_bytes();
    let result = read_entry(engine, entry, now)
        .map(|c| c.is_some())
        .map_err(|e| e.to_string());
    (result, known::hashed_bytes() - before)
}

#[test]
fn an_entry_is_checked_in_full_once_then_by_its_stat_key() {
    let (_dir, engine, entry) = compiled();
    let (usable, hashed) = read(&engine, &entry, SystemTime::now());
    assert_eq!(usable, Ok(true));
    assert!(hashed > 0, "just written: checked in full");
    assert!(!verified_record(&entry).exists(), "and not recorded before it settles");
    let (usable, hashed) = read(&engine, &entry, later());
    assert_eq!((usable, hashed > 0), (Ok(true), true), "checked, then recorded");
    let (usable, hashed) = read(&engine, &entry, later());
    assert_eq!((usable, hashed), (Ok(true), 0), "not read again");
}

/// One flipped byte with the mtime put back: the ctime moved, so the
/// entry is checked in full again and refused.
#[test]
fn an_entry_corrupted_in_place_after_its_check_is_refused() {
    let (_dir, engine, entry) = compiled();
    assert_eq!(read(&engine, &entry, later()).0, Ok(true));
    let mtime = std::fs::metadata(&entry).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&entry, &bytes).unwrap();
    File::options()
        .write(true)
        .open(&entry)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let (usable, hashed) = read(&engine, &entry, later());
    assert_eq!(usable, Err("its contents do not match their digest".into()));
    assert!(hashed > 0);
}

/// Another file renamed into an entry's place (with the entry's times)
/// is another inode: checked in full, and refused.
#[test]
fn a_file_renamed_over_a_checked_entry_is_checked_again() {
    let (dir, engine, entry) = compiled();
    assert_eq!(read(&engine, &entry, later()).0, Ok(true));
    let meta = std::fs::metadata(&entry).unwrap();
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let planted = dir.path().join("planted");
    std::fs::write(&planted, &bytes).unwrap();
    let file = File::options().write(true).open(&planted).unwrap();
    file.set_modified(meta.modified().unwrap()).unwrap();
    std::fs::rename(&planted, &entry).unwrap();
    let (usable, hashed) = read(&engine, &entry, later());
    assert_eq!(usable, Err("its contents do not match their digest".into()));
    assert!(hashed > 0);
}

/// A record is for one entry: copied beside another, it vouches for
/// nothing (the stat key differs).
#[test]
fn a_record_does_not_vouch_for_another_file() {
    let (dir, engine, entry) = compiled();
    assert_eq!(read(&engine, &entry, later()).0, Ok(true));
    let copy = dir.path().join("copy.cwasm");
    std::fs::copy(&entry, &copy).unwrap();
    std::fs::copy(verified_record(&entry), verified_record(&copy)).unwrap();
    let (usable, hashed) = read(&engine, &copy, later());
    assert_eq!(usable, Ok(true));
    assert!(hashed > 0, "checked in full");
}
