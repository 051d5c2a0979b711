"""topn: the most frequent lines of some files, counted by real processes.

    topn [-n N] [-v] FILE...

runs the pipeline

    sort -- FILE... | uniq -c | sort -rn

and prints its first N lines (default 10), as `| head -n N` would. The
stages are connected child to child through OS pipes (`Stdio_ChildStdout`),
so the data never passes through the plugin: it reads only the last stage's
stdout, and every stage's stderr, as `wasi:io` streams.

Children start with an empty environment, so `sort` and `uniq` compare bytes
(the C locale). Relative FILE paths are relative to where procbox runs.

Whether a stage failed follows procbox's rules (wit/process.wit): a stage
succeeded only if it exited 0, did not time out and its output was not cut
at the policy's cap; a stage killed by SIGPIPE because a later stage ended
is not a failure; and when several stages failed, the rightmost one is
reported (pipefail). Command lines in messages are quoted as procbox quotes
them: a word that is empty or has white space, a quote or a control
character is written in double quotes, with escapes.

Exit status:
    0  the top lines were printed
    1  a stage failed (the message names the rightmost failing stage, with
       its status and stderr), or another error
    2  bad arguments (the usage is printed)
    3  procbox refused to start a stage: it was not granted

Run it with procbox (the manifest narrows what may be granted):

    procbox run topn.wasm --manifest topn.manifest.toml \\
        --allow-run sort --allow-run 'uniq -c' -- -n 5 access.log
"""

import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import poll, process, streams
from wit_world.imports.exit import exit_with_code

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DENIED = 0, 1, 2, 3

USAGE = """\
usage: topn [-n N] [-v] FILE...

Print the N most frequent lines of the FILEs, with their counts, as
`sort -- FILE... | uniq -c | sort -rn | head -n N` does.

  -n N, --lines=N   how many lines to print (default 10)
  -v, --verbose     report each stage and its pid on stderr
  -h, --help        print this help
"""

STDERR_TAIL = 4096  # bytes of each stage's stderr kept for error messages
READ_CHUNK = 64 * 1024
SIGPIPE = 13  # Linux: written to a pipe whose reader has gone


def exit_with(code: int) -> None:
    """Ends the plugin with exactly `code`.

    `sys.exit(n)` reports every n >= 1 as 1, so this uses wasi:cli/exit's
    `exit-with-code`. It ends the instance at once: flush first.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    exit_with_code(code)


def say(message: str) -> None:
    print(f"topn: {message}", file=sys.stderr)


# --- arguments ---------------------------------------------------------------
# Hand-rolled: argparse needs the `locale` module (through gettext), which the
# componentize-py runtime does not include.


class UsageError(Exception):
    pass


@dataclass
class Options:
    lines: int = 10
    verbose: bool = False
    help: bool = False
    files: list[str] = field(default_factory=list)


def count(text: str | None, option: str) -> int:
    if text is None:
        raise UsageError(f"{option} needs a number")
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"{option}: not a positive number: {text!r}")
    return int(text)


def parse_args(argv: list[str]) -> Options:
    options = Options()
    args: Iterator[str] = iter(argv)
    for arg in args:
        if arg == "--":
            options.files.extend(args)  # the rest are files, even `-x`
        elif arg in ("-h", "--help"):
            options.help = True
        elif arg in ("-v", "--verbose"):
            options.verbose = True
        elif arg in ("-n", "--lines"):
            options.lines = count(next(args, None), arg)
        elif arg.startswith("--lines="):
            options.lines = count(arg.removeprefix("--lines="), "--lines")
        elif arg.startswith("-n"):
            options.lines = count(arg.removeprefix("-n"), "-n")  # -n5
        elif arg.startswith("-") and arg != "-":
            raise UsageError(f"unknown option {arg!r}")
        else:
            options.files.append(arg)
    if not options.files and not options.help:
        raise UsageError("no FILE given")
    return options


# --- command lines ---------------------------------------------------------------

# How Rust's `{:?}` escapes these inside a string.
ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def is_control(c: str) -> bool:
    """Rust's `char::is_control`: the C0 and C1 control characters."""
    return ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0


