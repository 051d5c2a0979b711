use super::*;
use crate::policy::LimitSettings;

fn about(path: &str, bytes: &[u8], requested: &[&str]) -> Remembered {
    Remembered {
        plugin: Path::new(path).file_name().unwrap().to_string_lossy().into(),
        path: path.into(),
        blake3: blake3::hash(bytes).to_hex().to_string(),
        requested: requested.iter().map(|r| r.to_string()).collect(),
    }
}

fn store() -> (tempfile::TempDir, GrantStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = GrantStore::new(dir.path().join("grants"));
    (dir, store)
}

fn granted(store: &GrantStore, about: &Remembered) -> Vec<String> {
    match store.lookup(&about.blake3, Some(&about.path)).unwrap() {
        Lookup::Granted(entry) => entry
            .usable()
            .unwrap()
            .grants
            .allow_run
            .into_iter()
            .map(|r| r.written)
            .collect(),
        other => panic!("expected grants, got {other:?}"),
    }
}

fn usable(text: &str) -> (Document, Usable) {
    let doc = document::parse(&format!("{text}\n"), Path::new("/g/e.toml"), Kind::Remembered).unwrap();
    (doc.clone(), Usable::of(doc))
}

#[test]
fn an_entry_adds_rules_and_limits_but_never_weakens_a_run() {
    // An entry's text, and the key a run refuses from it (None: used).
    let cases: &[(&str, Option<&str>)] = &[
        ("allow-run = [\"git log **\"]", None),
        ("[[run]]\nprogram = \"printf\"\nargs = [\"a b\"]", None),
        ("deny-run = [\"git push **\"]", None),
        ("[[run]]\nprogram = \"rm\"\ndeny = true", None),
        ("allow-env = [\"LANG=C\"]", None),
        ("dir = [\"/srv\"]", None),
        ("allow-read = [\"/srv\"]", None),
        ("strict-programs = true", None),
        ("allow-net = false", None),
        ("allow-inherit = false", None),
        ("allow-write = [\"/home/me\"]", Some("allow-write")),
        ("allow-net = true", Some("allow-net")),
        ("allow-inherit = true", Some("allow-inherit")),
        ("confine = \"off\"", Some("confine")),
        ("confine = \"best-effort\"", Some("confine")),
        ("contain = \"off\"", Some("contain")),
        ("allow-child-net = [\"all\"]", Some("allow-child-net")),
        ("allow-helper = [\"/usr/bin\"]", Some("allow-helper")),
        // Limits with a default: at most that.
        ("[limits]\nmax-children = 64", None),
        ("[limits]\nmax-children = 65", Some("max-children")),
        ("[limits]\nmax-handles = 10", None),
        ("[limits]\nmax-handles = 10001", Some("max-handles")),
        ("[limits]\nmax-plugin-memory = \"512MiB\"", None),
        ("[limits]\nmax-plugin-memory = \"1GiB\"", Some("max-plugin-memory")),
        // rlimits: at most procbox's own hard limit (RLIMIT_NOFILE's
        // cannot pass the kernel's nr_open, below 2^31).
        ("[limits]\nrlimit-nofile = 16", None),
        ("[limits]\nrlimit-nofile = 1099511627776", Some("rlimit-nofile")),
        ("[limits]\nrlimit-cpu = 1", None),
        ("[limits]\nrlimit-as = \"1MiB\"", None),
        ("[limits]\nrlimit-fsize = \"1MiB\"", None),
        ("[limits]\nrlimit-nproc = 1", None),
        // No limit by default (or off): any value narrows.
        ("[limits]\nmax-spawns = 100000000", None),
        ("[limits]\nmax-runtime = \"100h\"", None),
        ("[limits]\nmax-output = \"16GiB\"", None),
        ("[limits]\nmax-processes = 100000", None),
        ("[limits]\nmax-tree-memory = \"64GiB\"", None),
        ("[limits]\nmax-plugin-time = \"100h\"", None),
        ("[limits]\ndie-with-procbox = true", None),
        ("[limits]\ndie-with-procbox = false", None),
    ];
    for (text, refused) in cases {
        let (doc, usable) = usable(text);
        let keys: Vec<&str> = usable.refused.iter().map(|r| r.key).collect();
        match refused {
            Some(key) => {
                assert_eq!(keys, [*key], "{text}");
                assert_eq!(usable.grants, Document::default(), "{text}: nothing of it is used");
            }
            None => {
                assert!(keys.is_empty(), "{text}: {keys:?}");
                assert_eq!(usable.grants, doc, "{text}: used as it is");
            }
        }
    }
}

