//! The grant flags shared by `run` and `explain`, and turning them into a
//! policy.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, ArgMatches, Args};
use procbox::policy::document::{self, Kind};
use procbox::policy::knobs::{Knob, ValueKind};
use procbox::policy::{LimitSettings, KNOBS};
use procbox::{Policy, PolicyBuilder, Source, Strictness};

use super::failure::Failure;
use super::manifest::Manifest;

/// What the user grants. Nothing is allowed without these.
#[derive(Args, Debug, Default)]
pub struct GrantArgs {
    /// Allow a program: 'PROGRAM [PATTERN...]' as one word. PROGRAM alone
    /// allows any arguments; each PATTERN matches one argument by position:
    /// a literal, `*` (any one argument), `**` (all the rest; last only), or
    /// a glob inside one argument (`--format=*`). The program is resolved
    /// through your PATH now; the grant is the file it resolves to. A value
    /// without whitespace may list programs: `--allow-run git,wc`.
    #[arg(long = "allow-run", value_name = "RULE", help_heading = "Grants")]
    pub allow_run: Vec<String>,
    /// Deny a program or some of its argument lists, in the same form. Deny
    /// rules win over allow rules.
    #[arg(long = "deny-run", value_name = "RULE", help_heading = "Grants")]
    pub deny_run: Vec<String>,
    /// NAME passes your value of NAME to every child (and to the plugin);
    /// NAME=GLOB lets the plugin set NAME to a matching value. Loader and
    /// interpreter injection variables (LD_*, BASH_ENV, …) need their exact
    /// name.
    #[arg(long = "allow-env", value_name = "RULE", help_heading = "Grants")]
    pub allow_env: Vec<String>,
    /// A directory (and everything below it) where a child may be asked to
    /// run, and which children and stdin redirects may read (writing needs
    /// --allow-write). Without a cwd a child runs where procbox was started.
    #[arg(long = "dir", value_name = "PATH", help_heading = "Grants")]
    pub dirs: Vec<PathBuf>,
    /// Read grants from a TOML file (docs/reference.md, "The grants file", lists its keys).
    #[arg(long = "grants", value_name = "FILE", help_heading = "Grants")]
    pub grants_files: Vec<PathBuf>,
    /// Let children use procbox's own stdin, stdout and stderr
    /// (`Stdio::inherit`). Their output then escapes --max-output.
    #[arg(long = "allow-inherit", help_heading = "Grants")]
    pub allow_inherit: bool,
    /// Refuse to run when a granted program, or its interpreter, could be
    /// changed: the plugin, its children or a redirect may write it
    /// (--allow-write), others may (group- or other-writable, another
    /// user's), or it has other hard links where a grant reaches (without
    /// this flag: a warning).
    #[arg(long = "strict-programs", help_heading = "Grants")]
    pub strict_programs: bool,
    /// Let the plugin, and every process it starts, read files below DIR.
    #[arg(
        long = "allow-read",
        value_name = "DIR",
        help_heading = "Files (the plugin and its children)"
    )]
    pub allow_read: Vec<PathBuf>,
    /// Let the plugin, every process it starts, and redirects, read and
    /// write files below DIR; protected paths inside it (.git, shell
    /// start-up files, procbox's state) stay read-only unless granted by
    /// name.
    #[arg(
        long = "allow-write",
        value_name = "DIR",
        help_heading = "Files (the plugin and its children)"
    )]
    pub allow_write: Vec<PathBuf>,
    /// Let the plugin itself open network sockets and resolve names. Grants
    /// nothing to children (see --allow-child-net).
    #[arg(long = "allow-net", help_heading = "The plugin's own access")]
    pub allow_net: bool,
    /// How strictly the kernel confines children after exec: `require`
    /// (default: refuse to run when this kernel cannot enforce the grants),
    /// `best-effort` (run with what it enforces, and say what is missing),
    /// or `off` (children get your full authority).
    #[arg(long = "confine", value_name = "MODE", help_heading = "Confinement of children")]
    pub confine: Option<Strictness>,
    /// How strictly the kernel contains children, so that none outlives
    /// procbox (even a SIGKILL of it) and none sees other processes:
    /// `best-effort` (default: a PID namespace where the kernel allows one,
    /// else process groups and a sweep), `require`, or `off`.
    #[arg(long = "contain", value_name = "MODE", help_heading = "Confinement of children")]
    pub contain: Option<Strictness>,
    /// Network for children: PORT (TCP connect to it), bind:PORT, `all`
    /// (any TCP and UDP), or `unix` (Unix sockets). Default: none.
    #[arg(
        long = "allow-child-net",
        value_name = "GRANT",
        help_heading = "Confinement of children"
    )]
    pub allow_child_net: Vec<String>,
    /// Let children execute PATH (a file, or every file below a directory)
    /// besides their granted program; PROGRAM=PATH for one program's
    /// children only, e.g. `git=/usr/lib/git-core`.
    #[arg(
        long = "allow-helper",
        value_name = "[PROGRAM=]PATH",
        help_heading = "Confinement of children"
    )]
    pub allow_helper: Vec<String>,
    /// Refused: procbox has no allow-all (see the message it prints).
    #[arg(long = "allow-all", short = 'A', hide = true)]
    pub allow_all: bool,
    /// Every limit, one flag per knob of `procbox::policy::KNOBS`.
    #[command(flatten)]
    pub limits: LimitFlags,
}

