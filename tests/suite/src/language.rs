//! Plugins in languages other than Rust, built by their own scripts from
//! the package registries (`guests/python/build.sh` with componentize-py,
//! `guests/js/build.sh` with componentize-js), for the tests that run them:
//! the examples (`guests/python/examples/`, `guests/js/examples/`) and the
//! tests' fixtures (`tests/fixtures/python/`, `tests/fixtures/js/`).
//!
//! A plugin is built once per test binary, and again only when a source of
//! it (or of its SDK, or the WIT) is newer than the `.wasm`; then it is
//! compiled into the test cache, so that no test run pays for that under
//! its own deadline. When the toolchain cannot be installed here (the
//! script exits 77), the tests print why and pass without running, unless
//! the language's `PROCBOX_REQUIRE_...` variable is set (then they fail);
//! any other build failure fails them.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tokio::sync::OnceCell;

use crate::{procbox_bin, target_dir, test_cache_dir};

/// The build scripts' status for "the toolchain cannot be installed here".
const TOOLCHAIN_UNAVAILABLE: i32 = 77;

/// One language's toolchain.
pub struct Language {
    /// For messages: "Python".
    pub name: &'static str,
    /// Its directory under the repository, with the build script:
    /// "guests/python". Its plugins are built into the same directory
    /// under the target directory.
    pub dir: &'static str,
    /// The directories of its plugins, under the repository: its examples
    /// and the tests' fixtures.
    pub plugins: [&'static str; 2],
    /// The sources' extensions: ["py"].
    pub extensions: &'static [&'static str],
    /// Its SDK's sources, under the repository: "guests/python/sdk/procbox".
    pub sdk: &'static str,
    /// The variable that turns a skip into a failure.
    pub require: &'static str,
    /// The variable that places its toolchain, and where the tests put it
    /// (under the target directory).
    pub toolchain: (&'static str, &'static str),
}

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository")
}

impl Language {
    /// The plugin `NAME` (an example or a fixture, see [`Language::source`])
    /// as a `.wasm` in `target/DIR`, built and
    /// compiled into the test cache once per `cell`; `None` (after printing
    /// why) when the toolchain cannot be installed here.
    pub async fn plugin(
        &'static self,
        cell: &'static OnceCell<Result<PathBuf, String>>,
        name: &'static str,
    ) -> Option<&'static Path> {
        match cell.get_or_init(|| self.build(name)).await {
            Ok(wasm) => Some(wasm),
            Err(reason) if std::env::var_os(self.require).is_some() => {
                panic!(
                    "{} is set, but the {} toolchain cannot be installed: {reason}",
                    self.require, self.name
                )
            }
            Err(reason) => {
                crate::skip(&format!(
                    "the {} toolchain cannot be installed here: {reason}",
                    self.name
                ));
                None
            }
        }
    }

    /// The directory of the plugin `name`: in the examples or in the
    /// fixtures, whichever holds it (a name in both is a mistake).
    pub fn source(&self, name: &str) -> PathBuf {
        let found: Vec<PathBuf> = self
            .plugins
            .iter()
            .map(|dir| repo().join(dir).join(name))
            .filter(|dir| dir.is_dir())
            .collect();
        match found.as_slice() {
            [dir] => dir.clone(),
            [] => panic!("no {name} in {}", self.plugins.join(" or ")),
            _ => panic!("{name} is in both {}: rename one", self.plugins.join(" and ")),
        }
    }

    /// The toolchain variable, set as the tests want it.
    pub fn toolchain_env(&self) -> (&'static str, PathBuf) {
        let (var, default) = self.toolchain;
        let place = std::env::var_os(var).map_or_else(|| target_dir().join(default), PathBuf::from);
        (var, place)
    }

    async fn build(&self, name: &str) -> Result<PathBuf, String> {
        let wasm = target_dir().join(self.dir).join(format!("{name}.wasm"));
        let script = repo().join(self.dir).join("build.sh");
        if self.stale(&wasm, &script, name) {
            // The build scripts refuse an OUT in a directory that does not
            // exist; a fresh clone has no target/guests/<language> yet.
            std::fs::create_dir_all(wasm.parent().expect("a file in a directory"))
                .expect("create the output directory");
            let started = std::time::Instant::now();
            let (var, place) = self.toolchain_env();
            let out = tokio::process::Command::new("bash")
                .arg(&script)
                .arg(self.source(name))
                .arg(&wasm)
                .env(var, place)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output()
                .await
                .expect("start the build script");
            let stderr = String::from_utf8_lossy(&out.stderr);
            match out.status.code() {
                Some(0) => eprintln!("built {} in {:.0?}", wasm.display(), started.elapsed()),
                Some(TOOLCHAIN_UNAVAILABLE) => return Err(stderr.trim().to_string()),
                _ => panic!("{} failed ({}):\n{stderr}", script.display(), out.status),
            }
        }
        compile_into_test_cache(&wasm).await;
        Ok(wasm)
    }

    /// Whether `wasm` is missing or older than its build script, the WIT,
    /// or a source of the plugin `name` or of the SDK.
    fn stale(&self, wasm: &Path, script: &Path, name: &str) -> bool {
        let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let Some(built) = modified(wasm) else {
            return true;
        };
        let sources = |dir: PathBuf| {
            std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|entry| entry.expect("a directory entry").path())
                .filter(|path| {
                    path.extension()
                        .is_some_and(|ext| self.extensions.iter().any(|e| ext == *e))
                })
                .collect::<Vec<_>>()
        };
        [script.to_path_buf(), repo().join("wit/process.wit")]
            .into_iter()
            .chain(sources(self.source(name)))
            .chain(sources(repo().join(self.sdk)))
            .any(|source| modified(&source).unwrap_or(SystemTime::now()) > built)
    }
}

