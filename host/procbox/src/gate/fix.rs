//! A denial and its fix as data: which grant, with which value, would allow
//! what was refused. The library names a grant only by its key in the one
//! schema (a grants file's keys: `allow-run`, `dir`, `allow-write`, ...);
//! an application renders it as its users write grants: the `procbox`
//! command line as flags, a worker as its configuration keys, an embedder
//! as it likes ([`FixStyle`]).

use std::fmt;
use std::path::PathBuf;

/// What was refused, why, and the grant that would allow it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The request and the reason, without the fix.
    pub reason: String,
    /// The narrowest grant that would allow it, if a grant can (boxed: a
    /// denial travels in every `Result` of the spawn path).
    pub fix: Option<Box<Fix>>,
}

impl Denial {
    /// A denial that no grant can lift (a deny rule, the manifest, a hook).
    pub fn new(reason: impl Into<String>) -> Denial {
        Denial {
            reason: reason.into(),
            fix: None,
        }
    }

    /// A denial that `fix` would lift.
    pub fn with_fix(reason: impl Into<String>, fix: Fix) -> Denial {
        Denial {
            reason: reason.into(),
            fix: Some(Box::new(fix)),
        }
    }

    /// The denial in one line, its fix written by `style`.
    pub fn render(&self, style: &dyn FixStyle) -> String {
        match &self.fix {
            Some(fix) => format!("{}; {}", self.reason, style.render(fix)),
            None => self.reason.clone(),
        }
    }
}

/// In the library's own words: the fix as a grants-file line.
impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&GrantsFile))
    }
}

/// A grant, by its key in the one schema, and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grant {
    /// `allow-run`: an exec rule in the one-word form.
    AllowRun(String),
    /// `[[run]]`: a program with exactly these arguments, which the
    /// one-word form cannot say (no arguments: the one word would allow
    /// any; or an argument with whitespace).
    RunExactly {
        /// The program, as the plugin wrote it.
        program: String,
        /// The arguments, each matching only itself.
        args: Vec<String>,
    },
    /// `allow-env`: an env rule (`NAME=VALUE`, `NAME=*`).
    AllowEnv(String),
    /// `dir`: a directory children may run in and read.
    Dir(PathBuf),
    /// `allow-write`: a directory (or a protected path, by name) the plugin,
    /// its children and redirects may write.
    AllowWrite(PathBuf),
    /// `allow-inherit`: children may use the host's own streams.
    AllowInherit,
}

impl Grant {
    /// Its key in a grants file (the `procbox` flag of the same name).
    pub fn key(&self) -> &'static str {
        match self {
            Grant::AllowRun(_) => "allow-run",
            Grant::RunExactly { .. } => "run",
            Grant::AllowEnv(_) => "allow-env",
            Grant::Dir(_) => "dir",
            Grant::AllowWrite(_) => "allow-write",
            Grant::AllowInherit => "allow-inherit",
        }
    }

    /// Its value as one word, where it has one (`None` for a switch and for
    /// the list form).
    pub fn value(&self) -> Option<String> {
        match self {
            Grant::AllowRun(text) | Grant::AllowEnv(text) => Some(text.clone()),
            Grant::Dir(path) | Grant::AllowWrite(path) => Some(path.to_string_lossy().into_owned()),
            Grant::RunExactly { .. } | Grant::AllowInherit => None,
        }
    }

    /// It as a grants-file line: `allow-run = ["wc -l x"]`, `[[run]]
    /// program = "git" args = []`, `allow-inherit = true`.
    pub fn grants_file_line(&self) -> String {
        match self {
            Grant::RunExactly { program, args } => format!(
                "[[run]] program = {} args = [{}]",
                toml_string(program),
                args.iter().map(|a| toml_string(a)).collect::<Vec<_>>().join(", ")
            ),
            Grant::AllowInherit => "allow-inherit = true".to_string(),
            other => format!(
                "{} = [{}]",
                other.key(),
                toml_string(&other.value().unwrap_or_default())
            ),
        }
    }
}

/// The narrowest grant that would allow a refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// The grant.
    pub grant: Grant,
    /// Whether it allows exactly the refused request and no other (an
    /// exec or env rule), rather than a place (a directory) or a switch.
    pub exactly: bool,
    /// Set when the grant is broad: the program it names runs other
    /// programs as it is told (a shell, an interpreter), so its children
    /// execute only the helpers granted to it.
    pub runs_others: Option<String>,
}

