//! Grants files (`--grants FILE`) and plugin manifests, as TOML.
//!
//! Both use the same keys; a manifest may only *request* (`allow-run`,
//! `allow-env`, `[[run]]` without `deny`) and may describe the plugin. Every
//! rule remembers its file and line, so a denial can say
//! `matches deny rule 'git push **' (grants.toml:7)`.
//!
//! ```toml
//! allow-run = ["git log **", "wc -l *"]
//! deny-run  = ["git push **"]
//! allow-env = ["HOME", "LANG=C*"]
//! dir       = ["."]            # relative to this file's directory
//! allow-read = ["docs"]        # the plugin's own filesystem (read-only)
//! allow-write = ["out"]        # ... and read-write
//! allow-net = false            # the plugin's own sockets
//! confine = "require"          # children: require, best-effort or off
//! contain = "best-effort"      # a PID namespace: require, best-effort or off
//! allow-child-net = ["443"]    # children's network: PORT, bind:PORT, all, unix
//! allow-helper = ["git=/usr/lib/git-core"]  # children may also execute these
//!
//! [[run]]                      # exact argument lists, and pins
//! program = "printf"
//! args = ["%s\n", "hello world"]
//! sha256 = "…64 hex digits…"
//! deny = false
//!
//! [limits]                     # the same names as the flags: see knobs.rs
//! max-children = 8
//! max-spawns = 1000
//! max-runtime = "30s"
//! max-output = "16MiB"
//! rlimit-cpu = 60              # child rlimits, set in each child before exec
//! rlimit-as = "2GiB"
//! rlimit-nofile = 1024
//! rlimit-fsize = "1GiB"
//! rlimit-nproc = 256
//! die-with-procbox = true      # PR_SET_PDEATHSIG
//! max-plugin-memory = "256MiB" # each linear memory of the plugin
//! max-plugin-time = "10m"      # the whole run
//! max-handles = 10000
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::knobs::LimitSettings;
use super::Source;

mod error;
use crate::Strictness;
pub use error::{DocumentError, ValueError};

/// Everything a document says, with sources, before programs are resolved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    /// `allow-run` and `[[run]]` rules.
    pub allow_run: Vec<RunSpec>,
    /// `deny-run` and `[[run]] deny = true` rules.
    pub deny_run: Vec<RunSpec>,
    /// `allow-env` rules, as written, with their lines.
    pub env: Vec<(String, Source)>,
    /// `dir`: where children may run (relative to the file's directory).
    pub dirs: Vec<PathBuf>,
    /// `allow-read`: the plugin's own read-only directories.
    pub read_dirs: Vec<PathBuf>,
    /// `allow-write`: the plugin's own read-write directories.
    pub write_dirs: Vec<PathBuf>,
    /// `allow-net`: the plugin's own sockets.
    pub network: bool,
    /// `allow-inherit`: children may use procbox's own streams.
    pub allow_inherit: bool,
    /// `strict-programs`: refuse granted programs the plugin could change.
    pub strict_programs: bool,
    /// `confine`: how strictly the kernel must confine children.
    pub confine: Option<Strictness>,
    /// `contain`: how strictly the kernel must contain children.
    pub contain: Option<Strictness>,
    /// `allow-child-net`: the network children may use, as written.
    pub child_net: Vec<(String, Source)>,
    /// `allow-helper`: executables children may run besides their program.
    pub helpers: Vec<(String, Source)>,
    /// `[limits]`.
    pub limits: LimitSettings,
    /// `[plugin]`: what a manifest says about its plugin.
    pub plugin: Option<PluginInfo>,
}

/// One exec rule as a document states it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// The one-word form, or the program for the list form.
    pub written: String,
    /// For the list form: the program and its argument patterns.
    pub parts: Option<(String, Option<Vec<String>>)>,
    /// A required SHA-256 of the program file.
    pub sha256: Option<[u8; 32]>,
    /// The file and line.
    pub source: Source,
}

