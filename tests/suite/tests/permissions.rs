//! Permissions people can live with: denials that name their fix, the
//! habits of the ecosystem (`--allow-run git,wc`, no `--allow-all`, a URL
//! is not a file), broad grants flagged at start-up, the prompt on a
//! terminal, and the grants it remembers per plugin.

use procbox_tests::terminal::{on_a_terminal_in, on_a_terminal_thinking};
use procbox_tests::{bounded, guests, procbox, procbox_run};

mod embedded;
mod planted;
mod prompt;
mod remembered;

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

/// [`on_a_terminal_thinking`], answering at once.
async fn on_a_terminal(args: &[&str], early: &str, answers: &[&str]) -> (Option<i32>, String) {
    on_a_terminal_thinking(args, early, answers, std::time::Duration::ZERO).await
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
