//! Permissions people can live with: denials that name their fix, the
//! habits of the ecosystem (`--allow-run git,wc`, no `--allow-all`, a URL
//! is not a file), broad grants flagged at start-up, the prompt on a
//! terminal, and the grants it remembers per plugin.

use procbox_tests::terminal::{on_a_terminal_in, on_a_terminal_thinking};
use procbox_tests::{bounded, guests, procbox, procbox_run};

#[tokio::test]
async fn a_denial_in_the_plugin_names_the_narrowest_rule_as_a_flag_and_a_grants_line() {
    let expected = "denied:no allow rule grants|--allow-run 'wc -l x[*]'|allow-run = [\"wc -l x[*]\"]";
    let run = bounded!(procbox_run(
        guests::SPAWN_OUTCOME,
        &["--allow-run=true"],
        &[expected, "wc", "-l", "x*"]
    ));
    assert_eq!(run.code, Some(0), "{run:?}");
    // The suggested rule, granted, allows exactly that request.
    let run = bounded!(procbox_run(
        guests::SPAWN_OUTCOME,
        &["--allow-run=wc -l x[*]", "--confine=off"],
        &["fails:No such file", "wc", "-l", "x*"]
    ));
    assert_eq!(
        run.code,
        Some(0),
        "the suggested rule did not allow the request: {run:?}"
    );
}

#[tokio::test]
async fn a_variable_granted_by_its_bare_name_is_refused_to_the_plugin_with_the_form_that_sets_it() {
    // `--allow-env GREETING` passes the user's own value to children; a
    // plugin that sets GREETING is refused, and the refusal says so.
    let flags = ["--allow-run=printenv", "--allow-env=GREETING"];
    let bare = bounded!(procbox_run(guests::SET_ENV, &flags, &["GREETING", "hello"]));
    assert_eq!(bare.code, Some(1), "{bare:?}");
    let expected = "error: denied: printenv: environment variable GREETING is granted only as your own value, passed through to children (rule 'GREETING' (--allow-env)); to let the plugin set it, grant GREETING=VALUE, or GREETING=* for any value; to allow exactly this: --allow-env GREETING=hello (grants file: allow-env = [\"GREETING=hello\"])";
    assert!(bare.stderr.contains(expected), "{bare:?}");
    assert!(!bare.stderr.contains("no rule names it"), "{bare:?}");
    // A grants file's rule is named by its line.
    let dir = tempfile::tempdir().unwrap();
    let grants = dir.path().join("grants.toml");
    std::fs::write(&grants, "allow-run = [\"printenv\"]\nallow-env = [\"GREETING\"]\n").unwrap();
    let grants = grants.to_str().unwrap();
    let filed = bounded!(procbox_run(
        guests::SET_ENV,
        &["--grants", grants],
        &["GREETING", "hello"]
    ));
    assert_eq!(filed.code, Some(1), "{filed:?}");
    let rule = format!("is granted only as your own value, passed through to children (rule 'GREETING' ({grants}:2))");
    assert!(filed.stderr.contains(&rule), "{filed:?}");
    // Granted as the denial says, the child sees the plugin's value.
    for (grant, value) in [
        ("--allow-env=GREETING=hello", "hello"),
        ("--allow-env=GREETING=*", "two words"),
    ] {
        let set = bounded!(procbox_run(
            guests::SET_ENV,
            &["--allow-run=printenv", grant],
            &["GREETING", value]
        ));
        assert_eq!(set.code, Some(0), "{set:?}");
        assert_eq!(set.stdout, format!("child saw: {value}\n"), "{set:?}");
    }
}

