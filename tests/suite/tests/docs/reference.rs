//! docs/reference.md names every subcommand and flag that `procbox
//! SUBCOMMAND --help` lists, every key of a grants file and of a worker's
//! worker.toml; CI runs the README's two commands.

use super::*;

/// docs/reference.md.
fn reference() -> String {
    std::fs::read_to_string(repo().join("docs/reference.md")).expect("docs/reference.md")
}

/// The text of `doc`'s section under the heading `title` (any level), up
/// to the next heading of the same or a higher level (headings inside
/// fenced code blocks, such as TOML comments, are not headings).
fn section<'a>(doc: &'a str, title: &str) -> &'a str {
    let mut start = None;
    let mut level = 0;
    let mut offset = 0;
    let prose = prose_lines(doc);
    for (line, prose) in doc
        .split_inclusive('\n')
        .zip(prose.iter().map(String::as_str).chain(std::iter::repeat("")))
    {
        if let Some(text) = heading(prose) {
            let hashes = prose.trim_start().chars().take_while(|c| *c == '#').count();
            match start {
                None if text == title => {
                    start = Some(offset + line.len());
                    level = hashes;
                }
                Some(from) if hashes <= level => return &doc[from..offset],
                _ => {}
            }
        }
        offset += line.len();
    }
    match start {
        Some(from) => &doc[from..],
        None => panic!("docs/reference.md has no section {title:?}"),
    }
}

/// Whether `text` names `word` whole: not as a part of a longer name
/// (`--allow-run` is not in `--allow-running`).
fn names(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let after = text[at + word.len()..].chars().next();
        let before = text[..at].chars().next_back();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_');
        // A flag may follow anything (`--x` in `procbox --x`); a word may
        // not be the end of a longer one.
        let starts_whole = word.starts_with('-') || !part(before);
        !part(after) && starts_whole
    })
}

