//! No rot in the documentation.
//!
//! - Every relative link and `#anchor` of every Markdown file of the
//!   repository resolves (anchors by GitHub's rules), and no link leaves
//!   the repository.
//! - Every repository path written in backticks exists: a code span whose
//!   first word starts with a top-level directory of the repository and
//!   `/` (`host/procbox/src/spawn/spawner.rs`, `tests/suite/tests/`), unless it is a glob or a
//!   placeholder (`host/procbox/src/**`, `{a,b}`, `<dir>`, `...`) or one of
//!   [`NOT_PATHS`].
//! - docs/reference.md names every subcommand and every flag that
//!   `procbox SUBCOMMAND --help` lists, every key of a grants file and
//!   every key of a worker's worker.toml.
//!
//! Each failure names the file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use procbox::policy::document::{self, Kind};
use procbox::policy::{worker_file, KNOBS};
use procbox_tests::help::{commands_in, flags_in};
use procbox_tests::{bounded, procbox, procbox_bin};

mod markdown;
mod reference;

use markdown::{anchors, code_spans, heading, is_external, link_targets, normalize, prose_lines, slug};

/// Code spans that look like repository paths but are not: placeholders
/// and other projects' files.
const NOT_PATHS: &[&str] = &[
    // One scenario guest per test: NAME is the scenario.
    "tests/fixtures/rust/scenarios/src/bin/NAME.rs",
    // containerd's configuration reference, cited by docs/fleet.md.
    "docs/cri/config.md",
];

/// Directories never searched for Markdown: build output, installed
/// packages and git's own. Third-party files vendored as they are (the
/// WASI packages below `wit/deps/`) are skipped by [`vendored`].
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", ".git", "__pycache__"];

fn repo() -> PathBuf {
    // This crate is tests/suite.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the repository")
        .to_path_buf()
}

/// Whether `rel` (relative to the repository) is a directory of vendored
/// third-party files: the packages below `wit/deps/` (whose README is
/// procbox's own).
fn vendored(rel: &Path) -> bool {
    rel.starts_with("wit/deps") && rel.components().count() > 2
}

/// Every Markdown file of the repository, relative to its root, sorted.
fn markdown_files() -> Vec<PathBuf> {
    files_named(|name| name.ends_with(".md"))
}

/// Every file of the repository (outside build output and vendored
/// packages) whose name `wanted` accepts, relative to its root, sorted.
fn files_named(wanted: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, wanted: &dyn Fn(&str) -> bool, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_str()) && !vendored(&rel) {
                    walk(root, &path, wanted, found);
                }
            } else if kind.is_file() && wanted(&name) {
                found.push(rel);
            }
        }
    }
    let root = repo();
    let mut found = Vec::new();
    walk(&root, &root, &wanted, &mut found);
    found.sort();
    found
}

/// The repository's top-level directories: a code span that starts with
/// one of them and `/` is a path.
fn top_level_dirs() -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(repo())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "target" && name != ".git")
        .collect();
    dirs.sort();
    dirs
}

/// A Markdown file, read for its prose: fenced code blocks are blanked
/// (their lines kept, so that line numbers hold), inline code is collected
/// with its line and masked out of the text links are looked for in.
struct Doc {
    /// The file, relative to the repository.
    rel: PathBuf,
    /// Each line outside fenced code blocks (those inside are empty).
    lines: Vec<String>,
    /// `(line, content)` of every code span outside fenced blocks.
    code_spans: Vec<(usize, String)>,
    /// The prose with every code span replaced by spaces, one string per
    /// line.
    masked: Vec<String>,
}

impl Doc {
    fn read(rel: &Path) -> Doc {
        let text = std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        let lines = prose_lines(&text);
        let (code_spans, masked) = code_spans(&lines);
        Doc {
            rel: rel.to_path_buf(),
            lines,
            code_spans,
            masked,
        }
    }

    /// `file:line` for messages.
    fn at(&self, line: usize) -> String {
        format!("{}:{line}", self.rel.display())
    }
}

#[test]
fn slugs_follow_githubs_rules() {
    assert_eq!(slug("The grants file"), "the-grants-file");
    assert_eq!(slug("On a fleet: `procbox worker`"), "on-a-fleet-procbox-worker");
    assert_eq!(
        slug("Run 15 (2026-12-06, session 12): the spawn path after \"a PID namespace per run\""),
        "run-15-2026-12-06-session-12-the-spawn-path-after-a-pid-namespace-per-run"
    );
    assert_eq!(
        slug("The kernel decides: `--confine` and `procbox doctor`"),
        "the-kernel-decides---confine-and-procbox-doctor"
    );
    assert_eq!(slug("[`Command`](x.md) and max_children"), "command-and-max_children");
    let doc = Doc {
        rel: "x.md".into(),
        lines: ["# A", "## B", "## B", "### b", "#nope"].map(String::from).to_vec(),
        code_spans: Vec::new(),
        masked: Vec::new(),
    };
    let found: Vec<String> = anchors(&doc).into_iter().collect();
    assert_eq!(found, ["a", "b", "b-1", "b-2"]);
}

