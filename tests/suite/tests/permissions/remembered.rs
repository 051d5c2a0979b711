//! Grants remembered per plugin: kept from the prompt, listed, shown,
//! revoked and edited, asked again when the plugin changes, and refused when
//! others could have written them.

use super::*;

#[tokio::test]
async fn always_at_the_prompt_remembers_the_rule_for_this_plugin_s_bytes_only() {
    use std::os::unix::fs::PermissionsExt;
    let store = Remembering::new();
    // Before: denied, with the fix.
    store.echo("denied:--allow-run", "hi").await;
    let shown = store.echo_on_a_terminal("stdout:hi", "hi", &["a"]).await;
    assert!(
        shown.contains("[a] always: remember the rule for this plugin"),
        "{shown}"
    );
    assert!(shown.contains("remembered for chores.wasm"), "{shown}");
    let entries = store.entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&entries[0]), 0o600);
    assert_eq!(mode(&store.config().join("grants")), 0o700);
    // Later runs, off the terminal, get the rule, and say so.
    let run = store.echo("stdout:hi", "hi").await;
    assert!(
        run.stderr
            .contains("procbox: using grants you remembered for chores.wasm: --allow-run='/usr/bin/echo hi'"),
        "{run:?}"
    );
    // Exactly that rule: other arguments are still denied.
    store.echo("denied:--allow-run", "bye").await;
    // A different plugin under the same name elsewhere gets nothing.
    let impostor_dir = tempfile::tempdir().unwrap();
    let impostor = impostor_dir.path().join("chores.wasm");
    std::fs::copy(guests::SPAWN_OUTCOME, &impostor).unwrap();
    let manifest = impostor_dir.path().join("m.toml");
    std::fs::write(&manifest, "allow-run = [\"echo **\"]\n").unwrap();
    let embed = bounded!(procbox(&[
        "embed-manifest",
        impostor.to_str().unwrap(),
        manifest.to_str().unwrap()
    ]));
    assert_eq!(embed.code, Some(0), "{embed:?}");
    let run = store
        .procbox(&[
            "run",
            impostor.to_str().unwrap(),
            "--",
            "denied:--allow-run",
            "echo",
            "hi",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(!run.stderr.contains("remembered"), "{run:?}");
}

#[tokio::test]
async fn remembered_grants_can_be_listed_shown_and_revoked() {
    let store = Remembering::new();
    store.echo_on_a_terminal("stdout:hi", "hi", &["a"]).await;
    store
        .echo_on_a_terminal("stdout:bye", "bye", &["e", "echo b*", "a"])
        .await;
    let list = store.procbox(&["grants", "list"]).await;
    assert_eq!(list.code, Some(0), "{list:?}");
    assert!(list.stdout.starts_with("chores.wasm  blake3 "), "{list:?}");
    assert!(
        list.stdout
            .contains("--allow-run='/usr/bin/echo hi' --allow-run='/usr/bin/echo b*'"),
        "{list:?}"
    );
    let show = store.procbox(&["grants", "show", "chores.wasm"]).await;
    assert!(
        show.stdout
            .contains("allow-run = [\"/usr/bin/echo hi\", \"/usr/bin/echo b*\"]"),
        "{show:?}"
    );
    assert!(show.stdout.contains("[remembered]"), "{show:?}");
    // A rule it does not hold: named, with what it holds; nothing changes.
    let wrong = store.procbox(&["grants", "revoke", store.plugin(), "echo"]).await;
    assert_eq!(wrong.code, Some(2), "{wrong:?}");
    assert!(
        wrong.stderr.contains("it has: /usr/bin/echo hi, /usr/bin/echo b*"),
        "{wrong:?}"
    );
    let revoke = store
        .procbox(&["grants", "revoke", store.plugin(), "/usr/bin/echo b*"])
        .await;
    assert_eq!(revoke.code, Some(0), "{revoke:?}");
    store.echo("denied:--allow-run", "bye").await;
    store.echo("stdout:hi", "hi").await;
    // Everything, by the start of its hash.
    let hash = list.stdout.split_whitespace().nth(2).unwrap().to_string();
    let revoke = store.procbox(&["grants", "revoke", &hash]).await;
    assert_eq!(revoke.code, Some(0), "{revoke:?}");
    assert!(store.entries().is_empty());
    store.echo("denied:--allow-run", "hi").await;
    let list = store.procbox(&["grants", "list"]).await;
    assert!(list.stdout.starts_with("no grants are remembered"), "{list:?}");
}

#[tokio::test]
async fn a_changed_plugin_gets_its_earlier_grants_only_once_the_user_confirms() {
    let store = Remembering::new();
    store
        .echo_on_a_terminal("stdout:hi", "hi", &["e", "echo **", "a"])
        .await;
    // The plugin at that path changes: its manifest now asks for more.
    store.change_plugin("allow-run = [\"echo **\", \"wc\"]\n").await;
    let run = store.echo("denied:--allow-run", "hi").await;
    assert!(
        run.stderr
            .contains("chores.wasm changed since you remembered grants for it")
            && run.stderr.contains("procbox grants confirm"),
        "{run:?}"
    );
    let show = store.procbox(&["grants", "show", store.plugin()]).await;
    assert_eq!(show.code, Some(2), "{show:?}");
    assert!(show.stderr.contains("procbox grants confirm"), "{show:?}");
    // On a terminal: asked, showing what the new manifest adds; "no" keeps
    // them unused, "yes" moves them to the new bytes.
    // ("n": then the request is asked about, and denied.)
    let shown = store
        .echo_on_a_terminal("denied:denied at the prompt", "hi", &["n", "d"])
        .await;
    assert!(
        shown.contains("its manifest now also asks for: --allow-run='echo **' --allow-run=wc"),
        "{shown}"
    );
    let shown = store.echo_on_a_terminal("stdout:hi", "hi", &["y"]).await;
    assert!(
        shown.contains("chores.wasm changed since you remembered grants"),
        "{shown}"
    );
    store.echo("stdout:hi", "hi").await;
    assert_eq!(store.entries().len(), 1, "moved, not copied");
    // Changed again; confirmed without a terminal this time.
    store
        .change_plugin("allow-run = [\"echo **\", \"wc\", \"cat\"]\n")
        .await;
    store.echo("denied:--allow-run", "hi").await;
    let confirm = store.procbox(&["grants", "confirm", store.plugin()]).await;
    assert_eq!(confirm.code, Some(0), "{confirm:?}");
    assert!(
        confirm
            .stdout
            .contains("its manifest now also asks for: --allow-run=cat"),
        "{confirm:?}"
    );
    store.echo("stdout:hi", "hi").await;
}

#[tokio::test]
async fn remembered_grants_that_someone_else_could_have_written_are_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let store = Remembering::new();
    store.echo_on_a_terminal("stdout:hi", "hi", &["a"]).await;
    let entry = store.entries().remove(0);
    let set_mode =
        |p: &std::path::Path, mode| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    set_mode(&entry, 0o666);
    let run = store.echo("denied:--allow-run", "hi").await;
    assert!(
        run.stderr.contains("not using remembered grants") && run.stderr.contains("others may write"),
        "{run:?}"
    );
    set_mode(&entry, 0o600);
    if procbox_tests::running_as_root("the entry that belongs to another user") {
        std::os::unix::fs::chown(&entry, Some(65534), None).unwrap();
        let run = store.echo("denied:--allow-run", "hi").await;
        assert!(run.stderr.contains("belongs to uid 65534"), "{run:?}");
        std::os::unix::fs::chown(&entry, Some(0), None).unwrap();
    }
    set_mode(&store.config().join("grants"), 0o777);
    let run = store.echo("denied:--allow-run", "hi").await;
    assert!(
        run.stderr.contains("the grants directory") && run.stderr.contains("is not private"),
        "{run:?}"
    );
    set_mode(&store.config().join("grants"), 0o700);
    store.echo("stdout:hi", "hi").await;
    // A child that may write the store could plant grants: it stays
    // read-only inside a write grant.
    let explain = store
        .procbox(&[
            "explain",
            "--allow-run=echo",
            "--allow-write",
            store.dir.path().to_str().unwrap(),
            "--",
            "echo",
        ])
        .await;
    assert!(
        explain.stdout.contains("protected, read-only unless granted by name")
            && explain.stdout.contains("remembered grants"),
        "{explain:?}"
    );
}

