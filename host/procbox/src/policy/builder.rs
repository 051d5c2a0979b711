//! [`PolicyBuilder`]: collects grants from flags, files and code, and
//! freezes them into a [`Policy`].

use std::path::PathBuf;

use super::document::{Document, RunSpec};
use super::knobs::LimitSettings;
use super::*;
use crate::resolve::SearchPath;
use crate::Strictness;

mod freeze;

pub(super) use freeze::resolve_rule;

#[derive(Debug, Clone, Default)]
struct LayerSpec {
    allow: Vec<RunSpec>,
    deny: Vec<RunSpec>,
    env: Vec<(String, Source)>,
}

/// Collects grants and freezes them into a [`Policy`].
///
/// Defaults, all of them deny-by-default:
/// - **programs:** none. Nothing can be spawned until an allow rule.
/// - **manifest:** none; then only the grants decide.
/// - **environment:** children start with an empty environment; nothing
///   passes through and the plugin may set nothing until an env rule.
/// - **working directory:** children run in the start directory (default:
///   the current directory). An explicit working directory must lie inside a
///   directory granted with [`allow_dir`](Self::allow_dir); none is granted.
/// - **limits:** at most [`DEFAULT_MAX_CHILDREN`] children at once; no limit
///   on total spawns, run time or output until set.
/// - **request size:** [`RequestLimits::default`].
/// - **the plugin itself:** no files, no network, no environment but the
///   passed-through variables; each linear memory at most
///   [`DEFAULT_PLUGIN_MEMORY`], at most [`DEFAULT_PLUGIN_HANDLES`] handles,
///   no limit on run time.
/// - **search path:** this process's `PATH` at build time, absolute entries
///   only ([`search_path`](Self::search_path) replaces it).
#[derive(Debug, Clone, Default)]
pub struct PolicyBuilder {
    grants: LayerSpec,
    manifest: Option<(PathBuf, LayerSpec)>,
    dirs: Vec<PathBuf>,
    read_dirs: Vec<PathBuf>,
    write_dirs: Vec<PathBuf>,
    network: bool,
    allow_inherit: bool,
    strict_programs: bool,
    limits: Limits,
    plugin_limits: PluginLimits,
    start_dir: Option<PathBuf>,
    search_path: Option<SearchPath>,
    request_limits: RequestLimits,
    host_env: Option<Vec<(String, String)>>,
    /// `None`: [`Strictness::CONFINE_DEFAULT`].
    confine: Option<Strictness>,
    /// `None`: [`Strictness::CONTAIN_DEFAULT`].
    contain: Option<Strictness>,
    child_net: Vec<(String, Source)>,
    helpers: Vec<(String, Source)>,
}

impl PolicyBuilder {
    /// A builder that grants nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows a program, in the one-word form `PROGRAM [PATTERN...]` (see
    /// [`rule`]). A bare name is resolved through the search path when the
    /// policy is built; the grant is the file it resolves to.
    pub fn allow_run(self, rule: &str) -> Self {
        self.allow_run_from(rule, Source::Api)
    }

    /// [`allow_run`](Self::allow_run), remembering where the rule came from.
    pub fn allow_run_from(mut self, rule: &str, source: Source) -> Self {
        self.grants.allow.push(RunSpec {
            written: rule.to_string(),
            parts: None,
            sha256: None,
            source,
        });
        self
    }

    /// Denies a program or some of its argument lists. Deny rules win over
    /// allow rules.
    pub fn deny_run(self, rule: &str) -> Self {
        self.deny_run_from(rule, Source::Api)
    }

    /// [`deny_run`](Self::deny_run), remembering where the rule came from.
    pub fn deny_run_from(mut self, rule: &str, source: Source) -> Self {
        self.grants.deny.push(RunSpec {
            written: rule.to_string(),
            parts: None,
            sha256: None,
            source,
        });
        self
    }

    /// Adds an env rule: `NAME` passes the host's value through, `NAME=GLOB`
    /// lets the plugin set it (see [`env`](mod@env)).
    pub fn allow_env(self, rule: &str) -> Self {
        self.allow_env_from(rule, Source::Api)
    }