#[tokio::test]
async fn explain_names_the_fix_for_arguments_with_spaces_variables_and_directories() {
    let shell = bounded!(procbox(&["explain", "--", "sh", "-c", "ls -l"]));
    assert_eq!(shell.code, Some(3), "{shell:?}");
    assert!(
        shell
            .stdout
            .contains("[[run]] program = \"sh\" args = [\"-c\", \"ls -l\"]")
            && shell.stdout.contains("that rule is broad: sh runs other programs"),
        "{shell:?}"
    );
    let env = bounded!(procbox(&[
        "explain",
        "--allow-run=env",
        "--env",
        "LANG=C.UTF-8",
        "--",
        "env"
    ]));
    assert!(
        env.stdout
            .contains("--allow-env LANG=C.UTF-8 (grants file: allow-env = [\"LANG=C.UTF-8\"])"),
        "{env:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    let cwd = cwd.to_str().unwrap();
    let outside = bounded!(procbox(&["explain", "--allow-run=true", "--cwd", cwd, "--", "true"]));
    assert!(
        outside.stdout.contains(&format!("to allow it: --dir {cwd}")),
        "{outside:?}"
    );
}

#[tokio::test]
async fn allow_run_takes_a_comma_list_unless_the_rule_has_words() {
    let listed = bounded!(procbox(&["explain", "--allow-run=git,wc", "--", "wc", "-l"]));
    assert_eq!(listed.code, Some(0), "{listed:?}");
    assert!(listed.stdout.contains("allow rule 'wc' (--allow-run)"), "{listed:?}");
    let cut = bounded!(procbox(&[
        "explain",
        "--allow-run=cut -d, -f1",
        "--",
        "cut",
        "-d,",
        "-f1"
    ]));
    assert_eq!(cut.code, Some(0), "a rule with a comma argument was split: {cut:?}");
}

#[tokio::test]
async fn there_is_no_allow_all_and_a_url_is_not_a_file() {
    for flag in ["--allow-all", "-A"] {
        let run = bounded!(procbox(&["run", flag, guests::ECHO]));
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(run.stderr.contains("procbox has no --allow-all"), "{run:?}");
    }
    let url = bounded!(procbox(&["run", "https://example.com/plugin.wasm"]));
    assert_ne!(url.code, Some(0));
    assert!(
        url.stderr.contains("procbox runs local files; download it first"),
        "{url:?}"
    );
    let missing = bounded!(procbox(&["run", "no-such-plugin.wasm"]));
    assert!(
        missing.stderr.contains("check the path") && !missing.stderr.contains("download"),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_broad_rule_is_flagged_unless_children_are_confined() {
    let warned = |run: &procbox_tests::Run| run.stderr.lines().filter(|l| l.contains("is broad")).count();
    let shell = bounded!(procbox(&["explain", "--allow-run=sh", "--confine=off", "--", "sh"]));
    assert_eq!(warned(&shell), 1, "{shell:?}");
    assert!(
        shell.stderr.contains("rule 'sh' is broad: sh runs other programs"),
        "{shell:?}"
    );
    let git = bounded!(procbox(&[
        "explain",
        "--allow-run=git log **",
        "--confine=off",
        "--",
        "git",
        "log"
    ]));
    assert!(
        git.stderr.contains("rule 'git log **' is broad") && git.stderr.contains("--output"),
        "{git:?}"
    );
    // Narrow arguments are not broad; confinement neutralises the rest.
    let narrow = bounded!(procbox(&[
        "explain",
        "--allow-run=git log --oneline",
        "--confine=off",
        "--",
        "git",
        "log",
        "--oneline"
    ]));
    assert_eq!(warned(&narrow), 0, "{narrow:?}");
    let confined = bounded!(procbox(&["explain", "--allow-run=sh", "--", "sh"]));
    assert_eq!(warned(&confined), 0, "{confined:?}");
}

#[tokio::test]
async fn a_writable_directory_with_a_git_repository_or_shell_start_up_files_is_flagged() {
    for planted in [".git", ".bashrc"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(planted)).unwrap();
        let write = format!("--allow-write={}", dir.path().display());
        let run = bounded!(procbox(&["explain", &write, "--allow-run=true", "--", "true"]));
        // It stays read-only inside the grant, and explain says so.
        let protected = format!(
            "protected, read-only unless granted by name: {}",
            dir.path().join(planted).display()
        );
        assert!(run.stdout.contains(&protected), "{planted}: {run:?}");
    }
    let clean = tempfile::tempdir().unwrap();
    let write = format!("--allow-write={}", clean.path().display());
    let run = bounded!(procbox(&["explain", &write, "--allow-run=true", "--", "true"]));
    assert!(!run.stdout.contains("protected"), "{run:?}");
}

#[tokio::test]
async fn du_sort_head_on_a_large_directory_succeeds_on_the_first_try() {
    // The first pipeline of a new user: one run, grants named once. 5000
    // entries make about 200 KB of `du` output, more than a pipe holds.
    let dir = tempfile::tempdir().unwrap();
    for d in 0..50 {
        let sub = dir.path().join(format!("directory-{d:02}"));
        std::fs::create_dir(&sub).unwrap();
        for f in 0..100 {
            std::fs::write(sub.join(format!("file-with-a-longish-name-{f:03}")), "x".repeat(f * 10)).unwrap();
        }
    }
    let read = format!("--allow-read={}", dir.path().display());
    let run = bounded!(procbox_run(
        guests::DU_SORT_HEAD,
        &["--allow-run=du,sort,head", &read],
        &[dir.path().to_str().unwrap()]
    ));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout.trim().lines().count(), 5, "{run:?}");
}

#[tokio::test]
async fn verbose_demo_prints_each_command() {
    let run = bounded!(procbox(&["-v", "demo"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    for program in ["echo", "cat", "grep"] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains("$ ") && l.contains(&format!("/{program}"))),
            "-v printed no `$ .../{program}` line: {}",
            run.stderr
        );
    }
}

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

/// [`on_a_terminal_thinking`], answering at once.
async fn on_a_terminal(args: &[&str], early: &str, answers: &[&str]) -> (Option<i32>, String) {
    on_a_terminal_thinking(args, early, answers, std::time::Duration::ZERO).await
}

#[tokio::test]
async fn on_a_terminal_the_prompt_allows_once_and_the_budget_waits_for_the_answer() {
    let args = [
        "run",
        guests::SPAWN_OUTCOME,
        "--max-plugin-time=1s",
        "--",
        "stdout:hi",
        "echo",
        "hi",
    ];
    // The person takes longer than the whole budget to answer (the sleep
    // is the person thinking, not a synchronisation): the budget does not
    // run while the question waits.
    let think = std::time::Duration::from_millis(1500);
    let (code, shown) = on_a_terminal_thinking(&args, "", &["o"], think).await;
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("the plugin asks to run: /usr/bin/echo hi"), "{shown}");
    assert!(shown.contains("suggested rule: /usr/bin/echo hi"), "{shown}");
}