/// The limit flags: one per knob of the one schema
/// (`procbox::policy::knobs`), with its name, help and value syntax, so a
/// flag and its grants-file key can never drift apart.
#[derive(Debug, Default)]
pub struct LimitFlags(pub LimitSettings);

impl clap::FromArgMatches for LimitFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut settings = LimitSettings::default();
        for knob in KNOBS {
            let value = match knob.kind {
                ValueKind::Switch => matches.get_flag(knob.name).then(|| "true".to_string()),
                _ => matches.get_one::<String>(knob.name).cloned(),
            };
            if let Some(value) = value {
                settings
                    .set(knob.name, &value)
                    .map_err(|e| clap::Error::raw(clap::error::ErrorKind::ValueValidation, e))?;
            }
        }
        Ok(LimitFlags(settings))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for LimitFlags {
    fn augment_args(command: clap::Command) -> clap::Command {
        KNOBS.iter().fold(command, |command, knob| command.arg(knob_flag(knob)))
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

/// The flag of one knob; its value is checked as the grants file checks it.
fn knob_flag(knob: &'static Knob) -> Arg {
    let flag = Arg::new(knob.name)
        .long(knob.name)
        .help(knob.help.trim_end_matches('.'))
        .help_heading(knob.heading);
    match knob.kind {
        ValueKind::Switch => flag.action(ArgAction::SetTrue),
        _ => flag
            .value_name(knob.value_name())
            .value_parser(move |text: &str| LimitSettings::default().set(knob.name, text).map(|()| text.to_string())),
    }
}

impl GrantArgs {
    /// The policy these flags, the grants files and the manifest (if any)
    /// describe. What building it noticed (a manifest request for a
    /// program this host lacks) is printed as warnings on stderr.
    ///
    /// # Errors
    /// A usage failure naming the flag, file and line of a malformed or
    /// unresolvable rule.
    pub fn policy(&self, manifest: Option<&Manifest>) -> Result<Policy, Failure> {
        self.policy_granting(manifest, false, None)
    }

    /// [`policy`](Self::policy); with `grant_requested`, every request of
    /// the manifest is granted too (`--grant-requested`), and so is what
    /// the user remembered for this plugin (`remembered`).
    ///
    /// # Errors
    /// As [`policy`](Self::policy).
    pub fn policy_granting(
        &self,
        manifest: Option<&Manifest>,
        grant_requested: bool,
        remembered: Option<document::Document>,
    ) -> Result<Policy, Failure> {
        if self.allow_all {
            return Err(Failure::usage_msg(
                "procbox has no --allow-all: a plugin may start only what you grant, so that you know what it can do",
            )
            .with_hint("grant each program with --allow-run git,wc (`procbox inspect PLUGIN` shows what its manifest asks for)"));
        }
        let mut builder = PolicyBuilder::new();
        if let Some(remembered) = remembered {
            builder = builder.grants_document(remembered);
        }
        for file in &self.grants_files {
            builder = builder.grants_document(read_document(file, Kind::Grants)?);
        }
        for rule in self.allow_run.iter().flat_map(|r| listed(r)) {
            builder = builder.allow_run_from(rule, Source::Flag("--allow-run"));
        }
        for rule in self.deny_run.iter().flat_map(|r| listed(r)) {
            builder = builder.deny_run_from(rule, Source::Flag("--deny-run"));
        }
        for rule in &self.allow_env {
            builder = builder.allow_env_from(rule, Source::Flag("--allow-env"));
        }
        for dir in &self.dirs {
            builder = builder.allow_dir(dir);
        }
        for dir in &self.allow_read {
            builder = builder.allow_read(dir);
        }
        for dir in &self.allow_write {
            builder = builder.allow_write(dir);
        }
        for grant in &self.allow_child_net {
            builder = builder.allow_child_net_from(grant, Source::Flag("--allow-child-net"));
        }
        for grant in &self.allow_helper {
            builder = builder.allow_helper_from(grant, Source::Flag("--allow-helper"));
        }
        if let Some(mode) = self.confine {
            builder = builder.confine(mode);
        }
        if let Some(mode) = self.contain {
            builder = builder.contain(mode);
        }
        builder = builder
            .allow_net(self.allow_net)
            .allow_inherit(self.allow_inherit)
            .strict_programs(self.strict_programs)
            .limit_settings(&self.limits.0);
        if let Some(manifest) = manifest {
            if grant_requested {
                builder = builder.grants_document(manifest.doc.clone());
            }
            builder = builder.manifest_document(&manifest.origin, manifest.doc.clone());
        }
        let policy = builder.build().map_err(Failure::usage)?;
        for warning in policy.warnings() {
            super::output::warning(warning);
        }
        Ok(policy)
    }
}

/// The rules of one `--allow-run` value: a comma list of programs, as Deno
/// writes them (`git,wc`), when it has no whitespace; else the one rule (a
/// rule such as `cut -d, -f1` keeps its commas).
fn listed(value: &str) -> Vec<&str> {
    match value.contains(char::is_whitespace) {
        true => vec![value],
        false => value.split(',').filter(|p| !p.is_empty()).collect(),
    }
}

/// Reads and parses a grants file or manifest.
///
/// # Errors
/// A usage failure: the file cannot be read, or where (file:line) and why
/// it cannot be parsed.
pub fn read_document(path: &Path, kind: Kind) -> Result<document::Document, Failure> {
    let (what, flag) = match kind {
        Kind::Grants => ("grants file", "--grants"),
        Kind::Manifest => ("manifest", "--manifest"),
        Kind::Remembered => ("remembered grants", "procbox grants"),
        Kind::WorkerPlugin => ("worker.toml", "procbox worker --config"),
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(anyhow::Error::new(e).context(format!("cannot read the {what} {}", path.display())))
            .with_hint(format!("check the path given to {flag}"))
    })?;
    document::parse(&text, path, kind).map_err(|message| {
        Failure::usage_msg(message).with_hint(match kind {
            Kind::Grants => "see docs/reference.md, section \"The grants file\", for its keys and their values",
            Kind::Manifest => "a manifest takes allow-run, allow-env, [[run]] and [plugin]; see docs/reference.md, section \"Manifests\"",
            Kind::Remembered => "fix it with `procbox grants edit`",
            Kind::WorkerPlugin => "a [plugins.NAME] table takes `path` and the keys of a grants file (see docs/reference.md, section \"The grants file\")",
        })
    })
}
