//! Environment rules: which host variables pass through to children, and
//! which variables the plugin may set, to which values.
//!
//! Forms (`--allow-env`, or `allow-env = [...]` in a document):
//! - `NAME` passes the host's value of `NAME` through to every child (and
//!   to the plugin itself);
//! - `NAME=GLOB` lets the plugin set `NAME` to any value matching `GLOB`.
//!
//! `NAME` may itself be a glob (`LC_*`, even `*`), but a glob covers only
//! **inert** variables: those that change how a program formats or labels
//! its output (locale, `TZ`, `TERM`, colours, terminal size, author
//! identity), never which code it runs or which files it trusts. Any other
//! name (`HOME`, `GIT_DIR`, `PAGER`, `TAR_OPTIONS`, `LD_PRELOAD`, ...) needs a
//! rule with its exact name, written on purpose: a deny-list of dangerous
//! names could never be complete. Exported shell functions (`BASH_FUNC_*`)
//! are never passed, whatever the rules say.

use std::fmt;

use super::Source;

/// Variables that make a program load or run code chosen by whoever sets
/// them, whatever binary the policy allowed. Besides the `LD_`/`DYLD_`
/// prefixes these are glibc's "unsecure" variables (dropped for setuid
/// programs for the same reason) and the start-up hooks of common
/// interpreters and tools.
const INJECTION_PREFIXES: &[&str] = &["LD_", "DYLD_", "MALLOC_"];
const INJECTION_NAMES: &[&str] = &[
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "LOCPATH",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "TZDIR",
    "BASH_ENV",
    "ENV",
    "PROMPT_COMMAND",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PERL5LIB",
    "PERL5OPT",
    "PERLLIB",
    "RUBYLIB",
    "RUBYOPT",
    "NODE_OPTIONS",
    "NODE_PATH",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "GIT_EXEC_PATH",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_ASKPASS",
    "GIT_EXTERNAL_DIFF",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_PARAMETERS",
];

/// Variables a name glob may cover (besides the `LC_` prefix): they change
/// how output looks, not what runs.
const INERT_NAMES: &[&str] = &[
    "LANG",
    "LANGUAGE",
    "TZ",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "COLUMNS",
    "LINES",
    "EMAIL",
    "SOURCE_DATE_EPOCH",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
];

/// Whether a name glob may cover `name`.
pub fn is_inert(name: &str) -> bool {
    INERT_NAMES.contains(&name) || (name.starts_with("LC_") && name[3..].bytes().all(|b| b.is_ascii_uppercase()))
}

/// Whether `name` is an exported shell function (`BASH_FUNC_name%%`), which
/// bash runs as code on start-up: never passed to a child.
pub fn is_shell_function(name: &str) -> bool {
    name.starts_with("BASH_FUNC_")
}

/// Whether `name` can inject code into a child.
pub fn is_injection(name: &str) -> bool {
    INJECTION_PREFIXES.iter().any(|p| name.starts_with(p))
        || INJECTION_NAMES.contains(&name)
        || name.starts_with("GIT_CONFIG_KEY_")
        || name.starts_with("GIT_CONFIG_VALUE_")
}

/// The names a rule applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum NamePattern {
    /// Exactly this name (never an exported shell function).
    Exact(String),
    /// Inert names matching a glob (see the module docs).
    Glob(glob::Pattern),
}

impl NamePattern {
    /// Whether the rule applies to `name`.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            _ if is_shell_function(name) => false,
            NamePattern::Exact(exact) => exact == name,
            NamePattern::Glob(glob) => glob.matches(name) && is_inert(name),
        }
    }
}

/// One environment rule.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvRule {
    /// The rule as written.
    pub written: String,
    /// Which names it covers.
    pub name: NamePattern,
    /// `None`: pass the host's value through. `Some`: the plugin may set
    /// the variable to a value matching this glob.
    pub value: Option<glob::Pattern>,
    /// Where it came from.
    pub source: Source,
}

/// An environment rule that is written wrongly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvRuleError {
    /// The name is empty or holds a NUL byte.
    #[error("env rule '{written}': the variable name is empty or contains a NUL byte")]
    Name {
        /// The rule as written.
        written: String,
    },
    /// The name's glob does not parse.
    #[error("env rule '{written}': bad name glob: {why}")]
    NameGlob {
        /// The rule as written.
        written: String,
        /// Why.
        why: glob::PatternError,
    },
    /// The value's glob does not parse.
    #[error("env rule '{written}': bad value glob: {why}")]
    ValueGlob {
        /// The rule as written.
        written: String,
        /// Why.
        why: glob::PatternError,
    },
}