#[tokio::test]
async fn on_a_terminal_deny_edit_and_no_prompt_do_what_they_say() {
    let run = |expected: &'static str| ["run", guests::SPAWN_OUTCOME, "--", expected, "echo", "hi"];
    let (code, shown) = on_a_terminal(&run("denied:denied at the prompt"), "", &["d"]).await;
    assert_eq!(code, Some(0), "{shown}");
    // An edited rule is judged like any other: this one allows it.
    // ... for the rest of this run, not remembered ("r").
    let (code, shown) = on_a_terminal(&run("stdout:hi"), "", &["e", "echo **", "r"]).await;
    assert_eq!(code, Some(0), "{shown}");
    // --no-prompt: the plain denial with its fix, and no question.
    let mut args = run("denied:--allow-run").to_vec();
    args.insert(2, "--no-prompt");
    let (code, shown) = on_a_terminal(&args, "", &[]).await;
    assert_eq!(code, Some(0), "{shown}");
    assert!(!shown.contains("answer:"), "{shown}");
}

#[tokio::test]
async fn input_typed_before_the_prompt_is_not_an_answer() {
    // "o" arrives long before the question; it is discarded, and the
    // answer given to the question (deny) is the one that counts.
    let args = [
        "run",
        guests::SPAWN_OUTCOME,
        "--",
        "denied:denied at the prompt",
        "echo",
        "hi",
    ];
    let (code, shown) = on_a_terminal(&args, "o\n", &["d"]).await;
    assert_eq!(code, Some(0), "{shown}");
}

/// A grant store of its own (a config directory) for one test, and a copy
/// of the spawn-outcome plugin in a directory of its own.
struct Remembering {
    dir: tempfile::TempDir,
    plugin: std::path::PathBuf,
}

impl Remembering {
    fn new() -> Remembering {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("chores.wasm");
        std::fs::copy(guests::SPAWN_OUTCOME, &plugin).unwrap();
        Remembering { dir, plugin }
    }

