//! What the command line writes about itself, from the same clap
//! definitions that parse it: shell completions (`procbox completions
//! SHELL`) and man pages (`procbox man [SUBCOMMAND]`), so neither can
//! disagree with `--help`.

use std::path::Path;

use anyhow::Context;
use clap::Command;

use super::failure::Failure;

/// The shells `procbox completions` writes for.
pub use clap_complete::Shell;

/// The completion script for `shell`, for the command line `cli`.
pub fn completions(shell: Shell, mut cli: Command) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cli, "procbox", &mut out);
    out
}

/// The man page of `procbox`, or of `procbox SUBCOMMAND` (roff, for `man
/// -l -`).
///
/// # Errors
/// A usage error naming the subcommands when `subcommand` is not one.
pub fn man_page(cli: Command, subcommand: Option<&str>) -> Result<Vec<u8>, Failure> {
    let cli = built(cli);
    let page = match subcommand {
        None => cli,
        Some(name) => {
            let names: Vec<String> = visible_subcommands(&cli).map(|c| c.get_name().to_string()).collect();
            let sub = visible_subcommands(&cli).find(|c| c.get_name() == name).cloned();
            let sub = sub.ok_or_else(|| {
                Failure::usage_msg(format!("{name:?} is not a procbox subcommand"))
                    .with_hint(format!("give one of: {}", names.join(", ")))
            })?;
            return subcommand_page(&cli, sub);
        }
    };
    render(page)
}

/// Writes `procbox.1` and `procbox-SUBCOMMAND.1` for every subcommand into
/// `dir`, and returns what it wrote (one line per page).
///
/// # Errors
/// `dir` is not a writable directory.
pub fn write_man_pages(cli: Command, dir: &Path) -> Result<String, Failure> {
    let cli = built(cli);
    if !dir.is_dir() {
        return Err(Failure::usage_msg(format!("{} is not a directory", dir.display()))
            .with_hint("create it first, e.g. mkdir -p man/man1"));
    }
    let mut pages = vec![("procbox.1".to_string(), render(cli.clone())?)];
    for sub in visible_subcommands(&cli) {
        pages.push((
            format!("procbox-{}.1", sub.get_name()),
            subcommand_page(&cli, sub.clone())?,
        ));
    }
    let mut written = String::new();
    for (name, bytes) in pages {
        let path = dir.join(&name);
        std::fs::write(&path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(|e| Failure::usage(e).with_hint("give a directory you can write"))?;
        outln!(written, "{}", path.display());
    }
    Ok(written)
}

/// `cli` with its version, and its global flags (`--verbose`, `--color`)
/// copied into each subcommand as `--help` shows them there.
fn built(cli: Command) -> Command {
    let mut cli = cli.version(env!("CARGO_PKG_VERSION"));
    cli.build();
    cli
}

/// The subcommands a user sees (not `help`).
fn visible_subcommands(cli: &Command) -> impl Iterator<Item = &Command> {
    cli.get_subcommands().filter(|c| !c.is_hide_set())
}

/// The page of `procbox SUB`. `procbox worker` passes its flags to
/// `procbox-worker`, whose own page lists them; without that program the
/// page says only what `procbox worker` is.
fn subcommand_page(cli: &Command, sub: Command) -> Result<Vec<u8>, Failure> {
    if sub.get_name() == "worker" {
        if let Some(page) = super::worker::man_page() {
            return Ok(page);
        }
    }
    render(page_of(cli, sub))
}

/// A subcommand's page, named `procbox-NAME` as git's are, with the
/// top-level's version.
fn page_of(cli: &Command, sub: Command) -> Command {
    let name = format!("procbox-{}", sub.get_name());
    let version = cli.get_version().unwrap_or_default().to_string();
    sub.name(name.clone()).bin_name(name).version(version)
}

fn render(page: Command) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .context("cannot render the man page")
        .map_err(Failure::procbox)?;
    Ok(out)
}
