//! No rot in the documentation.
//!
//! - Every relative link and `#anchor` of every Markdown file of the
//!   repository resolves (anchors by GitHub's rules), and no link leaves
//!   the repository.
//! - Every repository path written in backticks exists: a code span whose
//!   first word starts with a top-level directory of the repository and
//!   `/` (`host/procbox/src/spawn/spawner.rs`, `tests/tests/`), unless it is a glob or a
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

/// Code spans that look like repository paths but are not: placeholders
/// and other projects' files.
const NOT_PATHS: &[&str] = &[
    // One scenario guest per test: NAME is the scenario.
    "guests/plugins/scenarios/src/bin/NAME.rs",
    // containerd's configuration reference, cited by docs/fleet.md.
    "docs/cri/config.md",
];

/// Directories never searched for Markdown: build output, installed
/// packages and git's own. Third-party files vendored as they are (the
/// WASI packages below `wit/deps/`) are skipped by [`vendored`].
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", ".git", "__pycache__"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
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

/// The lines of `text`, with those of fenced code blocks (``` or ~~~,
/// their fences included) made empty.
fn prose_lines(text: &str) -> Vec<String> {
    let mut fence: Option<(char, usize)> = None;
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
            let run = marker.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
            match fence {
                Some((c, n)) => {
                    if marker == Some(c) && run >= n && trimmed[run..].trim().is_empty() {
                        fence = None;
                    }
                    String::new()
                }
                None if run >= 3 && line.len() - trimmed.len() <= 3 => {
                    fence = Some((marker.unwrap(), run));
                    String::new()
                }
                None => line.to_string(),
            }
        })
        .collect()
}

/// The code spans of `lines` (a span may continue on the next line of its
/// paragraph, never past a blank line) with the line each starts on, and
/// the lines with every span (backticks included) replaced by spaces.
fn code_spans(lines: &[String]) -> (Vec<(usize, String)>, Vec<String>) {
    let mut spans = Vec::new();
    let mut masked: Vec<String> = lines.to_vec();
    // Paragraphs: runs of non-blank lines, joined with '\n'.
    let mut start = 0;
    while start < lines.len() {
        if lines[start].trim().is_empty() {
            start += 1;
            continue;
        }
        let end = (start..lines.len())
            .find(|&i| lines[i].trim().is_empty())
            .unwrap_or(lines.len());
        let text: Vec<char> = lines[start..end].join("\n").chars().collect();
        let mut out = text.clone();
        let mut i = 0;
        while i < text.len() {
            if text[i] == '\\' {
                i += 2;
                continue;
            }
            if text[i] != '`' {
                i += 1;
                continue;
            }
            let n = text[i..].iter().take_while(|c| **c == '`').count();
            // The closing run: exactly n backticks.
            let mut j = i + n;
            let mut close = None;
            while j < text.len() {
                if text[j] == '`' {
                    let m = text[j..].iter().take_while(|c| **c == '`').count();
                    if m == n {
                        close = Some(j);
                        break;
                    }
                    j += m;
                } else {
                    j += 1;
                }
            }
            match close {
                Some(j) => {
                    let content: String = text[i + n..j].iter().collect();
                    let line = start + 1 + text[..i].iter().filter(|c| **c == '\n').count();
                    spans.push((line, content.replace('\n', " ")));
                    for c in &mut out[i..j + n] {
                        if *c != '\n' {
                            *c = ' ';
                        }
                    }
                    i = j + n;
                }
                None => i += n,
            }
        }
        let joined: String = out.into_iter().collect();
        for (k, line) in joined.split('\n').enumerate() {
            masked[start + k] = line.to_string();
        }
        start = end;
    }
    (spans, masked)
}

