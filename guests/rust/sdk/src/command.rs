//! Building a command, like `std::process::Command`.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use crate::bindings::process as wit;
use crate::child::Child;
use crate::error::{tail, Error, Failure};
use crate::status::{ExitStatus, Output};
use crate::Signal;

/// How many lines of stderr a [`Failure`] keeps.
const STDERR_TAIL_LINES: usize = 10;
/// Default time between the timeout signal and SIGKILL.
const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

/// Where a child's standard stream goes (the original design's "default
/// readers and writers").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stdio {
    /// A pipe that the plugin reads or writes.
    Piped,
    /// The null device.
    Null,
    /// procbox's own stream (its terminal, say); the host must grant it
    /// (`--allow-inherit`).
    Inherit,
    /// A file relative to the child's working directory, inside a directory
    /// the host grants: read for stdin; truncated, or appended to, for output.
    File {
        /// The file's path.
        path: String,
        /// Append instead of truncating (output only).
        append: bool,
    },
}

impl Stdio {
    /// A pipe that the plugin reads or writes.
    pub fn piped() -> Stdio {
        Stdio::Piped
    }
    /// The null device.
    pub fn null() -> Stdio {
        Stdio::Null
    }
    /// procbox's own stream of the same name (needs `--allow-inherit`).
    pub fn inherit() -> Stdio {
        Stdio::Inherit
    }
    /// A file: read for stdin (it must lie in a directory the user granted:
    /// `--dir`, `--allow-read` or `--allow-write`); created or truncated for
    /// stdout and stderr (under `--allow-write` only, and never a protected
    /// path such as a repository's `.git`).
    pub fn file(path: impl Into<String>) -> Stdio {
        Stdio::File {
            path: path.into(),
            append: false,
        }
    }
    /// A file that output is appended to (under `--allow-write` only).
    pub fn append(path: impl Into<String>) -> Stdio {
        Stdio::File {
            path: path.into(),
            append: true,
        }
    }
    pub(crate) fn to_wit(&self) -> wit::Stdio<'static> {
        match self {
            Stdio::Piped => wit::Stdio::Piped,
            Stdio::Null => wit::Stdio::Null,
            Stdio::Inherit => wit::Stdio::Inherit,
            Stdio::File { path, append } => wit::Stdio::File(wit::FileRedirect {
                path: path.clone(),
                append: *append,
            }),
        }
    }
}

/// Where stderr goes when the command says so: a [`Stdio`], or stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stderr {
    Stdio(Stdio),
    /// `2>&1`.
    ToStdout,
}

/// A command to run. Build it, then call [`spawn`](Command::spawn),
/// [`output`](Command::output) or [`status`](Command::status).
///
/// Its [`Display`](fmt::Display) is the command line as procbox's messages
/// show it, with words quoted when they need it.
#[derive(Debug, Clone)]
pub struct Command {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: Option<String>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stderr>,
    timeout: Option<Duration>,
    timeout_signal: Signal,
    kill_grace: Duration,
    checked: bool,
    input: Option<Vec<u8>>,
    measure_tree: bool,
}

impl Command {
    /// A command that runs `program`: a name looked up on the host's PATH,
    /// or a path.
    pub fn new(program: impl Into<String>) -> Command {
        Command {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            stdin: None,
            stdout: None,
            stderr: None,
            timeout: None,
            timeout_signal: Signal::Terminate,
            kill_grace: DEFAULT_KILL_GRACE,
            checked: true,
            input: None,
            measure_tree: false,
        }
    }

    /// Measures the child's whole tree: its [`ExitStatus::tree_usage`]
    /// reports the CPU time and peak memory of the child and every process
    /// it started, where the host can give it a cgroup of its own
    /// (`procbox doctor` says). Costs a little at spawn.
    pub fn measure_tree(&mut self) -> &mut Command {
        self.measure_tree = true;
        self
    }

    /// Adds one argument.
    pub fn arg(&mut self, arg: impl Into<String>) -> &mut Command {
        self.args.push(arg.into());
        self
    }