impl EnvRule {
    /// Parses `NAME` or `NAME=GLOB`.
    ///
    /// # Errors
    /// [`EnvRuleError`], naming the rule, when the name is empty or either
    /// glob is malformed.
    pub fn parse(written: &str, source: Source) -> Result<EnvRule, EnvRuleError> {
        let owned = || written.to_string();
        let (name, value) = match written.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (written, None),
        };
        if name.is_empty() || name.contains('\0') {
            return Err(EnvRuleError::Name { written: owned() });
        }
        let name = if name.contains(['*', '?', '[']) {
            NamePattern::Glob(glob::Pattern::new(name).map_err(|why| EnvRuleError::NameGlob { written: owned(), why })?)
        } else {
            NamePattern::Exact(name.to_string())
        };
        let value = value
            .map(|v| glob::Pattern::new(v).map_err(|why| EnvRuleError::ValueGlob { written: owned(), why }))
            .transpose()?;
        Ok(EnvRule {
            written: written.to_string(),
            name,
            value,
            source,
        })
    }

    /// Whether this rule lets the plugin set `name` to `value`.
    pub fn allows_setting(&self, name: &str, value: &str) -> bool {
        self.value.as_ref().is_some_and(|v| v.matches(value)) && self.name.matches(name)
    }

    /// Whether this rule passes the host's `name` through.
    pub fn passes(&self, name: &str) -> bool {
        self.value.is_none() && self.name.matches(name)
    }
}

/// The rule as written and where: `'GREETING' (--allow-env)`, as an exec
/// rule shows itself, so that a denial names the rule the user wrote.
impl fmt::Display for EnvRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' ({})", self.written, self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(written: &str) -> EnvRule {
        EnvRule::parse(written, Source::Api).unwrap()
    }

    #[test]
    fn setting_and_passing() {
        let cases: &[(&str, &str, &str, bool)] = &[
            // NAME=GLOB lets the plugin set matching values
            ("LANG=C*", "LANG", "C.UTF-8", true),
            ("LANG=C*", "LANG", "en_US", false),
            ("LANG=C*", "LC_ALL", "C", false),
            // a name glob covers inert variables...
            ("LC_*=*", "LC_ALL", "C", true),
            ("*=*", "TZ", "UTC", true),
            ("GIT_*=*", "GIT_AUTHOR_NAME", "me", true),
            // ...and nothing else: not an injection variable...
            ("*=*", "LD_PRELOAD", "/tmp/x.so", false),
            ("LD_*=*", "LD_LIBRARY_PATH", "/tmp", false),
            ("*=*", "BASH_ENV", "/tmp/x", false),
            ("GIT_*=*", "GIT_SSH_COMMAND", "evil", false),
            ("GIT_*=*", "GIT_CONFIG_KEY_0", "core.pager", false),
            // ...nor anything that picks files, config or helpers to trust
            ("GIT_*=*", "GIT_DIR", "/tmp/evil-repo", false),
            ("GIT_*=*", "GIT_PAGER", "sh -c evil", false),
            ("*=*", "PAGER", "sh -c evil", false),
            ("*=*", "HOME", "/tmp/evil-home", false),
            ("*=*", "XDG_CONFIG_HOME", "/tmp/evil", false),
            ("*=*", "TAR_OPTIONS", "--to-command=sh", false),
            ("*=*", "COLOR", "never", false),
            // exported shell functions: never, not even by exact name
            ("*=*", "BASH_FUNC_ls%%", "() { evil; }", false),
            ("BASH_FUNC_ls%%=*", "BASH_FUNC_ls%%", "() { evil; }", false),
            // an exact name is a deliberate grant, even for an injection variable
            ("LD_LIBRARY_PATH=/opt/lib", "LD_LIBRARY_PATH", "/opt/lib", true),
            ("LD_LIBRARY_PATH=/opt/lib", "LD_LIBRARY_PATH", "/tmp", false),
            // a pass-through rule does not let the plugin set the variable
            ("HOME", "HOME", "/root", false),
        ];
        for (written, name, value, expected) in cases {
            assert_eq!(
                rule(written).allows_setting(name, value),
                *expected,
                "{written} vs {name}={value}"
            );
        }
        assert!(rule("HOME").passes("HOME"));
        assert!(!rule("HOME=*").passes("HOME"));
        assert!(!rule("*").passes("LD_PRELOAD"));
        assert!(rule("LD_PRELOAD").passes("LD_PRELOAD"));
        assert!(!rule("*").passes("HOME"), "a glob passes only inert variables");
        assert!(rule("*").passes("LANG"));
        assert!(!rule("BASH_FUNC_x%%").passes("BASH_FUNC_x%%"));
    }

    #[test]
    fn malformed_rules_name_themselves() {
        for written in ["", "=x", "[a=1", "A=[b"] {
            let err = EnvRule::parse(written, Source::Api).unwrap_err().to_string();
            assert!(err.contains(&format!("'{written}'")), "{err}");
        }
    }
}