/// The link destinations on one line of masked prose: `[text](dest)`,
/// `![alt](dest)`, `<a href="dest">` and reference definitions
/// `[label]: dest`.
fn link_targets(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(at) = line[from..].find("](") {
        let open = from + at + 2;
        let mut depth = 1;
        let mut end = open;
        while end < bytes.len() {
            match bytes[end] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            end += 1;
        }
        let inside = line[open..end].trim();
        let dest = match inside.strip_prefix('<') {
            Some(rest) => rest.split('>').next().unwrap_or(""),
            None => inside.split_whitespace().next().unwrap_or(""),
        };
        found.push(dest.to_string());
        from = end.min(line.len());
    }
    for attr in ["href=\"", "src=\""] {
        let mut from = 0;
        while let Some(at) = line[from..].find(attr) {
            let start = from + at + attr.len();
            let end = line[start..].find('"').map_or(line.len(), |e| start + e);
            found.push(line[start..end].to_string());
            from = end;
        }
    }
    let trimmed = line.trim_start();
    if line.len() - trimmed.len() <= 3 && trimmed.starts_with('[') {
        if let Some((label, rest)) = trimmed[1..].split_once("]:") {
            if !label.is_empty() && !label.contains(']') {
                if let Some(dest) = rest.split_whitespace().next() {
                    found.push(dest.trim_start_matches('<').trim_end_matches('>').to_string());
                }
            }
        }
    }
    found
}

/// Whether `dest` leaves the repository by design: a URL (`https:`,
/// `mailto:`, ...).
fn is_external(dest: &str) -> bool {
    match dest.find(':') {
        Some(colon) => {
            let scheme = &dest[..colon];
            !scheme.is_empty()
                && !scheme.contains('/')
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// `path` with `.` and `..` resolved lexically; `None` if it climbs out of
/// its root.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

/// The anchor GitHub gives a heading's text: inline code and link markup
/// dropped (their text kept), lowercase, every character that is not a
/// letter, digit, space, `-` or `_` removed, spaces made `-`.
fn slug(heading: &str) -> String {
    // [text](dest) -> text
    let mut text = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        match rest[open..].find("](") {
            Some(mid) => {
                let close = rest[open + mid..].find(')').map(|c| open + mid + c);
                match close {
                    Some(close) => {
                        text.push_str(&rest[..open]);
                        text.push_str(&rest[open + 1..open + mid]);
                        rest = &rest[close + 1..];
                    }
                    None => break,
                }
            }
            None => break,
        }
    }
    text.push_str(rest);
    // HTML tags go; their text stays.
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' if !in_tag => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => plain.push(c),
            _ => {}
        }
    }
    plain
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The heading text of an ATX heading line (`## Text ##`), if it is one.
fn heading(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let hashes = trimmed.chars().take_while(|c| *c == '#').count();
    if hashes == 0 || hashes > 6 {
        return None;
    }
    let rest = &trimmed[hashes..];
    if !rest.is_empty() && !rest.starts_with(' ') && !rest.starts_with('\t') {
        return None;
    }
    let text = rest.trim();
    // An optional closing sequence of #s.
    let text = match text.trim_end_matches('#') {
        stripped if stripped.is_empty() || stripped.ends_with(' ') => stripped.trim_end(),
        _ => text,
    };
    Some(text)
}

/// Every anchor of `doc`'s headings, a repeated one numbered `-1`, `-2`,
/// ... as GitHub numbers it.
fn anchors(doc: &Doc) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for line in &doc.lines {
        let Some(text) = heading(line) else { continue };
        let base = slug(text);
        let count = seen.entry(base.clone()).or_insert(0);
        let anchor = if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        };
        *count += 1;
        anchors.insert(anchor);
    }
    anchors
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
                eprintln!("skipped: {why}");
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
    let top = expected_keys(&document::parse("no-such-key = 1", path, Kind::Grants).unwrap_err());
    assert!(top.contains(&"allow-run".to_string()), "{top:?}");
    let run =
        expected_keys(&document::parse("[[run]]\nprogram = \"x\"\nno-such-key = 1\n", path, Kind::Grants).unwrap_err());
    let plugin = expected_keys(&document::parse("[plugin]\nno-such-key = 1\n", path, Kind::Manifest).unwrap_err());
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
    let top = expected_keys(&worker_file::parse("no-such-key = 1\n", path).unwrap_err());
    let table =
        expected_keys(&worker_file::parse("[plugins.x]\npath = \"x.wasm\"\nno-such-key = 1\n", path).unwrap_err());
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