    /// Adds several arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable. The environment starts empty.
    pub fn env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Command {
        let key = key.into();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }

    /// Sets several environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Removes a variable set earlier.
    pub fn env_remove(&mut self, key: &str) -> &mut Command {
        self.env.retain(|(k, _)| k != key);
        self
    }

    /// Removes every variable set earlier. (Nothing is inherited anyway.)
    pub fn env_clear(&mut self) -> &mut Command {
        self.env.clear();
        self
    }

    /// Sets the working directory; it must lie in a directory the host grants.
    pub fn current_dir(&mut self, dir: impl Into<String>) -> &mut Command {
        self.cwd = Some(dir.into());
        self
    }

    /// Where stdin comes from (default: null).
    pub fn stdin(&mut self, stdio: Stdio) -> &mut Command {
        self.stdin = Some(stdio);
        self
    }

    /// Where stdout goes (default: null for `spawn`, piped for `output`).
    pub fn stdout(&mut self, stdio: Stdio) -> &mut Command {
        self.stdout = Some(stdio);
        self
    }

    /// Where stderr goes (default: null for `spawn`, piped for `output` and
    /// `status`, which keep its tail for error messages). Replaces an earlier
    /// [`stderr_to_stdout`](Self::stderr_to_stdout).
    pub fn stderr(&mut self, stdio: Stdio) -> &mut Command {
        self.stderr = Some(Stderr::Stdio(stdio));
        self
    }

    /// Sends stderr wherever stdout goes, as the shell's `2>&1`: into the
    /// same pipe (so [`Output::stdout`] holds both, in the order the child
    /// wrote them, and [`Output::stderr`] is empty), the same file, or null.
    /// Replaces an earlier [`stderr`](Self::stderr).
    ///
    /// ```no_run
    /// # use procbox_sdk::{Command, Stdio};
    /// # fn main() -> Result<(), procbox_sdk::Error> {
    /// // make >>build.log 2>&1
    /// Command::new("make").stdout(Stdio::append("build.log")).stderr_to_stdout().status()?;
    /// # Ok(()) }
    /// ```
    pub fn stderr_to_stdout(&mut self) -> &mut Command {
        self.stderr = Some(Stderr::ToStdout);
        self
    }

    /// Stops the child if it runs longer than `timeout`: the host sends
    /// SIGTERM (see [`timeout_signal`](Self::timeout_signal)) to its process
    /// group, waits [`kill_grace`](Self::kill_grace), then sends SIGKILL.
    pub fn timeout(&mut self, timeout: Duration) -> &mut Command {
        self.timeout = Some(timeout);
        self
    }

    /// The first signal sent when the timeout runs out (default SIGTERM).
    pub fn timeout_signal(&mut self, signal: Signal) -> &mut Command {
        self.timeout_signal = signal;
        self
    }

    /// Time between the timeout signal and SIGKILL (default 2 s).
    pub fn kill_grace(&mut self, grace: Duration) -> &mut Command {
        self.kill_grace = grace;
        self
    }

    /// Makes [`output`](Self::output) and [`status`](Self::status) return a
    /// status that is not a [success](ExitStatus::success) (a non-zero exit,
    /// a signal, a timeout, truncated output) instead of an error. In a
    /// [`Pipeline`](crate::Pipeline), this stage's failure is ignored and
    /// the other stages' is not.
    pub fn unchecked(&mut self) -> &mut Command {
        self.checked = false;
        self
    }

    /// Feeds `input` to stdin in [`output`](Self::output) and
    /// [`status`](Self::status), written while the output is read so
    /// neither side can block the other (like Python's `communicate`).
    pub fn input(&mut self, input: impl Into<Vec<u8>>) -> &mut Command {
        self.input = Some(input.into());
        self
    }

    /// Runs the command and returns its stdout as trimmed text, like `$(…)`
    /// in a shell or duct's `read()`.
    ///
    /// # Errors
    /// As [`output`](Self::output), and [`Error::Decode`] if stdout is not
    /// UTF-8.
    pub fn read(&self) -> Result<String, Error> {
        Ok(self.output()?.stdout_text()?.trim().to_string())
    }