    fn config(&self) -> std::path::PathBuf {
        self.dir.path().join("config")
    }

    fn plugin(&self) -> &str {
        self.plugin.to_str().unwrap()
    }

    /// `procbox ARGS` with this store, not on a terminal.
    async fn procbox(&self, args: &[&str]) -> procbox_tests::Run {
        bounded!(procbox_tests::procbox_with_env(
            &[("PROCBOX_CONFIG_DIR", &self.config())],
            args
        ))
    }

    /// Runs the plugin, not on a terminal, expecting `outcome` of `echo ARG`.
    async fn echo(&self, outcome: &str, arg: &str) -> procbox_tests::Run {
        let plugin = self.plugin.to_str().unwrap();
        let run = self.procbox(&["run", plugin, "--", outcome, "echo", arg]).await;
        assert_eq!(run.code, Some(0), "{run:?}");
        run
    }

    /// Runs the plugin on a terminal (`echo ARG`), answering `answers`.
    async fn echo_on_a_terminal(&self, outcome: &str, arg: &str, answers: &[&str]) -> String {
        self.echo_on_a_terminal_args(&[outcome, "echo", arg], answers).await
    }

    /// Runs the plugin on a terminal with `plugin_args`, answering `answers`.
    async fn echo_on_a_terminal_args(&self, plugin_args: &[&str], answers: &[&str]) -> String {
        let mut args = vec!["run", self.plugin(), "--"];
        args.extend(plugin_args);
        let (code, shown) = on_a_terminal_in(&self.config(), &args, "", answers, std::time::Duration::ZERO).await;
        assert_eq!(code, Some(0), "{shown}");
        shown
    }

    /// The store's entry files.
    fn entries(&self) -> Vec<std::path::PathBuf> {
        let Ok(listing) = std::fs::read_dir(self.config().join("grants")) else {
            return Vec::new();
        };
        let mut found: Vec<_> = listing
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        found.sort();
        found
    }

    /// Embeds `manifest` in the plugin, which changes its bytes.
    async fn change_plugin(&self, manifest: &str) {
        let file = self.dir.path().join(format!("manifest-{}.toml", manifest.len()));
        std::fs::write(&file, manifest).unwrap();
        let embed = bounded!(procbox(&["embed-manifest", self.plugin(), file.to_str().unwrap()]));
        assert_eq!(embed.code, Some(0), "{embed:?}");
    }
}

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

/// The program the attack runs: `escape-probe write PATH`.
const PROBE: &str = env!("CARGO_BIN_EXE_escape-probe");

use procbox_tests::User;

/// Gives `path` and everything under it to nobody (modes unchanged).
fn give_to_nobody(path: &std::path::Path) {
    let status = std::process::Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "chown {}", path.display());
}