impl Language {
    /// README.md's first plugin in this language, run as written: `procbox
    /// new --lang LANG`, its build.sh, and a run with the grants its
    /// manifest requests (embedded by build.sh); without them, a denial.
    pub async fn new_project_builds_and_runs(&self, lang: &str) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let short = if lang == "python" { "py" } else { lang };
        let name = format!("my-{short}-tool");
        let block = crate::readme::shell_block("Your first plugin", &format!("procbox new --lang {lang} {name}"));
        let ran = crate::readme::run_block(&block, dir.path(), &[self.toolchain_env()]).await;
        assert!(ran.success, "{block}\n{ran:?}");
        assert!(ran.stdout.ends_with(&format!("hello from {name} world\n")), "{ran:?}");
        assert!(ran.stderr.contains("granting what"), "{ran:?}");
        let wasm = dir.path().join(&name).join(format!("{name}.wasm"));
        let wasm = wasm.to_str().expect("a UTF-8 path");
        let run = crate::procbox(&["run", wasm, "--", "world"]).await;
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(
            run.stderr.contains("was denied") && run.stderr.contains("--allow-run"),
            "{run:?}"
        );
    }
}

/// What a build script printed and how it ended.
pub struct Built {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The `.wasm` at `path` is a component (or at least a wasm binary).
pub fn is_wasm(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes.starts_with(b"\0asm"))
}