    /// Starts the child. Unset streams default to null.
    ///
    /// # Errors
    /// [`Error::Denied`] if the host's policy refuses, [`Error::NotFound`]
    /// if there is no such program, and the other [`Error`] cases as the
    /// host reports them.
    pub fn spawn(&self) -> Result<Child, Error> {
        self.spawn_with(Stdio::Null, Stdio::Null, Stdio::Null)
    }

    /// Runs the child to the end, capturing stdout and stderr (unless set
    /// otherwise) concurrently.
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn); and [`Error::Failed`] when the child did
    /// not succeed ([`ExitStatus::success`]: a non-zero exit, a signal, a
    /// timeout or truncated output), unless [`unchecked`](Self::unchecked).
    pub fn output(&self) -> Result<Output, Error> {
        let child = self.spawn_with(self.default_stdin(), Stdio::Piped, Stdio::Piped)?;
        let output = child.communicate(self.input.as_deref().unwrap_or_default())?;
        self.check(output)
    }

    /// Piped when there is [`input`](Self::input) to feed, else null.
    fn default_stdin(&self) -> Stdio {
        if self.input.is_some() {
            Stdio::Piped
        } else {
            Stdio::Null
        }
    }

    /// Runs the child to the end and returns its status. Stdout goes to
    /// null and stderr is captured for the error message, unless set.
    ///
    /// # Errors
    /// As [`output`](Self::output).
    pub fn status(&self) -> Result<ExitStatus, Error> {
        let child = self.spawn_with(self.default_stdin(), Stdio::Null, Stdio::Piped)?;
        let output = child.communicate(self.input.as_deref().unwrap_or_default())?;
        Ok(self.check(output)?.status)
    }

    fn spawn_with(&self, stdin: Stdio, stdout: Stdio, stderr: Stdio) -> Result<Child, Error> {
        let command = self.to_wit(stdin.to_wit(), stdout, stderr);
        Ok(Child::new(wit::spawn(&command)?))
    }

    /// This command as the host's record; unset streams take the defaults.
    pub(crate) fn to_wit<'a>(&self, stdin: wit::Stdio<'a>, stdout: Stdio, stderr: Stdio) -> wit::Command<'a> {
        wit::Command {
            program: self.program.clone(),
            args: self.args.clone(),
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            stdin: match &self.stdin {
                Some(own) => own.to_wit(),
                None => stdin,
            },
            stdout: self.stdout.as_ref().unwrap_or(&stdout).to_wit(),
            stderr: match &self.stderr {
                Some(Stderr::Stdio(own)) => own.to_wit(),
                Some(Stderr::ToStdout) => wit::Stdio::Stdout,
                None => stderr.to_wit(),
            },
            measure_tree: self.measure_tree,
            timeout: self.timeout.map(|after| wit::Timeout {
                after: nanos(after),
                signal: self.timeout_signal,
                grace: nanos(self.kill_grace),
            }),
        }
    }

    /// Whether a non-zero exit is an error (the default).
    pub(crate) fn is_checked(&self) -> bool {
        self.checked
    }

    /// Starts a pipeline: this command's stdout becomes `next`'s stdin.
    pub fn pipe(&self, next: &Command) -> crate::Pipeline {
        crate::Pipeline::new(self.clone()).pipe(next)
    }

    pub(crate) fn check(&self, output: Output) -> Result<Output, Error> {
        if !self.checked || output.status.success() {
            return Ok(output);
        }
        Err(self.failure(output.status, &output.stderr))
    }

    /// The [`Error::Failed`] for this command ending with `status`, with
    /// the tail of `stderr`.
    pub(crate) fn failure(&self, status: ExitStatus, stderr: &[u8]) -> Error {
        Error::Failed(Box::new(Failure {
            command: self.to_string(),
            cwd: self.cwd.clone(),
            status,
            stderr_tail: tail(stderr, STDERR_TAIL_LINES),
        }))
    }
}

