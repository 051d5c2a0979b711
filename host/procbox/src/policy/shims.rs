//! Granted programs that are scripts running what confined children may
//! not execute: version managers' shims. `asdf`, `pyenv`, `rbenv` and the
//! like put a script per tool on PATH (`~/.pyenv/shims/python3`) that runs
//! the manager or the real program, under the user's home. Confined
//! children execute only their granted program, its interpreters and the
//! helpers granted to it, so the shim starts and what it runs is refused:
//! the plugin sees `Permission denied`, or a child that ended early, with
//! nothing saying why. Found at start-up, as a [`PolicyWarning`] that names
//! the real program to grant.
//!
//! Best effort, and never blocking: a file is read only if it is a regular
//! file (opened without blocking, so a FIFO cannot hang procbox), only its
//! first 4 KiB, and at most 4 scripts deep. What a
//! script runs is found in two shapes: its `#!` interpreter (and through
//! `env`, the program `env` looks up), and a line `exec /absolute/path ...`
//! (quoted or not; a path built from variables is not followed).

use std::path::{Path, PathBuf};

use crate::resolve::{resolve_program, SearchPath};
use crate::sandbox::plan::{head_of, ChildPlan, Planner, TreePlan};

use super::{Policy, PolicyWarning};

/// How much of a script is read: the `#!` line and a shim's few lines.
const HEAD_BYTES: u64 = 4 << 10;

/// How many scripts deep a shim is followed (the kernel allows 4 levels
/// of interpreters).
const MAX_LEVELS: usize = 4;

/// The warnings for granted scripts whose confined children may not
/// execute what the script runs. None when Landlock does not confine
/// children: then nothing restricts what they execute.
pub(super) fn blocked_shims(policy: &Policy) -> Vec<PolicyWarning> {
    let Ok(enforcement) = policy.enforcement() else {
        return Vec::new();
    };
    if !enforcement.active() || enforcement.abi == 0 {
        return Vec::new();
    }
    let mut warnings = Vec::new();
    let mut seen: Vec<&Path> = Vec::new();
    for rule in &policy.grants.allow {
        if seen.contains(&rule.path.as_path()) {
            continue;
        }
        seen.push(&rule.path);
        let runs = runs(&rule.path, &policy.search_path);
        if runs.files.is_empty() {
            continue;
        }
        // Only the plan's exec list is consulted: its temporary directory
        // (the run's own, made later) does not matter here.
        let plan = Planner::plan(
            policy,
            &enforcement,
            &TreePlan::default(),
            &rule.path,
            &std::env::temp_dir(),
        );
        let refused = refused(&runs.files, &plan);
        if !refused.is_empty() {
            warnings.push(PolicyWarning::BlockedShim {
                origin: rule.source.clone(),
                rule: rule.written.clone(),
                program: rule.program.clone(),
                script: rule.path.clone(),
                real: runs.target,
                refused,
            });
        }
    }
    warnings
}

/// Those of `runs` that the children of `plan` may not execute.
pub fn refused(runs: &[PathBuf], plan: &ChildPlan) -> Vec<PathBuf> {
    runs.iter().filter(|p| !plan.may_execute(p)).cloned().collect()
}

/// What a script runs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Runs {
    /// Every file, in the order they run: each script's interpreter
    /// (through `env`, also the program `env` runs), then the target of its
    /// `exec` line, which may be a script in turn. Canonical, existing
    /// files only; empty for a program that is no script.
    pub files: Vec<PathBuf>,
    /// The last `exec` target: the real program, or the manager that
    /// finds it; `None` for a script that names none (an ordinary script).
    pub target: Option<PathBuf>,
}

/// What `program` runs when it is a script ([`Runs`]).
pub fn runs(program: &Path, search: &SearchPath) -> Runs {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut last_target = None;
    let mut current = program.to_path_buf();
    for _ in 0..MAX_LEVELS {
        let Some(script) = head_of(&current, HEAD_BYTES).and_then(|head| Script::parse(&head)) else {
            break;
        };
        for file in script.interpreters(search) {
            if !found.contains(&file) {
                found.push(file);
            }
        }
        let Some(target) = script.target else { break };
        // A script that runs itself (or one before it) ends the walk.
        if found.contains(&target) || target == program {
            break;
        }
        found.push(target.clone());
        last_target = Some(target.clone());
        current = target;
    }
    Runs {
        files: found,
        target: last_target,
    }
}

/// What a script's first bytes say it runs.
#[derive(Debug, PartialEq, Eq)]
struct Script {
    /// The `#!` line's interpreter, as written.
    interpreter: String,
    /// The rest of the `#!` line (Linux passes it as one argument).
    argument: String,
    /// The existing file of the first `exec /absolute/path` line (canonical).
    target: Option<PathBuf>,
}

impl Script {
    /// `None` unless `head` starts with `#!` and names an interpreter.
    fn parse(head: &[u8]) -> Option<Script> {
        let text = String::from_utf8_lossy(head.strip_prefix(b"#!")?);
        let mut lines = text.lines();
        let shebang = lines.next()?.trim();
        let (interpreter, argument) = shebang.split_once(char::is_whitespace).unwrap_or((shebang, ""));
        if interpreter.is_empty() {
            return None;
        }
        Some(Script {
            interpreter: interpreter.to_string(),
            argument: argument.trim().to_string(),
            target: lines.find_map(exec_target),
        })
    }

