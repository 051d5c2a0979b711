//! Denials that name their fix, and the habits of the ecosystem
//! (`--allow-run git,wc`, no `--allow-all`, a URL is not a file).

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