#[tokio::test]
async fn grants_edit_keeps_only_a_valid_edit_and_loses_nothing() {
    let store = Remembering::new();
    // Nothing remembered yet: the plugin's file starts an empty entry.
    let editor = store.dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i \"s|^allow-run = \\[\\]|allow-run = [\\\"echo hi\\\"]|\" \"$1\"\n",
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&editor).unwrap().permissions(), 0o755);
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let edit = bounded!(procbox_tests::procbox_with_env(
        &[("PROCBOX_CONFIG_DIR", &store.config()), ("EDITOR", &editor)],
        &["grants", "edit", store.plugin()]
    ));
    assert_eq!(edit.code, Some(0), "{edit:?}");
    store.echo("stdout:hi", "hi").await;
    // An edit that is not a grants file is refused; the entry is unchanged
    // and the edit kept for the user.
    let before = std::fs::read_to_string(&store.entries()[0]).unwrap();
    let breaker = store.dir.path().join("breaker.sh");
    std::fs::write(&breaker, "#!/bin/sh\necho 'allow-run = \"not a list' >> \"$1\"\n").unwrap();
    std::fs::set_permissions(&breaker, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let edit = bounded!(procbox_tests::procbox_with_env(
        &[("PROCBOX_CONFIG_DIR", &store.config()), ("VISUAL", &breaker)],
        &["grants", "edit", "chores.wasm"]
    ));
    assert_eq!(edit.code, Some(2), "{edit:?}");
    assert!(edit.stderr.contains("nothing was changed; your edit is in"), "{edit:?}");
    assert_eq!(std::fs::read_to_string(&store.entries()[0]).unwrap(), before);
    let draft = store
        .config()
        .join("grants")
        .read_dir()
        .unwrap()
        .map(|e| e.unwrap().path());
    let draft: Vec<_> = draft.filter(|p| p.to_string_lossy().ends_with(".draft")).collect();
    assert!(
        std::fs::read_to_string(&draft[0]).unwrap().contains("not a list"),
        "{draft:?}"
    );
    store.echo("stdout:hi", "hi").await;
}

