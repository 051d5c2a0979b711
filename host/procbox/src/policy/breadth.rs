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

use super::protected::GIT;

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

/// The warnings for `allow` rules (unless `confined`) and for write grants
/// that name a protected path ([`super::protected`]): every other
/// protected path stays read-only, but one the user granted by name is
/// written as granted, and the user should know what that gives.
pub(super) fn broad_grants(
    allow: &[ExecRule],
    write_dirs: &[PathBuf],
    state: &[(PathBuf, &'static str)],
    confined: bool,
) -> Vec<PolicyWarning> {
    let mut warnings = Vec::new();
    if !confined {
        warnings.extend(allow.iter().filter_map(broad_rule));
    }
    for dir in write_dirs {
        if let Some(git) = dir.ancestors().find(|d| d.file_name().is_some_and(|n| n == GIT)) {
            warnings.push(PolicyWarning::PlantableDir {
                dir: dir.clone(),
                found: format!("{} granted by name: its hooks and config", git.display()),
            });
        }
        for (place, what) in state.iter().filter(|(place, _)| dir.starts_with(place)) {
            warnings.push(PolicyWarning::StateDir {
                dir: dir.clone(),
                holds: format!("{what} ({}), granted by name", place.display()),
            });
        }
    }
    warnings
}

fn broad_rule(rule: &ExecRule) -> Option<PolicyWarning> {
    let why = if let Some(name) = broad(&rule.program) {
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

/// Programs that run other programs as they are told: a rule for one of
/// them is broad, whatever its arguments say.
const RUNS_OTHERS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "fish",
    "busybox",
    "env",
    "xargs",
    "find",
    "nice",
    "nohup",
    "timeout",
    "setsid",
    "sudo",
    "doas",
    "su",
    "ssh",
    "make",
    "python",
    "python3",
    "perl",
    "ruby",
    "node",
    "deno",
    "bun",
    "php",
    "lua",
    "awk",
    "gawk",
    "tclsh",
    "osascript",
];

/// The program's name if it runs other programs as it is told.
pub(crate) fn broad(program: &str) -> Option<&str> {
    let name = Path::new(program).file_name()?.to_str()?;
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    RUNS_OTHERS.iter().any(|r| *r == name || *r == base).then_some(name)
}