/// What a manifest says about its plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginInfo {
    /// The plugin's name, for people (never trusted as an identity).
    pub name: Option<String>,
    /// One line on what it does.
    pub description: Option<String>,
    /// Its version.
    pub version: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct Raw {
    #[serde(default)]
    allow_run: Vec<Spanned<String>>,
    #[serde(default)]
    deny_run: Vec<Spanned<String>>,
    #[serde(default)]
    allow_env: Vec<Spanned<String>>,
    #[serde(default)]
    dir: Vec<String>,
    #[serde(default)]
    allow_read: Vec<String>,
    #[serde(default)]
    allow_write: Vec<String>,
    #[serde(default)]
    allow_net: bool,
    #[serde(default)]
    allow_inherit: bool,
    #[serde(default)]
    strict_programs: bool,
    #[serde(default)]
    run: Vec<Spanned<RawRun>>,
    confine: Option<String>,
    contain: Option<String>,
    #[serde(default)]
    allow_child_net: Vec<Spanned<String>>,
    #[serde(default)]
    allow_helper: Vec<Spanned<String>>,
    limits: Option<LimitSettings>,
    plugin: Option<PluginInfo>,
    /// Which plugin a remembered grant belongs to (read by the grant store).
    remembered: Option<toml::Table>,
    /// The plugin file a worker serves (`worker.toml` only).
    pub(super) path: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    program: String,
    args: Option<Vec<String>>,
    sha256: Option<String>,
    #[serde(default)]
    deny: bool,
}

/// Which kind of document is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The user's grants.
    Grants,
    /// The plugin's requests.
    Manifest,
    /// Grants remembered for one plugin (the `grants` layer's): a grants
    /// file with a `[remembered]` table that says for which plugin.
    Remembered,
    /// One `[plugins.NAME]` table of a worker's `worker.toml`
    /// ([`super::worker_file`]): a grants file with the plugin's `path`.
    WorkerPlugin,
}

/// Reads and parses a document file.
///
/// # Errors
/// [`DocumentError`]: its message starts with the file name (and line,
/// where known).
pub fn read(path: &Path, kind: Kind) -> Result<Document, DocumentError> {
    let text = std::fs::read_to_string(path).map_err(|source| DocumentError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path, kind)
}

/// Parses a document; `path` names it in sources and anchors its relative
/// directories.
///
/// # Errors
/// [`DocumentError`]: its message starts with the file name (and line,
/// where known).
pub fn parse(text: &str, path: &Path, kind: Kind) -> Result<Document, DocumentError> {
    from_raw(deserialize(text, path)?, text, path, kind)
}

/// `text` as TOML of the type `T`; the error names the file and line.
pub(super) fn deserialize<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, DocumentError> {
    toml::from_str(text).map_err(|e| DocumentError::Syntax {
        path: path.to_path_buf(),
        line: e.span().map(|s| line_of(text, s.start)),
        message: e.message().to_string(),
    })
}