#[test]
fn the_rest_of_an_entry_is_used_and_each_refused_key_says_what_it_was() {
    let (_, usable) = usable(
        "allow-run = [\"/usr/bin/echo hi\"]\nconfine = \"off\"\nallow-write = [\"/home/me\", \"/srv\"]\n[limits]\nmax-children = 1000\nmax-runtime = \"1m\"",
    );
    let written: Vec<&str> = usable.refused.iter().map(|r| r.written.as_str()).collect();
    assert_eq!(
        written,
        [
            "confine = \"off\"",
            "allow-write = [\"/home/me\", \"/srv\"]",
            "max-children = 1000"
        ]
    );
    assert!(usable.refused[2].why.contains("its default 64"), "{:?}", usable.refused);
    let grants = usable.grants;
    assert_eq!(grants.allow_run[0].written, "/usr/bin/echo hi");
    assert!(grants.confine.is_none() && grants.write_dirs.is_empty());
    assert_eq!(limits_written(&grants.limits), [("max-runtime", "1m".to_string())]);
}

#[test]
fn every_limit_is_written_by_its_knob_name_as_its_flag_reads_it() {
    use crate::policy::knobs::ValueKind;
    use crate::policy::KNOBS;
    let mut all = LimitSettings::default();
    for knob in KNOBS {
        let value = match knob.kind {
            ValueKind::Count => "3",
            ValueKind::Bytes => "3MiB",
            ValueKind::Duration => "90s",
            ValueKind::Switch => "true",
        };
        all.set(knob.name, value).unwrap();
    }
    let written = limits_written(&all);
    let names: Vec<&str> = written.iter().map(|(name, _)| *name).collect();
    let knobs: Vec<&str> = KNOBS.iter().map(|k| k.name).collect();
    assert_eq!(names, knobs);
    let mut again = LimitSettings::default();
    for (name, value) in &written {
        again.set(name, value).unwrap();
    }
    assert_eq!(again, all, "{written:?}");
    assert!(written.contains(&("max-runtime", "1m 30s".to_string())), "{written:?}");
}

#[test]
fn rules_are_remembered_once_each_and_only_for_the_same_bytes() {
    let (_dir, store) = store();
    let plugin = about("/p/chores.wasm", b"v1", &[]);
    store.remember(&plugin, "git log **").unwrap();
    store.remember(&plugin, "wc -l *").unwrap();
    store.remember(&plugin, "git log **").unwrap();
    assert_eq!(granted(&store, &plugin), ["git log **", "wc -l *"]);
    // Another plugin that takes the same name elsewhere gets nothing.
    let impostor = about("/elsewhere/chores.wasm", b"evil", &[]);
    assert!(matches!(
        store.lookup(&impostor.blake3, Some(&impostor.path)).unwrap(),
        Lookup::Nothing
    ));
}

#[test]
fn runs_remembering_at_once_keep_every_rule() {
    let (_dir, store) = store();
    let plugin = about("/p/chores.wasm", b"v1", &[]);
    std::thread::scope(|threads| {
        for t in 0..8 {
            let (store, plugin) = (&store, &plugin);
            threads.spawn(move || {
                for n in 0..250 {
                    store.remember(plugin, &format!("echo {t}-{n}")).unwrap();
                }
            });
        }
    });
    assert_eq!(granted(&store, &plugin).len(), 2000);
}

#[test]
fn a_changed_plugin_at_the_same_path_needs_carrying_over() {
    let (_dir, store) = store();
    let old = about("/p/chores.wasm", b"v1", &["--allow-run=git"]);
    store.remember(&old, "git log **").unwrap();
    let new = about("/p/chores.wasm", b"v2", &["--allow-run=git", "--allow-run=curl"]);
    let Lookup::Changed { previous } = store.lookup(&new.blake3, Some(&new.path)).unwrap() else {
        panic!("the earlier version's entry");
    };
    assert_eq!(previous.about, old);
    store.carry_over(&previous, &new).unwrap();
    assert_eq!(granted(&store, &new), ["git log **"]);
    assert!(store.get(&old.blake3).unwrap().is_none(), "moved, not copied");
    assert_eq!(store.get(&new.blake3).unwrap().unwrap().about.requested, new.requested);
}