impl Language {
    /// Runs `script ARGS` in `cwd` with the tests' toolchain.
    pub async fn run_script(&self, script: &Path, args: &[&str], cwd: &Path) -> Built {
        let (var, place) = self.toolchain_env();
        let out = tokio::process::Command::new(script)
            .args(args)
            .env(var, place)
            .env("PROCBOX", procbox_bin())
            .current_dir(cwd)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .expect("start a build script");
        Built {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `DIR/build.sh DIR [OUT]` from inside a copy of the plugin `name`
    /// outside the repository: `.`, relative and absolute DIR, relative and
    /// absolute OUT, OUT inside DIR; and user mistakes (no app file, OUT
    /// in a directory that does not exist) as one line and a non-zero exit.
    pub async fn script_builds_from_anywhere(&self, name: &str, app: &str) {
        let started = std::time::Instant::now();
        let script = repo().join(self.dir).join("build.sh");
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let plugin = tmp.path().join(name);
        copy_dir(&self.source(name), &plugin);
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let abs = |p: &Path| p.to_str().expect("a UTF-8 path").to_string();
        let cases: [(&Path, Vec<String>, PathBuf); 3] = [
            // From inside the plugin: `.` and an OUT inside it, relative.
            (&plugin, vec![".".into(), "out.wasm".into()], plugin.join("out.wasm")),
            // A relative DIR, and a relative OUT inside it.
            (
                tmp.path(),
                vec![name.into(), format!("{name}/inside.wasm")],
                plugin.join("inside.wasm"),
            ),
            // Absolute both, from elsewhere.
            (
                &elsewhere,
                vec![abs(&plugin), abs(&plugin.join("abs.wasm"))],
                plugin.join("abs.wasm"),
            ),
        ];
        for (cwd, args, wasm) in cases {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let built = self.run_script(&script, &args, cwd).await;
            assert_eq!(built.code, Some(0), "build.sh {args:?} in {}: {built:?}", cwd.display());
            assert_eq!(built.stdout.trim(), abs(&wasm), "{built:?}");
            assert!(is_wasm(&wasm), "{} is not wasm", wasm.display());
        }
        // Mistakes: one line naming the cause, a non-zero exit.
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let mistakes: [(&Path, &[&str], &str); 3] = [
            (&empty, &[".", "x.wasm"], app),
            (&plugin, &[".", "no/such/dir/x.wasm"], "does not exist"),
            (&elsewhere, &["no-such-plugin-dir/", "x.wasm"], "is not a directory"),
        ];
        for (cwd, args, cause) in mistakes {
            let built = self.run_script(&script, args, cwd).await;
            self.one_line_failure(&built, cause);
        }
        eprintln!("{}: build.sh from anywhere took {:.0?}", self.name, started.elapsed());
    }

    /// A failure: a non-zero exit, no stdout, and one line on stderr that
    /// names `cause`.
    pub fn one_line_failure(&self, built: &Built, cause: &str) {
        assert!(
            !matches!(built.code, Some(0) | Some(TOOLCHAIN_UNAVAILABLE)),
            "{built:?}"
        );
        assert_eq!(built.stdout, "", "{built:?}");
        assert_eq!(built.stderr.lines().count(), 1, "{built:?}");
        assert!(built.stderr.contains(cause), "{cause:?}: {built:?}");
    }

    /// A `procbox new --lang LANG` project's `build.sh [OUT]` from inside
    /// the project (relative OUT), from elsewhere (absolute OUT), and its
    /// mistakes (OUT in a missing directory, no app file) as one line.
    /// Returns the project (in `dir`) for more checks.
    pub async fn new_project_script_builds_from_anywhere(&self, lang: &str, dir: &Path, app: &str) -> PathBuf {
        let started = std::time::Instant::now();
        let name = format!("from-anywhere-{lang}");
        let created = crate::procbox_in(dir, &["new", "--lang", lang, &name]).await;
        assert_eq!(created.code, Some(0), "{created:?}");
        let project = dir.join(&name);
        let script = project.join("build.sh");
        let built = self
            .run_script(Path::new("./build.sh"), &["inside.wasm"], &project)
            .await;
        assert_eq!(built.code, Some(0), "{built:?}");
        assert!(is_wasm(&project.join("inside.wasm")));
        let elsewhere = dir.join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let out = elsewhere.join("abs.wasm");
        let built = self.run_script(&script, &[out.to_str().unwrap()], &elsewhere).await;
        assert_eq!(built.code, Some(0), "{built:?}");
        assert!(is_wasm(&out));
        let built = self
            .run_script(Path::new("./build.sh"), &["no/such/dir/x.wasm"], &project)
            .await;
        self.one_line_failure(&built, "does not exist");
        let moved = project.join(format!("{app}.moved"));
        std::fs::rename(project.join(app), &moved).unwrap();
        let built = self.run_script(&script, &[], dir).await;
        self.one_line_failure(&built, app);
        std::fs::rename(&moved, project.join(app)).unwrap();
        eprintln!(
            "{}: a new project's build.sh from anywhere took {:.0?}",
            self.name,
            started.elapsed()
        );
        project
    }
}

/// Copies the files of `from` (not its subdirectories) into a new `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// `tsc` (pinned, from npm), installed by `guests/js/build.sh` into the
/// tests' JavaScript toolchain.
pub fn tsc() -> PathBuf {
    JAVASCRIPT.toolchain_env().1.join("tsc/node_modules/.bin/tsc")
}

/// The fenced code blocks of `markdown` whose language is one of `langs`:
/// (language, line of the opening fence, code).
pub fn code_blocks<'a>(markdown: &'a str, langs: &[&str]) -> Vec<(&'a str, usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(&str, usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let fence = line.trim_start();
        match open.take() {
            None => {
                if let Some(lang) = fence.strip_prefix("```") {
                    let lang = lang.trim();
                    if langs.contains(&lang) {
                        open = Some((lang, i + 1, String::new()));
                    } else if !lang.is_empty() || fence == "```" {
                        // Another language's block: skip to its end.
                        open = Some(("", i + 1, String::new()));
                    }
                }
            }
            Some((lang, at, code)) if fence == "```" => {
                if !lang.is_empty() {
                    blocks.push((lang, at, code));
                }
            }
            Some((lang, at, mut code)) => {
                code.push_str(line);
                code.push('\n');
                open = Some((lang, at, code));
            }
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    blocks
}

/// `procbox compile WASM` into the cache the tests' procbox runs use.
async fn compile_into_test_cache(wasm: &Path) {
    let started = std::time::Instant::now();
    let out = tokio::process::Command::new(procbox_bin())
        .arg("compile")
        .arg(wasm)
        .env("PROCBOX_CACHE_DIR", test_cache_dir())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("start procbox compile");
    assert!(
        out.status.success(),
        "procbox compile {}: {}",
        wasm.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "{} ({:.0?})",
        String::from_utf8_lossy(&out.stdout).trim(),
        started.elapsed()
    );
}

/// Python, on componentize-py.
pub static PYTHON: Language = Language {
    name: "Python plugin",
    dir: "guests/python",
    plugins: ["guests/python/examples", "tests/fixtures/python"],
    extensions: &["py"],
    sdk: "guests/python/sdk/procbox",
    require: "PROCBOX_REQUIRE_PYTHON",
    toolchain: ("PROCBOX_PY_VENV", "componentize-py-venv"),
};

/// JavaScript, on componentize-js.
pub static JAVASCRIPT: Language = Language {
    name: "JavaScript plugin",
    dir: "guests/js",
    plugins: ["guests/js/examples", "tests/fixtures/js"],
    extensions: &["js", "ts"],
    sdk: "guests/js/sdk",
    require: "PROCBOX_REQUIRE_JS",
    toolchain: ("PROCBOX_JS_TOOLCHAIN", "js-toolchain"),
};

/// Live processes (not zombies) running `sleep` with `marker` in their
/// command line: children a test's plugin had to stop.
pub fn sleeping_with(marker: &str) -> Vec<u32> {
    crate::live_processes(|argv0, cmdline| ["sleep", "/usr/bin/sleep"].contains(&argv0) && cmdline.contains(marker))
}