    /// [`allow_env`](Self::allow_env), remembering where the rule came from.
    pub fn allow_env_from(mut self, rule: &str, source: Source) -> Self {
        self.grants.env.push((rule.to_string(), source));
        self
    }

    /// Grants a directory (and everything below it) where children may be
    /// asked to run.
    pub fn allow_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.push(dir.into());
        self
    }

    /// Lets the plugin itself read files below `dir`.
    pub fn allow_read(mut self, dir: impl Into<PathBuf>) -> Self {
        self.read_dirs.push(dir.into());
        self
    }

    /// Lets the plugin itself read and write files below `dir`.
    pub fn allow_write(mut self, dir: impl Into<PathBuf>) -> Self {
        self.write_dirs.push(dir.into());
        self
    }

    /// Lets the plugin itself open sockets and resolve names.
    pub fn allow_net(mut self, allowed: bool) -> Self {
        self.network = allowed;
        self
    }

    /// Refuses to build a policy that grants a program the plugin could
    /// change: one in a directory it may write, or a hard-linked one in a
    /// granted directory (default: such grants are only warnings, in
    /// [`Policy::warnings`]).
    pub fn strict_programs(mut self, strict: bool) -> Self {
        self.strict_programs |= strict;
        self
    }

    /// Lets children use procbox's own stdin, stdout and stderr (`inherit`).
    /// Output that goes there escapes the output cap.
    pub fn allow_inherit(mut self, allowed: bool) -> Self {
        self.allow_inherit = allowed;
        self
    }

    /// Sets limits; each limit that `limits` sets replaces the current one.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = self.limits.overridden_by(limits);
        self
    }

    /// Sets limits on the plugin itself; each that `limits` sets replaces
    /// the current one.
    pub fn plugin_limits(mut self, limits: PluginLimits) -> Self {
        self.plugin_limits = self.plugin_limits.overridden_by(limits);
        self
    }

    /// How strictly the kernel must confine children (default:
    /// [`Strictness::Require`]); see [`crate::sandbox`].
    pub fn confine(mut self, mode: Strictness) -> Self {
        self.confine = Some(mode);
        self
    }

    /// How strictly the kernel must contain children, so that none
    /// outlives procbox (default: [`Strictness::BestEffort`]); see
    /// [`crate::process_tree::namespace`].
    pub fn contain(mut self, mode: Strictness) -> Self {
        self.contain = Some(mode);
        self
    }

    /// Grants children some network, as written for `--allow-child-net`:
    /// `PORT` (TCP connect), `bind:PORT`, `all` or `unix`.
    pub fn allow_child_net(self, grant: &str) -> Self {
        self.allow_child_net_from(grant, Source::Api)
    }

    /// [`allow_child_net`](Self::allow_child_net), remembering where the
    /// grant came from.
    pub fn allow_child_net_from(mut self, grant: &str, source: Source) -> Self {
        self.child_net.push((grant.to_string(), source));
        self
    }

    /// Lets children execute a helper besides their granted program, as
    /// written for `--allow-helper`: `PATH` (a file, or a directory of
    /// them) for every child, or `PROGRAM=PATH` for the children of one
    /// granted program (e.g. `git=/usr/lib/git-core`).
    pub fn allow_helper(self, grant: &str) -> Self {
        self.allow_helper_from(grant, Source::Api)
    }

    /// [`allow_helper`](Self::allow_helper), remembering where the grant
    /// came from.
    pub fn allow_helper_from(mut self, grant: &str, source: Source) -> Self {
        self.helpers.push((grant.to_string(), source));
        self
    }

    /// Sets every knob `settings` sets (limits on children and on the
    /// plugin, under their flag names); each replaces the current value.
    pub fn limit_settings(self, settings: &LimitSettings) -> Self {
        self.limits(settings.limits()).plugin_limits(settings.plugin_limits())
    }

    /// Adds everything a grants file says.
    pub fn grants_document(mut self, doc: Document) -> Self {
        self.grants.allow.extend(doc.allow_run);
        self.grants.deny.extend(doc.deny_run);
        self.grants.env.extend(doc.env);
        self.dirs.extend(doc.dirs);
        self.read_dirs.extend(doc.read_dirs);
        self.write_dirs.extend(doc.write_dirs);
        self.network |= doc.network;
        self.allow_inherit |= doc.allow_inherit;
        self.strict_programs |= doc.strict_programs;
        if let Some(mode) = doc.confine {
            self.confine = Some(mode);
        }
        if let Some(mode) = doc.contain {
            self.contain = Some(mode);
        }
        self.child_net.extend(doc.child_net);
        self.helpers.extend(doc.helpers);
        self.limit_settings(&doc.limits)
    }

    /// Sets the plugin's manifest: from now on a request must also be among
    /// its requests.
    pub fn manifest_document(mut self, path: impl Into<PathBuf>, doc: Document) -> Self {
        let spec = LayerSpec {
            allow: doc.allow_run,
            deny: Vec::new(),
            env: doc.env,
        };
        self.manifest = Some((path.into(), spec));
        self
    }

    /// Sets the default working directory of children (default: the
    /// current directory).
    pub fn start_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.start_dir = Some(dir.into());
        self
    }

    /// Replaces the directories searched for bare program names.
    pub fn search_path(mut self, search: SearchPath) -> Self {
        self.search_path = Some(search);
        self
    }

    /// Replaces the size limits on one request.
    pub fn request_limits(mut self, limits: RequestLimits) -> Self {
        self.request_limits = limits;
        self
    }

    /// Replaces the host environment that pass-through rules read (default:
    /// this process's environment at build time).
    pub fn host_env(mut self, vars: Vec<(String, String)>) -> Self {
        self.host_env = Some(vars);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::freeze::start_dir_grantable;
    use super::*;

    #[test]
    fn the_start_dir_is_not_granted_when_it_is_or_holds_either_home() {
        let p = PathBuf::from;
        // `$HOME`, and the account's home from the password database.
        let homes = [p("/data/env/u"), p("/data/accounts/u")];
        let cases = [
            ("/data/env/u", false),
            ("/data/accounts/u", false),
            ("/data/accounts", false),
            ("/data", false),
            ("/data/accounts/u/project", true),
            ("/data/other", true),
        ];
        for (start, expected) in cases {
            assert_eq!(start_dir_grantable(Path::new(start), &homes), expected, "{start}");
        }
        // Without the account's home, its parent would be granted.
        assert!(start_dir_grantable(Path::new("/data/accounts"), &homes[..1]));
    }

    #[test]
    fn deny_rules_from_flags_and_grants_files_match_an_option_anywhere() {
        let text = "deny-run = [\"sort -o *\"]\n[[run]]\nprogram = \"rm\"\nargs = [\"-rf\", \"*\"]\ndeny = true\n";
        let doc = document::parse(text, Path::new("/x/grants.toml"), document::Kind::Grants).unwrap();
        let policy = PolicyBuilder::new()
            .grants_document(doc)
            .deny_run_from("ls -R", Source::Flag("--deny-run"))
            .allow_run("sort -o *")
            .build()
            .unwrap();
        let rule = |program: &str| {
            let found = policy.grants().deny_rules().iter().find(|r| r.program == program);
            found.unwrap_or_else(|| panic!("no deny rule for {program}"))
        };
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: &[(&str, &[&str])] = &[
            ("sort", &["-rno", "F", "in"]),
            ("rm", &["x", "-rf"]),
            ("ls", &["-l", "-R", "/"]),
        ];
        for (program, request) in cases {
            let rule = rule(program);
            assert!(rule.matches(&rule.path, &args(request)), "{rule} vs {request:?}");
            assert!(rule.to_string().contains(": matched anywhere)"), "{rule}");
        }
        let rm = rule("rm").to_string();
        assert!(rm.starts_with("'rm ** -rf *' (/x/grants.toml:"), "{rm}");
        assert_eq!(
            rule("ls").to_string(),
            "'ls ** -R' (--deny-run, written 'ls -R': matched anywhere)"
        );
        // Allow rules stay positional.
        let allow = &policy.grants().allow_rules()[0];
        assert!(!allow.matches(&allow.path, &args(&["-rn", "-o", "F"])));
        assert_eq!(allow.to_string(), "'sort -o *' (embedder policy)");
    }
}