    /// The interpreter (canonical), and for `env` the program it runs as
    /// found on `search` (the host's PATH, as the policy resolves rules).
    fn interpreters(&self, search: &SearchPath) -> Vec<PathBuf> {
        let Ok(interpreter) = std::fs::canonicalize(&self.interpreter) else {
            return Vec::new();
        };
        let mut found = vec![interpreter];
        // By the name written: `env` may be a link into a multi-call binary.
        if Path::new(&self.interpreter).file_name().is_some_and(|n| n == "env") {
            let program = self
                .argument
                .split_whitespace()
                .find(|w| !w.starts_with('-') && !w.contains('='));
            found.extend(program.and_then(|p| resolve_program(p, Path::new("/"), search).ok()));
        }
        found
    }
}

/// The file a shim's line `exec [-a NAME] /absolute/path ...` runs, if the
/// path is written out (quoted or not) and exists; canonical.
fn exec_target(line: &str) -> Option<PathBuf> {
    let mut words = line.trim().strip_prefix("exec")?.split_whitespace();
    let word = loop {
        match words.next()? {
            "-a" => {
                words.next();
            }
            flag if flag.starts_with('-') => {}
            word => break word,
        }
    };
    let path = word.trim_matches(|c| c == '"' || c == '\'');
    if !path.starts_with('/') || path.contains(['$', '`']) {
        return None;
    }
    let path = std::fs::canonicalize(path).ok()?;
    path.is_file().then_some(path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::sandbox::ChildNet;

    /// An executable script at `path`.
    fn script(path: &Path, text: &str) -> PathBuf {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.canonicalize().unwrap()
    }

    fn system() -> SearchPath {
        SearchPath::parse(std::ffi::OsStr::new("/usr/bin:/bin"))
    }

    fn sh() -> PathBuf {
        std::fs::canonicalize("/bin/sh").unwrap()
    }

    /// A plan whose children may execute `exec`, and nothing else.
    fn plan(exec: Vec<PathBuf>) -> ChildPlan {
        ChildPlan {
            read: Vec::new(),
            write: Vec::new(),
            write_files: Vec::new(),
            exec,
            net: ChildNet::default(),
            tmp: std::env::temp_dir(),
            abi: 0,
            seccomp: false,
            drop_caps: false,
            tree: TreePlan::default(),
        }
    }

    #[test]
    fn a_shim_runs_its_interpreter_then_its_exec_target_then_that_ones() {
        let dir = tempfile::tempdir().unwrap();
        let real = script(&dir.path().join("installs/1.0/bin/tool"), "#!/bin/sh\necho real\n");
        let cases: &[(&str, Vec<PathBuf>)] = &[
            // asdf's shape, unquoted, after comments
            (
                "#!/bin/sh\n# asdf-plugin: tool 1.0\nexec REAL \"$@\"\n",
                vec![sh(), real.clone()],
            ),
            // pyenv's shape: quoted, with arguments of its own
            (
                "#!/bin/sh\nset -e\nexec \"REAL\" exec \"$program\" \"$@\"\n",
                vec![sh(), real.clone()],
            ),
            // exec -a NAME keeps argv[0]
            ("#!/bin/sh\nexec -a tool 'REAL' \"$@\"\n", vec![sh(), real.clone()]),
            // a target built from variables is not followed
            ("#!/bin/sh\nexec \"$ROOT/bin/tool\" \"$@\"\n", vec![sh()]),
            // a target that does not exist is not named
            ("#!/bin/sh\nexec /no/such/tool \"$@\"\n", vec![sh()]),
        ];
        for (text, expected) in cases {
            let text = text.replace("REAL", real.to_str().unwrap());
            let shim = script(&dir.path().join("shims/tool"), &text);
            assert_eq!(&runs(&shim, &system()).files, expected, "{text}");
        }
    }

    #[test]
    fn env_in_the_shebang_adds_the_program_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let shim = script(&dir.path().join("tool"), "#!/usr/bin/env -S sh -e\necho hi\n");
        let env = std::fs::canonicalize("/usr/bin/env").unwrap();
        let found = runs(&shim, &system());
        assert_eq!(
            found,
            Runs {
                files: vec![env, sh()],
                target: None
            }
        );
    }

    #[test]
    fn programs_that_are_no_scripts_run_nothing_and_nothing_hangs_or_loops() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(runs(&sh(), &system()), Runs::default(), "an ELF program is no shim");
        let text = script(&dir.path().join("text"), "echo no shebang\n");
        assert_eq!(runs(&text, &system()), Runs::default());
        // A FIFO, as a program or as an exec target, is never opened for
        // reading in a way that blocks.
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o700) }, 0);
        assert_eq!(runs(&fifo, &system()), Runs::default());
        let to_fifo = script(
            &dir.path().join("to-fifo"),
            &format!("#!/bin/sh\nexec {}\n", fifo.display()),
        );
        assert_eq!(runs(&to_fifo, &system()).files, vec![sh()]);
        // Two shims that run each other end the walk.
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        script(&a, &format!("#!/bin/sh\nexec {}\n", b.display()));
        let b = script(&b, &format!("#!/bin/sh\nexec {}\n", a.display()));
        let a = a.canonicalize().unwrap();
        assert_eq!(runs(&a, &system()).files, vec![sh(), b]);
    }

    #[test]
    fn a_shim_is_followed_only_a_few_levels_deep() {
        let dir = tempfile::tempdir().unwrap();
        let mut next = script(&dir.path().join("level9"), "#!/bin/sh\necho deep\n");
        for level in (0..9).rev() {
            let text = format!("#!/bin/sh\nexec {}\n", next.display());
            next = script(&dir.path().join(format!("level{level}")), &text);
        }
        // The interpreter, then one target per level followed.
        assert_eq!(runs(&next, &system()).files.len(), 1 + MAX_LEVELS);
    }

    #[test]
    fn a_policy_warns_of_a_granted_shim_only_while_landlock_confines_children() {
        use crate::policy::PolicyBuilder;
        use crate::Strictness;
        if crate::KernelSupport::get().landlock_abi == 0 {
            eprintln!("skipped: this kernel has no Landlock");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let real = script(&dir.path().join("installs/1.0/bin/tool"), "#!/bin/sh\necho real\n");
        let shim = script(
            &dir.path().join("shims/tool"),
            &format!("#!/bin/sh\nexec {} \"$@\"\n", real.display()),
        );
        let shims = |builder: PolicyBuilder| -> Vec<String> {
            let policy = builder.allow_run(shim.to_str().unwrap()).build().unwrap();
            let warnings = policy.warnings().iter();
            warnings
                .filter(|w| matches!(w, PolicyWarning::BlockedShim { .. }))
                .map(ToString::to_string)
                .collect()
        };
        let warned = shims(PolicyBuilder::new().confine(Strictness::Require));
        assert_eq!(warned.len(), 1, "{warned:?}");
        let expected = format!(
            "embedder policy: rule '{shim}': {shim} is a script (a version manager's shim?) that runs {real}, and confined children may not execute {real}; grant the real program: start procbox with {dir} first on PATH, so that rule '{shim}' names it, or let children run it (`allow-helper`)",
            shim = shim.display(),
            real = real.display(),
            dir = real.parent().unwrap().display()
        );
        assert_eq!(warned[0], expected);
        assert!(shims(PolicyBuilder::new().confine(Strictness::Off)).is_empty());
        let helper = format!("{}={}", shim.display(), real.display());
        let helped = PolicyBuilder::new().confine(Strictness::Require).allow_helper(&helper);
        assert!(shims(helped).is_empty(), "a helper lets children run it");
    }

    #[test]
    fn an_ordinary_script_run_through_env_is_a_warning_naming_its_interpreter() {
        use crate::policy::PolicyBuilder;
        use crate::Strictness;
        if crate::KernelSupport::get().landlock_abi == 0 {
            eprintln!("skipped: this kernel has no Landlock");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let plain = script(&dir.path().join("plain"), "#!/usr/bin/env sh\necho hi\n");
        let plain = plain.to_str().unwrap();
        let warnings = |helper: Option<String>| -> Vec<String> {
            let mut builder = PolicyBuilder::new().confine(Strictness::Require).allow_run(plain);
            if let Some(helper) = helper {
                builder = builder.allow_helper(&helper);
            }
            let policy = builder.build().unwrap();
            let found = policy.warnings().iter();
            found
                .filter(|w| matches!(w, PolicyWarning::BlockedShim { .. }))
                .map(ToString::to_string)
                .collect()
        };
        let sh = sh().display().to_string();
        assert_eq!(
            warnings(None),
            vec![format!("embedder policy: rule '{plain}': {plain} is a script whose interpreter confined children may not execute: {sh}; let them run it (`allow-helper`, {plain}={sh})")]
        );
        assert!(
            warnings(Some(format!("{plain}={sh}"))).is_empty(),
            "the helper it names is the fix"
        );
    }

    #[test]
    fn what_the_plan_does_not_let_children_execute_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = script(&dir.path().join("installs/1.0/bin/tool"), "#!/bin/sh\necho real\n");
        let shim = script(
            &dir.path().join("shims/tool"),
            &format!("#!/bin/sh\nexec {} \"$@\"\n", real.display()),
        );
        let found = runs(&shim, &system());
        assert_eq!(found.target.as_ref(), Some(&real));
        let runs = found.files;
        // The plan of a granted script executes it and its interpreter.
        assert_eq!(refused(&runs, &plan(vec![shim.clone(), sh()])), vec![real.clone()]);
        // A helper, by file or by directory, lets children run the target.
        assert!(refused(&runs, &plan(vec![shim.clone(), sh(), real.clone()])).is_empty());
        let installs = dir.path().join("installs").canonicalize().unwrap();
        assert!(refused(&runs, &plan(vec![shim, sh(), installs])).is_empty());
    }
}