def quote(word: str) -> str:
    """One word of a command line as procbox writes it in messages.

    The rule of the host (`quote` in host/src/gate.rs) and of the Rust SDK
    (`Display` for `Command`): the word as it is, unless it is empty or
    contains white space, a quote or a control character; then in double
    quotes with Rust's `{:?}` escapes (`\\"`, `\\\\`, `\\n`, `\\t`,
    `\\0`, and `\\u{1b}` for other characters that are not printable).
    Rust also escapes combining marks, which this does not.
    """
    plain = word and not any(c.isspace() or is_control(c) or c in "\"'" for c in word)
    if plain:
        return word
    escaped = "".join(ESCAPES.get(c) or (c if c.isprintable() else f"\\u{{{ord(c):x}}}") for c in word)
    return f'"{escaped}"'


# --- the pipeline --------------------------------------------------------------


class StageDenied(Exception):
    """procbox's policy refused to start a stage."""


class StageFailed(Exception):
    """A stage could not start, or ended unsuccessfully."""


@dataclass
class Stage:
    program: str
    args: list[str]
    child: process.Child | None = None
    stderr: bytearray = field(default_factory=bytearray)  # its tail

    def __str__(self) -> str:
        return " ".join(quote(word) for word in [self.program, *self.args])

    def keep_stderr(self, data: bytes) -> None:
        self.stderr += data
        del self.stderr[:-STDERR_TAIL]


def start(stages: list[Stage], cleanup: ExitStack, verbose: bool) -> None:
    """Spawns the stages, each reading the previous one's stdout.

    Every handle goes onto `cleanup`. Leaving it drops them in reverse order,
    streams before their children, and dropping a child's handle kills its
    process group (if it still runs) and reaps it: whatever goes wrong,
    nothing is left running.
    """
    previous = None
    for number, stage in enumerate(stages, 1):
        command = process.Command(
            program=stage.program,
            args=stage.args,
            env=[],
            cwd=None,
            stdin=process.Stdio_Null() if previous is None else process.Stdio_ChildStdout(previous),
            stdout=process.Stdio_Piped(),
            stderr=process.Stdio_Piped(),
            timeout=None,
            measure_tree=False,
        )
        try:
            stage.child = cleanup.enter_context(process.spawn(command))
        except Err as err:
            reason = err.value  # a process.Error_* case; its .value is the message
            if isinstance(reason, process.Error_Denied):
                raise StageDenied(f"stage {number} `{stage}` was not allowed: {reason.value}") from None
            raise StageFailed(f"stage {number} `{stage}` could not start: {reason.value}") from None
        if verbose:
            say(f"stage {number} `{stage}` started, pid {stage.child.pid()}")
        previous = stage.child


@dataclass
class Reader:
    """An open stream, the pollable that says it has data, and where data goes."""

    stream: streams.InputStream
    ready: poll.Pollable
    take: Callable[[bytes], None]  # called with b"" at the end


def read_all(readers: list[Reader]) -> None:
    """Reads every stream as its data arrives, until all have ended.

    Reading them together matters: a stage that fills its stderr pipe while
    the plugin waits on stdout alone would block, and the pipeline with it.
    """
    while readers:
        ready = set(poll.poll([reader.ready for reader in readers]))
        still_open = []
        for index, reader in enumerate(readers):
            if index in ready:
                try:
                    reader.take(reader.stream.read(READ_CHUNK))
                except Err as err:
                    if not isinstance(err.value, streams.StreamError_Closed):
                        raise
                    reader.take(b"")
                    continue  # ended: leave it out of the next poll
            still_open.append(reader)
        readers = still_open


class FirstLines:
    """Keeps the first `n` lines fed to it, and ignores the rest."""

    def __init__(self, n: int):
        self.n = n
        self.lines: list[bytes] = []
        self.partial = bytearray()

    def take(self, data: bytes) -> None:
        if len(self.lines) >= self.n:
            return  # still drained, so that the last stage can finish
        if not data:  # the end: a last line without a newline
            if self.partial:
                self.lines.append(bytes(self.partial))
            return
        self.partial += data
        *complete, rest = self.partial.split(b"\n")
        self.lines += [line + b"\n" for line in complete[: self.n - len(self.lines)]]
        self.partial = bytearray(rest)