/// The document that `raw`, read from `text` (the file `path`), states.
/// Its spans are offsets into `text`, so a table nested in a larger file
/// (a worker's `[plugins.NAME]`) still names the file's own lines.
pub(super) fn from_raw(raw: Raw, text: &str, path: &Path, kind: Kind) -> Result<Document, DocumentError> {
    refuse_misplaced_keys(&raw, text, path, kind)?;
    let source = |span: std::ops::Range<usize>| Source::File {
        path: path.to_path_buf(),
        line: line_of(text, span.start),
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let relative = |dirs: Vec<String>| dirs.into_iter().map(|d| base.join(d)).collect::<Vec<_>>();
    let mut doc = Document::default();
    let written = |rule: Spanned<String>| RunSpec {
        source: source(rule.span()),
        written: rule.into_inner(),
        parts: None,
        sha256: None,
    };
    doc.allow_run = raw.allow_run.into_iter().map(written).collect();
    doc.deny_run = raw.deny_run.into_iter().map(written).collect();
    for run in raw.run {
        let deny = run.get_ref().deny;
        let spec = run_table(run, source)?;
        match deny {
            true => doc.deny_run.push(spec),
            false => doc.allow_run.push(spec),
        }
    }
    doc.env = raw
        .allow_env
        .into_iter()
        .map(|e| (e.get_ref().clone(), source(e.span())))
        .collect();
    doc.dirs = relative(raw.dir);
    doc.read_dirs = relative(raw.allow_read);
    doc.write_dirs = relative(raw.allow_write);
    doc.network = raw.allow_net;
    doc.allow_inherit = raw.allow_inherit;
    doc.strict_programs = raw.strict_programs;
    doc.limits = raw.limits.unwrap_or_default();
    doc.plugin = raw.plugin;
    doc.confine = parsed_key::<Strictness>(raw.confine, "confine", path)?;
    doc.contain = parsed_key::<Strictness>(raw.contain, "contain", path)?;
    let spanned = |items: Vec<Spanned<String>>| {
        items
            .into_iter()
            .map(|item| (item.get_ref().clone(), source(item.span())))
            .collect::<Vec<_>>()
    };
    doc.child_net = spanned(raw.allow_child_net);
    doc.helpers = spanned(raw.allow_helper);
    if kind == Kind::Manifest {
        check_manifest(&doc, path)?;
    }
    Ok(doc)
}

/// Refuses a key that belongs to another kind of file: `path` (a worker's
/// plugin table) and `[remembered]` (the grant store).
fn refuse_misplaced_keys(raw: &Raw, text: &str, path: &Path, kind: Kind) -> Result<(), DocumentError> {
    if let (Some(key), false) = (&raw.path, kind == Kind::WorkerPlugin) {
        return Err(DocumentError::MisplacedPath {
            path: path.to_path_buf(),
            line: line_of(text, key.span().start),
        });
    }
    if raw.remembered.is_some() && kind != Kind::Remembered {
        return Err(DocumentError::MisplacedRemembered {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// One `[[run]]` table: a program and its arguments as separate words,
/// with an optional digest.
fn run_table(
    run: Spanned<RawRun>,
    source: impl Fn(std::ops::Range<usize>) -> Source,
) -> Result<RunSpec, DocumentError> {
    let src = source(run.span());
    let run = run.into_inner();
    let sha256 = match run.sha256.as_deref().map(parse_sha256) {
        Some(None) => {
            return Err(DocumentError::Sha256 {
                at: src,
                hex: run.sha256.unwrap_or_default(),
            })
        }
        Some(Some(digest)) => Some(digest),
        None => None,
    };
    Ok(RunSpec {
        written: run.program.clone(),
        parts: Some((run.program, run.args)),
        sha256,
        source: src,
    })
}

/// The value of the top-level `key`, parsed; the error names the file and key.
fn parsed_key<T: std::str::FromStr<Err = ValueError>>(
    value: Option<String>,
    key: &'static str,
    path: &Path,
) -> Result<Option<T>, DocumentError> {
    value
        .map(|text| {
            text.parse::<T>().map_err(|why| DocumentError::Value {
                path: path.to_path_buf(),
                key,
                why,
            })
        })
        .transpose()
}

/// A manifest requests; it cannot deny, grant directories or set limits.
fn check_manifest(doc: &Document, path: &Path) -> Result<(), DocumentError> {
    let grants_only = [
        (!doc.deny_run.is_empty(), "deny rules"),
        (!doc.dirs.is_empty(), "`dir`"),
        (
            !doc.read_dirs.is_empty() || !doc.write_dirs.is_empty(),
            "`allow-read`/`allow-write`",
        ),
        (doc.network, "`allow-net`"),
        (doc.allow_inherit, "`allow-inherit`"),
        (doc.strict_programs, "`strict-programs`"),
        (!doc.limits.is_empty(), "`[limits]`"),
        (doc.confine.is_some(), "`confine`"),
        (doc.contain.is_some(), "`contain`"),
        (!doc.child_net.is_empty(), "`allow-child-net`"),
        (!doc.helpers.is_empty(), "`allow-helper`"),
    ];
    match grants_only.iter().find(|(present, _)| *present) {
        Some((_, what)) => Err(DocumentError::GrantsOnly {
            path: path.to_path_buf(),
            what,
        }),
        None => Ok(()),
    }
}

/// Parses a duration such as `30s`, `500ms` or `2m`.
///
/// # Errors
/// [`ValueError::Duration`], which quotes the input.
pub fn parse_duration(text: &str) -> Result<Duration, ValueError> {
    humantime::parse_duration(text).map_err(|why| ValueError::Duration {
        text: text.to_string(),
        why,
    })
}

/// Parses a byte count: a number with an optional `K`, `M` or `G` suffix
/// (binary: `KiB`/`K` = 1024).
///
/// # Errors
/// [`ValueError::Size`], which quotes the input.
pub fn parse_bytes(text: &str) -> Result<u64, ValueError> {
    let not_a_size = || ValueError::Size { text: text.to_string() };
    let trimmed = text.trim();
    let digits = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        _ => return Err(not_a_size()),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(not_a_size)
}

/// The digest `hex` writes, if it is 64 hexadecimal digits.
fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(digest)
}

/// The 1-based line of byte offset `at`.
pub(super) fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests;