/// Whether a section names the TOML key `key`: in backticks, as a table
/// (`[limits]`, `[[run]]`, `[plugins.NAME.limits]`), or as the key of a
/// `key = value` line of an example.
fn names_key(text: &str, key: &str) -> bool {
    text.contains(&format!("`{key}`"))
        || text.contains(&format!("`{key} "))
        || text.contains(&format!("[{key}]"))
        || text.contains(&format!(".{key}]"))
        || text.lines().any(|line| {
            let line = line.trim_start().trim_start_matches('#').trim_start();
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
}

/// `procbox ARGS --help`, which must succeed.
async fn help(args: &[&str]) -> String {
    let mut argv = args.to_vec();
    argv.push("--help");
    let run = bounded!(procbox(&argv));
    assert_eq!(run.code, Some(0), "procbox {argv:?}: {run:?}");
    run.stdout
}

#[tokio::test]
async fn the_reference_names_every_subcommand_and_flag() {
    let reference = reference();
    let mut missing = Vec::new();
    let top = help(&[]).await;
    let mut pages: Vec<(Vec<String>, String)> = vec![(Vec::new(), top.clone())];
    let subcommands = commands_in(&top);
    assert!(subcommands.len() >= 12, "{subcommands:?}");
    for sub in &subcommands {
        if sub == "worker" {
            // Its flags are procbox-worker's, which `procbox worker` runs.
            let worker = procbox_bin().with_file_name("procbox-worker");
            if !worker.exists() {
                let why = format!(
                    "{} is not built (`cargo build -p procbox-worker`): its flags are not checked",
                    worker.display()
                );
                assert!(std::env::var_os("PROCBOX_REQUIRE_TEMPORAL").is_none(), "{why}");
                procbox_tests::skip(&why);
                pages.push((vec![sub.clone()], String::new()));
                continue;
            }
        }
        let page = help(&[sub]).await;
        if page.contains("Commands:\n") {
            for inner in commands_in(&page) {
                let inner_page = help(&[sub, &inner]).await;
                pages.push((vec![sub.clone(), inner], inner_page));
            }
        }
        pages.push((vec![sub.clone()], page));
    }
    for (command, page) in &pages {
        let name = std::iter::once("procbox")
            .chain(command.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        if !command.is_empty() && !names(&reference, &name) {
            missing.push(format!("`{name}` is not in docs/reference.md"));
        }
        for flag in flags_in(page) {
            if !names(&reference, &flag) {
                missing.push(format!("{flag} (of `{name}`) is not in docs/reference.md"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// The keys serde names when it meets an unknown one in `error`
/// ("unknown field `x`, expected one of `a`, `b`").
fn expected_keys(error: &str) -> Vec<String> {
    let keys: Vec<String> = error.split('`').skip(3).step_by(2).map(str::to_string).collect();
    assert!(!keys.is_empty(), "{error}");
    keys
}

#[test]
fn the_reference_names_every_key_of_a_grants_file() {
    let path = Path::new("g.toml");
    let top = expected_keys(
        &document::parse("no-such-key = 1", path, Kind::Grants)
            .unwrap_err()
            .to_string(),
    );
    assert!(top.contains(&"allow-run".to_string()), "{top:?}");
    let run = expected_keys(
        &document::parse("[[run]]\nprogram = \"x\"\nno-such-key = 1\n", path, Kind::Grants)
            .unwrap_err()
            .to_string(),
    );
    let plugin = expected_keys(
        &document::parse("[plugin]\nno-such-key = 1\n", path, Kind::Manifest)
            .unwrap_err()
            .to_string(),
    );
    let limits = KNOBS.iter().map(|k| k.name.to_string());
    let reference = reference();
    let grants = section(&reference, "The grants file");
    // `remembered` belongs to the grant store's entries and `path` to
    // worker.toml: each has its own section.
    let own_section = ["remembered", "path"];
    let mut missing: Vec<String> = top
        .iter()
        .filter(|k| !own_section.contains(&k.as_str()))
        .cloned()
        .chain(run.iter().map(|k| format!("[[run]] {k}")))
        .chain(plugin.iter().map(|k| format!("[plugin] {k}")))
        .chain(limits.map(|k| format!("[limits] {k}")))
        .filter(|key| !names_key(grants, key.rsplit(' ').next().unwrap()))
        .collect();
    if !names_key(section(&reference, "The grant store"), "remembered") {
        missing.push("[remembered] (in \"The grant store\")".into());
    }
    assert!(
        missing.is_empty(),
        "not in docs/reference.md, \"The grants file\": {missing:?}"
    );
}

#[test]
fn the_reference_names_every_key_of_worker_toml() {
    let path = Path::new("/etc/procbox/worker.toml");
    let top = expected_keys(&worker_file::parse("no-such-key = 1\n", path).unwrap_err().to_string());
    let table = expected_keys(
        &worker_file::parse("[plugins.x]\npath = \"x.wasm\"\nno-such-key = 1\n", path)
            .unwrap_err()
            .to_string(),
    );
    assert!(
        table.contains(&"path".to_string()) && table.contains(&"allow-run".to_string()),
        "{table:?}"
    );
    let reference = reference();
    let worker = section(&reference, "worker.toml");
    let grants = section(&reference, "The grants file");
    // A table takes the keys of a grants file: "The grants file" names
    // them, "worker.toml" the ones of its own.
    let not_in_worker = ["remembered", "plugin"];
    let missing: Vec<&String> = top
        .iter()
        .filter(|k| !names_key(worker, k))
        .chain(
            table
                .iter()
                .filter(|k| !not_in_worker.contains(&k.as_str()))
                .filter(|k| !names_key(worker, k) && !names_key(grants, k)),
        )
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/reference.md, \"worker.toml\": {missing:?}"
    );
}

/// The README's two commands at its top are what CI runs: the test command
/// as written, and the demo as the program `cargo run --bin NAME` starts
/// (`.ci/run` runs the binary the test build made rather than build it
/// again with other features). The first-plugin blocks run in the
/// scaffold and language tests (`procbox_tests::readme`).
#[test]
fn ci_runs_the_readme_s_two_commands() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("README.md starts with a sh block");
    let commands: Vec<&str> = block
        .lines()
        .map(|line| line.split(" #").next().unwrap().trim())
        .collect();
    let [demo, tests] = commands[..] else {
        panic!("README.md's first block is not the two commands: {block}")
    };
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    let runs = |command: &str| ci.lines().any(|line| line.trim() == command);
    assert!(runs(tests), ".ci/run does not run the README's test command {tests:?}");
    let bin = demo
        .split("cargo run --bin ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(" -- demo"))
        .unwrap_or_else(|| panic!("the demo command {demo:?} is not `cargo run --bin NAME -- demo`"));
    assert!(
        runs(&format!("target/debug/{bin} demo")),
        ".ci/run does not run target/debug/{bin} demo"
    );
    assert_eq!(procbox_bin().file_name().unwrap(), bin, "the demo runs another program");
}