def failure(status: process.ExitStatus) -> str | None:
    """How a child failed, or None if it succeeded.

    procbox's success rule: exited 0, not timed out, output not truncated.
    """
    match status.termination:
        case process.Termination_Exited(value=code):
            how = f"exit status {code}"
        case process.Termination_Signalled(value=signal):
            how = f"killed by signal {signal}"
    if status.timed_out:
        return f"{how} (timed out)"
    if status.output_truncated:
        return f"{how} (output over the cap; killed)"
    if status.termination == process.Termination_Exited(0):
        return None
    return how


def stage_failure(statuses: list[process.ExitStatus], index: int) -> str | None:
    """How stage `index` of a finished pipeline failed, or None.

    procbox's pipeline rule: a stage killed by SIGPIPE after a later stage
    exited is not a failure (`... | head` ends a pipeline that way). Only
    the next stage reads a stage's stdout, and every stage has exited when
    this is asked, so SIGPIPE is excused in every stage but the last.
    """
    status = statuses[index]
    broken_pipe = (
        status.termination == process.Termination_Signalled(SIGPIPE)
        and not status.timed_out
        and not status.output_truncated
    )
    if broken_pipe and index + 1 < len(statuses):
        return None
    return failure(status)


def reported_stage(statuses: list[process.ExitStatus]) -> int | None:
    """The index of the stage a failed pipeline reports, or None if it succeeded.

    pipefail: the rightmost failing stage (every stage of topn is checked).
    """
    for index in reversed(range(len(statuses))):
        if stage_failure(statuses, index) is not None:
            return index
    return None


def top_lines(files: list[str], n: int, verbose: bool) -> list[bytes]:
    """The first `n` lines of `sort -- FILES | uniq -c | sort -rn`."""
    stages = [
        Stage("sort", ["--", *files]),
        Stage("uniq", ["-c"]),
        Stage("sort", ["-rn"]),
    ]
    top = FirstLines(n)
    with ExitStack() as cleanup:
        start(stages, cleanup, verbose)

        sources = [(stages[-1].child.take_stdout(), top.take)]
        sources += [(stage.child.take_stderr(), stage.keep_stderr) for stage in stages]
        readers = []
        for stream, take in sources:
            cleanup.enter_context(stream)
            ready = cleanup.enter_context(stream.subscribe())  # dropped before its stream
            readers.append(Reader(stream, ready, take))
        read_all(readers)

        statuses = [stage.child.wait() for stage in stages]
        index = reported_stage(statuses)
        if index is not None:
            stage = stages[index]
            how = stage_failure(statuses, index)
            detail = stage.stderr.decode("utf-8", "replace").strip()
            raise StageFailed(f"stage {index + 1} `{stage}` failed: {how}" + (f": {detail}" if detail else ""))
    return top.lines


# --- the entry point -------------------------------------------------------------


def main(argv: list[str]) -> int:
    try:
        options = parse_args(argv)
    except UsageError as err:
        say(str(err))
        sys.stderr.write(USAGE)
        return EXIT_USAGE
    if options.help:
        sys.stdout.write(USAGE)
        return EXIT_OK
    try:
        lines = top_lines(options.files, options.lines, options.verbose)
    except StageDenied as err:
        say(str(err))
        return EXIT_DENIED
    except StageFailed as err:
        for line in str(err).splitlines():
            say(line)
        return EXIT_FAILED
    sys.stdout.buffer.write(b"".join(lines))
    return EXIT_OK


class Run(exports.Run):
    """wasi:cli/run, which procbox calls."""

    def run(self) -> None:
        try:
            code = main(sys.argv[1:])
        except Exception:
            # A bug, or an error from the host we did not expect: report it
            # and fail like a Python script would, rather than trap.
            traceback.print_exc()
            code = EXIT_FAILED
        exit_with(code)