#[test]
fn code_spans_and_links_are_found_where_markdown_puts_them() {
    let lines =
        prose_lines("a `x` b\n```sh\n[no](link.md) `no`\n```\nc `host/procbox/src/\nlib.rs` [yes](y.md#z)\n\nd\n");
    let (spans, masked) = code_spans(&lines);
    assert_eq!(
        spans,
        [(1, "x".to_string()), (5, "host/procbox/src/ lib.rs".to_string())]
    );
    let links: Vec<String> = masked.iter().flat_map(|l| link_targets(l)).collect();
    assert_eq!(links, ["y.md#z"]);
    assert_eq!(
        link_targets("see [a](b.md \"title\") and [c](<d e.md>)"),
        ["b.md", "d e.md"]
    );
    assert!(is_external("https://example.com/x") && is_external("mailto:a@b.c"));
    assert!(!is_external("docs/guide.md#a") && !is_external("#x"));
}

#[test]
fn every_relative_link_and_anchor_in_the_markdown_resolves() {
    let root = repo();
    let files = markdown_files();
    assert!(files.iter().any(|f| f == Path::new("README.md")), "{files:?}");
    assert!(files.iter().any(|f| f == Path::new("docs/reference.md")), "{files:?}");
    let docs: BTreeMap<PathBuf, Doc> = files.iter().map(|f| (f.clone(), Doc::read(f))).collect();
    let anchors: BTreeMap<&PathBuf, BTreeSet<String>> = docs.iter().map(|(p, d)| (p, anchors(d))).collect();
    let mut broken = Vec::new();
    let mut checked = 0;
    for doc in docs.values() {
        let dir = doc.rel.parent().unwrap_or(Path::new(""));
        for (i, line) in doc.masked.iter().enumerate() {
            for dest in link_targets(line) {
                if dest.is_empty() || is_external(&dest) {
                    continue;
                }
                checked += 1;
                let (path, anchor) = match dest.split_once('#') {
                    Some((p, a)) => (p, Some(a)),
                    None => (dest.as_str(), None),
                };
                let path = path.replace("%20", " ");
                let target = if path.is_empty() {
                    Some(doc.rel.clone())
                } else if let Some(from_root) = path.strip_prefix('/') {
                    normalize(Path::new(from_root))
                } else {
                    normalize(&dir.join(&path))
                };
                let Some(target) = target else {
                    broken.push(format!("{}: {dest}: leaves the repository", doc.at(i + 1)));
                    continue;
                };
                if !root.join(&target).exists() {
                    broken.push(format!(
                        "{}: {dest}: {} does not exist",
                        doc.at(i + 1),
                        target.display()
                    ));
                    continue;
                }
                let Some(anchor) = anchor.filter(|a| !a.is_empty()) else {
                    continue;
                };
                if let Some(known) = anchors.get(&target) {
                    if !known.contains(anchor) {
                        broken.push(format!(
                            "{}: {dest}: {} has no heading with the anchor #{anchor}",
                            doc.at(i + 1),
                            target.display()
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} links found: is the parser broken?");
    assert!(
        broken.is_empty(),
        "{} broken links:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[test]
fn every_repository_path_in_backticks_exists() {
    let root = repo();
    let tops = top_level_dirs();
    assert!(
        tops.iter().any(|t| t == "host") && tops.iter().any(|t| t == "docs"),
        "{tops:?}"
    );
    let mut missing = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let doc = Doc::read(&file);
        for (line, span) in &doc.code_spans {
            let Some(word) = span.split_whitespace().next() else {
                continue;
            };
            if !tops.iter().any(|t| word.starts_with(&format!("{t}/"))) {
                continue;
            }
            // `host/procbox/src/lib.rs:42` names a line of the file.
            let word = match word.rsplit_once(':') {
                Some((path, line)) if line.chars().all(|c| c.is_ascii_digit()) => path,
                _ => word,
            };
            let placeholder = word.contains(['*', '?', '[', ']', '{', '}', '<', '>', '$', '…']) || word.contains("...");
            let path_like = word.chars().all(|c| c.is_alphanumeric() || "._-/+@".contains(c));
            if placeholder || !path_like || NOT_PATHS.contains(&word) {
                continue;
            }
            checked += 1;
            if !root.join(word).exists() {
                missing.push(format!("{}: `{word}` does not exist", doc.at(*line)));
            }
        }
    }
    assert!(checked > 50, "only {checked} paths found: is the parser broken?");
    assert!(
        missing.is_empty(),
        "{} missing paths:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

#[test]
fn nothing_cites_a_file_outside_the_repository() {
    let text_file = |name: &str| {
        let sources = [".md", ".rs", ".py", ".js", ".mjs", ".ts", ".sh", ".toml", ".wit"];
        sources.iter().any(|ext| name.ends_with(ext)) || name == "run"
    };
    let this_test = Path::new(file!()).file_name().unwrap();
    let mut cited = Vec::new();
    for file in files_named(text_file) {
        if file.starts_with("tests") && file.file_name() == Some(this_test) {
            continue; // it names what it looks for
        }
        let text = std::fs::read_to_string(repo().join(&file)).unwrap();
        for (i, line) in text.lines().enumerate() {
            for outside in ["../shared", "NOTES-", "BRIEF.md"] {
                if line.contains(outside) {
                    cited.push(format!("{}:{}: {outside}", file.display(), i + 1));
                }
            }
        }
    }
    assert!(cited.is_empty(), "{}", cited.join("\n"));
}
