//! Grants broader than they look, reported at start-up (and by `explain`)
//! as [`PolicyWarning`]s:
//! - a rule that lets the plugin run any program or write any file: a
//!   program that runs what it is told (a shell, `env`, an interpreter), or
//!   a rule open at the end (`**`, or no patterns) for a program with
//!   options that write files or run commands (`git log **` allows
//!   `--output`). Not reported while the kernel confines children: their
//!   exec allowlist and write set neutralise both;
//! - a directory the plugin and its children may write that holds `.git`
//!   or shell start-up files: a child can plant a hook that runs later,
//!   outside procbox, whatever the confinement; or that holds procbox's own
//!   state, where a child can plant machine code procbox runs (the
//!   compilation cache) or grants for a later run (the grant store).

use std::path::{Path, PathBuf};

use super::rule::{ArgPattern, ArgsPattern, ExecRule};
use super::PolicyWarning;

/// Programs with options that write files or run commands.
const OPEN_ENDED: &[(&str, &str)] = &[
    (
        "git",
        "--output, -c core.pager=..., hooks and aliases write files and run commands",
    ),
    ("sort", "-o/--output writes any file, --compress-program runs one"),
    ("find", "-exec, -execdir, -ok run commands; -delete and -fprint write"),
    ("tee", "writes every file it is given"),
    ("dd", "of= writes any file"),
    ("cp", "writes any file"),
    ("mv", "moves any file"),
    ("rm", "removes any file"),
    (
        "tar",
        "-x writes files; --to-command and --use-compress-program run commands",
    ),
    ("rsync", "-e runs a command; writes any file"),
    ("sed", "-i and the w command write files; e runs a command"),
    ("curl", "-o writes any file"),
    ("wget", "-O writes any file"),
    ("ssh", "runs commands, on this host with ProxyCommand"),
    ("make", "runs the commands of any makefile"),
];

/// Files that run later, outside procbox, if a child plants them.
const PLANTABLE: &[&str] = &[
    ".git",
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".profile",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".config/fish/config.fish",
    ".envrc",
];

/// The warnings for `allow` rules (unless `confined`) and for the writable
/// directories.
pub(super) fn broad_grants(allow: &[ExecRule], write_dirs: &[PathBuf], confined: bool) -> Vec<PolicyWarning> {
    let mut warnings = Vec::new();
    if !confined {
        warnings.extend(allow.iter().filter_map(broad_rule));
    }
    let state = if write_dirs.is_empty() {
        Vec::new()
    } else {
        procbox_state()
    };
    for dir in write_dirs {
        if let Some(found) = PLANTABLE.iter().find(|name| dir.join(name).exists()) {
            warnings.push(PolicyWarning::PlantableDir {
                dir: dir.clone(),
                found: (*found).to_string(),
            });
        }
        for (what, place) in &state {
            if place.starts_with(dir) {
                warnings.push(PolicyWarning::StateDir {
                    dir: dir.clone(),
                    holds: format!("{what} ({})", place.display()),
                });
            }
        }
    }
    warnings
}

/// Where procbox keeps what a later run trusts, as canonical as the
/// existing part of each path allows.
fn procbox_state() -> Vec<(&'static str, PathBuf)> {
    [
        ("procbox's compilation cache", crate::cache::Cache::default_dir()),
        (
            "procbox's remembered grants",
            crate::grant_store::GrantStore::default_dir(),
        ),
    ]
    .into_iter()
    .filter_map(|(what, place)| Some((what, canonical_prefix(&place?))))
    .collect()
}

/// `path` with its longest existing ancestor canonicalised.
fn canonical_prefix(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return rest.iter().rev().fold(canonical, |p, part| p.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

fn broad_rule(rule: &ExecRule) -> Option<PolicyWarning> {
    let why = if let Some(name) = crate::gate::suggest::broad(&rule.program) {
        format!("{name} runs other programs as it is told")
    } else {
        let name = Path::new(&rule.program).file_name()?.to_str()?;
        let (_, what) = OPEN_ENDED.iter().find(|(program, _)| *program == name)?;
        if !open_at_the_end(&rule.args) {
            return None;
        }
        format!("{name} with any trailing arguments: {what}")
    };
    Some(PolicyWarning::BroadRule {
        origin: rule.source.clone(),
        rule: rule.written.clone(),
        why,
    })
}

fn open_at_the_end(args: &ArgsPattern) -> bool {
    match args {
        ArgsPattern::Any => true,
        ArgsPattern::Positional(patterns) => matches!(patterns.last(), Some(ArgPattern::Rest)),
        // A deny-style rule is never an allow rule.
        ArgsPattern::Containing(..) => false,
    }
}