impl Remembering {
    /// `procbox ARGS` with this store as `user`, not on a terminal. Nobody
    /// runs under `setpriv` and, for `run`, with `--no-cache` (the test
    /// cache is root's and private).
    async fn procbox_as(&self, user: User, args: &[&str]) -> procbox_tests::Run {
        if user == User::Root {
            return self.procbox(args).await;
        }
        let mut command = procbox_tests::procbox_as(user);
        match args.split_first() {
            Some((&"run", rest)) => command.args(["run", "--no-cache"]).args(rest),
            _ => command.args(args),
        };
        command
            .env("PROCBOX_CONFIG_DIR", self.config())
            .env("PROCBOX_PROGRESS_AFTER_MS", "3600000")
            .env_remove("PROCBOX_LOG")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let out = bounded!(command.output()).expect("start procbox");
        procbox_tests::Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[tokio::test]
async fn a_planted_remembered_entry_cannot_unconfine_or_widen_a_run() {
    for user in procbox_tests::users() {
        a_planted_remembered_entry_cannot_unconfine_or_widen_a_run_as(user).await;
    }
}

/// The planted-entry attack with procbox run as `user`: as nobody, the
/// store (directory 0700, entry 0600), the plugin and the directory the
/// child aims at all belong to nobody, so only confinement stops the write
/// and only this user could have written the entry.
async fn a_planted_remembered_entry_cannot_unconfine_or_widen_a_run_as(user: User) {
    use std::os::unix::fs::PermissionsExt;
    let store = Remembering::new();
    // What an attacker who can write the store plants for this plugin's
    // bytes: a rule it wants, and keys that would let its child write
    // anywhere (no confinement, a write grant, the network, ...).
    let bytes = std::fs::read(&store.plugin).unwrap();
    let hash = procbox::grants::broker::PluginIdentity::of("chores.wasm", &bytes).blake3;
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("written");
    let grants = store.config().join("grants");
    std::fs::create_dir_all(&grants).unwrap();
    std::fs::set_permissions(&grants, std::fs::Permissions::from_mode(0o700)).unwrap();
    let entry = grants.join(format!("{hash}.toml"));
    let planted = format!(
        r#"allow-run = ["{PROBE} write **"]
deny-run = ["/usr/bin/rm **"]
allow-env = ["LANG=C"]
confine = "off"
contain = "off"
allow-write = ["{outside}"]
allow-child-net = ["all"]
allow-inherit = true
allow-net = true
allow-helper = ["/usr/bin"]

[limits]
max-children = 100000
max-runtime = "1m"

[remembered]
plugin = "chores.wasm"
path = "{plugin}"
blake3 = "{hash}"
"#,
        outside = outside.path().display(),
        plugin = store.plugin(),
    );
    std::fs::write(&entry, planted).unwrap();
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o600)).unwrap();
    if user == User::Nobody {
        // The plugin, the store and its entry, and the directory the child
        // aims at: nobody's, so the entry is trusted and nothing but
        // confinement keeps the child from writing there.
        give_to_nobody(store.dir.path());
        give_to_nobody(outside.path());
    }
    // A run with no flags: the planted rule is used (the probe runs), but
    // the child is confined, so its write outside its grants fails.
    let target_str = target.to_str().unwrap();
    let run = store
        .procbox_as(
            user,
            &[
                "run",
                store.plugin(),
                "--",
                "fails:Permission denied",
                PROBE,
                "write",
                target_str,
            ],
        )
        .await;
    assert_eq!(run.code, Some(0), "as {user:?}: {run:?}");
    assert!(
        !target.exists(),
        "as {user:?}: the child wrote outside its grants: {run:?}"
    );
    // One warning per refused key, naming the file and the way to grant it.
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("procbox: warning:") && l.contains(entry.to_str().unwrap()))
        .collect();
    for key in [
        "confine",
        "contain",
        "allow-write",
        "allow-child-net",
        "allow-inherit",
        "allow-net",
        "allow-helper",
        "max-children",
    ] {
        let named: Vec<_> = warnings.iter().filter(|l| l.contains(&format!("`{key} ="))).collect();
        assert_eq!(named.len(), 1, "as {user:?}: {key}: {run:?}");
        assert!(named[0].contains("--grants FILE"), "as {user:?}: {key}: {run:?}");
    }
    assert_eq!(warnings.len(), 8, "as {user:?}: {run:?}");
    // What is used is said in full: every rule and key, never "and more".
    let using = run
        .stderr
        .lines()
        .find(|l| l.starts_with("procbox: using grants you remembered for chores.wasm"))
        .unwrap_or_else(|| panic!("as {user:?}: no using line: {run:?}"));
    for used in [
        &format!("--allow-run='{PROBE} write **'"),
        "--deny-run='/usr/bin/rm **'",
        "--allow-env=LANG=C",
        "--max-runtime=1m",
    ] {
        assert!(using.contains(used), "as {user:?}: {used} is not in {using:?}");
    }
    assert!(
        !using.contains("and more") && !using.contains("max-children"),
        "as {user:?}: {using:?}"
    );
    // `procbox grants show` and `list` say what a run does not use.
    let show = store.procbox_as(user, &["grants", "show", store.plugin()]).await;
    assert_eq!(show.code, Some(0), "as {user:?}: {show:?}");
    assert!(
        show.stdout.contains("# not used by any run") && show.stdout.contains("#   `confine = \"off\"`"),
        "as {user:?}: {show:?}"
    );
    let list = store.procbox_as(user, &["grants", "list"]).await;
    assert!(
        list.stdout.contains("\n  not used: `confine = \"off\"`") && list.stdout.contains("`allow-write = ["),
        "as {user:?}: {list:?}"
    );
}