impl Fix {
    /// A fix by `grant`.
    pub fn new(grant: Grant) -> Fix {
        let exactly = matches!(
            grant,
            Grant::AllowRun(_) | Grant::RunExactly { .. } | Grant::AllowEnv(_)
        );
        Fix {
            grant,
            exactly,
            runs_others: None,
        }
    }

    /// How a rendering starts: "to allow exactly this" for a rule that
    /// allows only the refused request, else "to allow it".
    pub fn lead(&self) -> &'static str {
        if self.exactly {
            "to allow exactly this"
        } else {
            "to allow it"
        }
    }
}

/// How an application writes a [`Fix`] for its users.
pub trait FixStyle: Send + Sync {
    /// `fix` as a clause that follows a denial's reason.
    fn render(&self, fix: &Fix) -> String;
}

/// The library's own style: the grant as a grants-file line.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrantsFile;

impl FixStyle for GrantsFile {
    fn render(&self, fix: &Fix) -> String {
        let line = fix.grant.grants_file_line();
        let lead = fix.lead();
        let mut text = format!("{lead}, grant: {line}");
        if let Some(name) = &fix.runs_others {
            text.push_str(&format!(
                "; that rule is broad: {name} runs other programs (its children execute only the helpers granted to it, allow-helper)"
            ));
        }
        text
    }
}

/// `text` as a TOML string.
pub fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_writes_a_fix_as_a_grants_file_line() {
        let cases = [
            (
                Fix::new(Grant::AllowRun("wc -l x".into())),
                "to allow exactly this, grant: allow-run = [\"wc -l x\"]",
            ),
            (
                Fix::new(Grant::RunExactly {
                    program: "git".into(),
                    args: vec![],
                }),
                "to allow exactly this, grant: [[run]] program = \"git\" args = []",
            ),
            (
                Fix::new(Grant::AllowWrite("/tmp/a b".into())),
                "to allow it, grant: allow-write = [\"/tmp/a b\"]",
            ),
            (
                Fix::new(Grant::AllowInherit),
                "to allow it, grant: allow-inherit = true",
            ),
        ];
        for (fix, expected) in cases {
            assert_eq!(GrantsFile.render(&fix), expected);
            assert!(!expected.contains("--"), "a library string names a flag: {expected}");
        }
        let denial = Denial::with_fix("echo: refused", Fix::new(Grant::Dir("/w".into())));
        assert_eq!(denial.to_string(), "echo: refused; to allow it, grant: dir = [\"/w\"]");
    }

    /// Every grant by its flag name: the schema's keys, which the command
    /// line spells with two dashes.
    fn flags() -> Vec<String> {
        let grants = [
            "allow-run",
            "deny-run",
            "allow-env",
            "dir",
            "grants",
            "allow-inherit",
            "strict-programs",
            "allow-read",
            "allow-write",
            "allow-net",
            "confine",
            "contain",
            "allow-child-net",
            "allow-helper",
        ];
        grants
            .iter()
            .map(|g| g.to_string())
            .chain(crate::policy::KNOBS.iter().map(|k| k.name.to_string()))
            .map(|name| format!("--{name}"))
            .collect()
    }

    #[test]
    fn no_library_string_names_a_command_line_flag() {
        let flags = flags();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut pending = vec![root];
        let mut found = Vec::new();
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                // Tests may say anything (a module of its own in `tests.rs`,
                // or after `#[cfg(test)]`); so may comments and docs.
                if path.file_name().is_some_and(|n| n == "tests.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                for (number, line) in code.lines().enumerate() {
                    let line = line.trim_start();
                    if line.starts_with("//") || !line.contains('"') {
                        continue;
                    }
                    if let Some(flag) = flags.iter().find(|f| {
                        line.match_indices(f.as_str()).any(|(at, _)| {
                            let next = line[at + f.len()..].chars().next();
                            !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
                        })
                    }) {
                        found.push(format!("{}:{}: {flag}", path.display(), number + 1));
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "library strings that name a flag (name the grants-file key, or give a Fix):\n{}",
            found.join("\n")
        );
    }
}