/// The command line as procbox shows it in messages: the program and its
/// arguments separated by spaces, each word written as it is unless it is
/// empty or contains white space, a quote (`"` or `'`) or a control
/// character; such a word is written as Rust's `{:?}` writes a string (in
/// double quotes, with `\"`, `\\`, `\n`, `\t`, `\u{1b}`, ... escapes).
///
/// This is the host's rule for the arguments in its own messages
/// (`denied: /usr/bin/git log "a b": ...`), so a command reads the same in
/// an SDK error as in a refusal. One difference: the host writes the
/// program as the path it resolved and does not quote it; here the program
/// is the one given to [`Command::new`], quoted by the same rule as the
/// arguments. The environment, working directory and redirections are not
/// shown. Every message of this crate that names a command (a
/// [`Failure`], a pipeline's stage, a queue's cancelled command) uses this.
///
/// ```
/// # use procbox_sdk::Command;
/// let mut sh = Command::new("sh");
/// sh.args(["-c", "echo hi; exit 3", ""]);
/// assert_eq!(sh.to_string(), r#"sh -c "echo hi; exit 3" """#);
/// ```
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&quote(&self.program))?;
        for arg in &self.args {
            write!(f, " {}", quote(arg))?;
        }
        Ok(())
    }
}

/// One word of a command line as [`Command`]'s `Display` writes it: the
/// same rule as the host's `quote` in `host/procbox/src/gate/render.rs`.
fn quote(word: &str) -> Cow<'_, str> {
    let plain =
        !word.is_empty() && !word.contains(|c: char| c.is_whitespace() || c.is_control() || c == '"' || c == '\'');
    if plain {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("{word:?}"))
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::{quote, Command};

    /// The quoting of the host's messages (`quote` in `host/procbox/src/gate/render.rs`):
    /// a word is written as it is unless it is empty or contains white
    /// space, `"`, `'` or a control character; then as Rust's `{:?}`.
    /// Every row here is what the host writes for the same argument.
    #[test]
    fn words_are_quoted_as_the_host_quotes_them() {
        let cases = [
            ("plain", "plain"),
            ("--format=%an", "--format=%an"),
            ("a*b?[c]", "a*b?[c]"),
            ("$HOME;|&<>()", "$HOME;|&<>()"),
            ("back\\slash", "back\\slash"),
            ("ünïcødé", "ünïcødé"),
            ("", r#""""#),
            ("two words", r#""two words""#),
            ("tab\there", r#""tab\there""#),
            ("line\nbreak", r#""line\nbreak""#),
            ("it's", r#""it's""#),
            (r#"say "hi""#, r#""say \"hi\"""#),
            (r#"both\ "quoted""#, r#""both\\ \"quoted\"""#),
            ("\u{1b}[31m", r#""\u{1b}[31m""#),
            ("nul\0", r#""nul\0""#),
            ("\u{a0}no-break", r#""\u{a0}no-break""#),
        ];
        for (word, shown) in cases {
            assert_eq!(quote(word), shown, "{word:?}");
        }
    }

    #[test]
    fn a_command_line_is_its_quoted_words() {
        let mut sh = Command::new("sh");
        sh.args(["-c", "cat >/dev/null; exit 4"]);
        assert_eq!(sh.to_string(), r#"sh -c "cat >/dev/null; exit 4""#);
        assert_eq!(Command::new("true").to_string(), "true");
        let mut spaced = Command::new("/opt/my tools/run");
        spaced.args(["", "x"]);
        assert_eq!(spaced.to_string(), r#""/opt/my tools/run" "" x"#);
        // What is not part of the command line is not shown.
        let mut env = Command::new("env");
        env.env("A", "b").current_dir("/tmp").unchecked().stderr_to_stdout();
        assert_eq!(env.to_string(), "env");
    }

    #[test]
    fn a_pipeline_joins_its_stages_with_bars() {
        let mut grep = Command::new("grep");
        grep.arg("a b");
        let pipeline = Command::new("ls").pipe(&grep).pipe(Command::new("wc").arg("-l"));
        assert_eq!(pipeline.to_string(), r#"ls | grep "a b" | wc -l"#);
    }
}