#[test]
fn a_fifo_in_place_of_the_lock_is_refused_not_waited_on() {
    let (_dir, store) = store();
    let plugin = about("/p/a.wasm", b"a", &[]);
    store.remember(&plugin, "echo").unwrap();
    let lock = store.dir().join(".lock");
    std::fs::remove_file(&lock).unwrap();
    let mode = rustix::fs::Mode::from_raw_mode(0o600);
    rustix::fs::mknodat(rustix::fs::CWD, &lock, rustix::fs::FileType::Fifo, mode, 0).unwrap();
    // Opening it for writing fails at once (no reader: ENXIO), where a
    // blocking open would wait for a reader forever.
    let err = store.remember(&plugin, "cat").unwrap_err();
    assert!(err.to_string().contains(".lock"), "{err}");
}

#[test]
fn carrying_over_grants_revoked_meanwhile_carries_nothing() {
    let (_dir, store) = store();
    let old = about("/p/a.wasm", b"v1", &[]);
    let previous = store.remember(&old, "echo").unwrap();
    store.revoke(&previous, None).unwrap();
    let new = about("/p/a.wasm", b"v2", &[]);
    assert!(store.carry_over(&previous, &new).is_err());
    assert!(store.get(&new.blake3).unwrap().is_none());
}

#[test]
fn revoking_the_last_rule_removes_the_entry_and_an_unknown_rule_is_named() {
    let (_dir, store) = store();
    let plugin = about("/p/a.wasm", b"a", &[]);
    let entry = store.remember(&plugin, "echo hi").unwrap();
    let err = store.revoke(&entry, Some("echo")).unwrap_err();
    assert!(err.to_string().contains("it has: echo hi"), "{err}");
    assert!(store.revoke(&entry, Some("echo hi")).unwrap().is_none());
    assert!(store.get(&plugin.blake3).unwrap().is_none());
}

#[test]
fn an_edit_keeps_comments_and_must_keep_the_key_and_absolute_directories() {
    let (_dir, store) = store();
    let plugin = about("/p/a.wasm", b"a", &[]);
    let entry = store.remember(&plugin, "echo").unwrap();
    let edited = entry
        .text
        .replace("allow-run", "# mine\nallow-env = [\"HOME\"]\nallow-run");
    let entry = store.replace(&entry, &edited).unwrap();
    let entry = store.remember(&plugin, "cat").unwrap_or(entry);
    assert!(entry.text.contains("# mine"), "{}", entry.text);
    let rekeyed = entry.text.replace(&plugin.blake3, &"0".repeat(64));
    assert!(store.replace(&entry, &rekeyed).is_err());
    let relative = format!("dir = [\"src\"]\n{}", entry.text);
    let err = store.replace(&entry, &relative).unwrap_err();
    assert!(err.to_string().contains("absolute"), "{err}");
    assert_eq!(
        store.get(&plugin.blake3).unwrap().unwrap().text,
        entry.text,
        "nothing lost"
    );
}

#[test]
fn entries_others_could_have_written_are_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, store) = store();
    let plugin = about("/p/a.wasm", b"a", &[]);
    let entry = store.remember(&plugin, "echo").unwrap();
    std::fs::set_permissions(&entry.file, std::fs::Permissions::from_mode(0o622)).unwrap();
    let err = store.get(&plugin.blake3).unwrap_err();
    assert!(err.to_string().contains("others may write"), "{err}");
    std::fs::set_permissions(&entry.file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(store.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(store
        .get(&plugin.blake3)
        .unwrap_err()
        .to_string()
        .contains("not private"));
    std::fs::set_permissions(store.dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    // An entry copied under another plugin's key grants that plugin nothing.
    let other = about("/p/b.wasm", b"b", &[]);
    std::fs::copy(&entry.file, store.file_of(&other.blake3)).unwrap();
    assert!(store.get(&other.blake3).is_err());
    // A link in an entry's place is not followed.
    let target = store.dir().join("elsewhere");
    std::fs::rename(&entry.file, &target).unwrap();
    std::os::unix::fs::symlink(&target, &entry.file).unwrap();
    assert!(store
        .get(&plugin.blake3)
        .unwrap_err()
        .to_string()
        .contains("symbolic link"));
}