#[tokio::test]
async fn a_request_without_arguments_is_never_remembered_as_any_arguments() {
    let store = Remembering::new();
    let run = store
        .echo_on_a_terminal_args(&["denied:denied at the prompt", "echo"], &["a"])
        .await;
    assert!(run.contains("no one-word rule allows exactly this"), "{run}");
    assert!(store.entries().is_empty(), "nothing remembered");
    let run = store
        .procbox(&["run", store.plugin(), "--", "denied:args = []", "echo"])
        .await;
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[tokio::test]
async fn the_prompt_shows_a_plugin_s_control_characters_escaped() {
    let store = Remembering::new();
    let clear_screen = "\u{1b}[2J\u{1b}[H\u{202e}";
    let shown = store
        .echo_on_a_terminal_args(&["denied:denied at the prompt", "echo", clear_screen], &["d"])
        .await;
    assert!(!shown.contains("\u{1b}[2J") && !shown.contains('\u{202e}'), "{shown:?}");
    assert!(shown.contains("\\u{1b}[2J\\u{1b}[H\\u{202e}"), "{shown:?}");
}

#[tokio::test]
async fn a_plugin_others_could_replace_is_never_linked_to_earlier_grants() {
    use std::os::unix::fs::PermissionsExt;
    let store = Remembering::new();
    store.echo_on_a_terminal("stdout:hi", "hi", &["a"]).await;
    // Its directory becomes writable by everyone (not sticky): whoever
    // replaces the file there is not asked about as "a new version".
    let dir = store.plugin.parent().unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    store.change_plugin("allow-run = [\"echo **\"]\n").await;
    let run = store.echo("denied:--allow-run", "hi").await;
    assert!(!run.stderr.contains("changed since"), "{run:?}");
    let shown = store
        .echo_on_a_terminal("denied:denied at the prompt", "hi", &["d"])
        .await;
    assert!(!shown.contains("changed since"), "{shown}");
}
