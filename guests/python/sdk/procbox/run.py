"""The common cases: run a command and capture what it printed; run many,
in order or in parallel; run a pipeline."""

import asyncio
import json
import os
from dataclasses import dataclass, field

from .errors import CalledProcessError, PipelineError, SpawnError, TimeoutExpired
from .process import DEVNULL, PIPE, Process
from .status import SIGPIPE, ExitStatus


@dataclass
class CompletedProcess:
    """A command that ran to its end.

    `stdout` and `stderr` are bytes, or str with `text=True`, or None when
    not captured."""

    args: list[str]
    returncode: int
    stdout: "bytes | str | None"
    stderr: "bytes | str | None"
    status: ExitStatus

    def check_returncode(self) -> None:
        """Raises `CalledProcessError` unless it succeeded."""
        if not self.status.success:
            raise CalledProcessError(self.args, self.status, self.stdout, self.stderr)

    def json(self):
        """Its stdout decoded as JSON."""
        return json.loads(self.stdout)

    def lines(self) -> list:
        """Its stdout as lines, without their line ends."""
        return self.stdout.splitlines()


async def run_process(
    args,
    *,
    input: "bytes | str | None" = None,
    stdout=PIPE,
    stderr=PIPE,
    check: bool = True,
    text: bool = False,
    encoding: str = "utf-8",
    errors: str = "strict",
    timeout: float | None = None,
    capture_output: bool | None = None,
    **options,
) -> CompletedProcess:
    """Runs `args` (a list: program and arguments; no shell), feeding it
    `input`, and captures stdout and stderr (read together: no deadlock,
    whatever their sizes).

    `check` (the default) raises `CalledProcessError` when it failed by
    procbox's success rule, naming the command line, its status, duration
    and the end of stderr. `timeout` (seconds) has the host stop its whole
    tree when it runs too long, and raises `TimeoutExpired`, check or not.
    `text` decodes the output. `capture_output=True` is the default
    (as `subprocess.run`'s); `False` sends both to the null device. Other
    keywords are `Process`'s (`env`, `cwd`, `measure_tree`, ...)."""
    if capture_output is not None:
        stdout = stderr = PIPE if capture_output else DEVNULL
    if isinstance(args, (str, bytes, os.PathLike)):
        args = [args]
    if isinstance(input, str):
        input = input.encode(encoding)
    stdin = options.pop("stdin", PIPE if input is not None else DEVNULL)
    async with Process(*args, stdin=stdin, stdout=stdout, stderr=stderr, timeout=timeout, **options) as proc:
        out, err = await proc.communicate(input)
    if text:
        out, err = (None if b is None else b.decode(encoding, errors) for b in (out, err))
    result = CompletedProcess(proc.args, proc.returncode, out, err, proc.status)
    if proc.status.timed_out:
        raise TimeoutExpired(proc.args, timeout, proc.status, out, err)
    if check:
        result.check_returncode()
    return result


def run(args, **options) -> CompletedProcess:
    """`run_process` for code that is not async: like `subprocess.run`.

    Not from inside a running event loop (await `run_process` there)."""
    return asyncio.run(run_process(args, **options))


async def run_all(commands, *, limit: int | None = None, return_exceptions: bool = False, **options) -> list:
    """Runs each command (an argument list) with `run_process(**options)`,
    at most `limit` at once (1: one after another; None: all at once), and
    returns their results in the order given.

    Fail-fast: once one fails, commands not started yet are not started,
    and its error is raised after the running ones end. With
    `return_exceptions`, every command runs and a failure takes its place
    in the list."""
    commands = list(commands)
    gate = asyncio.Semaphore(limit or max(1, len(commands)))
    first_failure: list[BaseException] = []

    async def one(args):
        async with gate:
            if first_failure and not return_exceptions:
                return None
            try:
                return await run_process(args, **options)
            except BaseException as err:
                first_failure.append(err)
                raise

    results = await asyncio.gather(*(one(args) for args in commands), return_exceptions=True)
    if first_failure and not return_exceptions:
        raise first_failure[0]  # the one that stopped the queue
    return results


@dataclass
class PipelineResult:
    """A finished pipeline: the last stage's stdout, every stage's stderr
    and status, in order."""

    stdout: "bytes | str | None"
    stderr: list
    statuses: list
    args: list = field(default_factory=list)


class Pipeline:
    """Stages connected child to child through OS pipes (the bytes never
    pass through the plugin), as the shell's `a | b | c`:

        async with Pipeline(["sort", "--", path], ["uniq", "-c"], ["sort", "-rn"]) as p:
            async for line in p.stdout:
                ...
            await p.wait()

    The first stage reads `stdin` (default `DEVNULL`), the last writes to
    `stdout` (default `PIPE`); every stage's stderr is collected. Leaving
    `async with` kills every stage still running."""

    def __init__(self, *commands, stdin=DEVNULL, stdout=PIPE, on_start=None, **options):
        if not commands:
            raise ValueError("a pipeline needs at least one command")
        self.stages: list[Process] = []
        self._errors: list[asyncio.Task] = []
        for index, args in enumerate(commands):
            source = stdin if index == 0 else self.stages[-1]
            sink = stdout if index == len(commands) - 1 else PIPE
            try:
                self.stages.append(Process(*args, stdin=source, stdout=sink, stderr=PIPE, **options))
            except SpawnError as err:
                err.stage = index + 1
                self._abandon()
                raise
            except BaseException:
                self._abandon()
                raise
            if on_start is not None:
                on_start(index + 1, self.stages[-1])
        self._errors = [asyncio.ensure_future(stage.stderr.read()) for stage in self.stages]

    def _abandon(self) -> None:
        """Kills the stages started so far (their handles reap them)."""
        for stage in self.stages:
            stage.kill()

    @property
    def stdin(self):
        return self.stages[0].stdin

    @property
    def stdout(self):
        return self.stages[-1].stdout

    async def wait(self, check: bool = True) -> PipelineResult:
        """Waits for every stage. With `check`, raises `CalledProcessError`
        for the failing stage by procbox's pipeline rule: a stage killed by
        SIGPIPE before a later stage is not a failure, and of several
        failures the rightmost is reported."""
        for stage in self.stages:
            await stage._exited()
        stderr = [await task for task in self._errors]
        statuses = [stage.status for stage in self.stages]
        if check:
            failing = reported_stage(statuses)
            if failing is not None:
                stage = self.stages[failing]
                raise PipelineError(failing + 1, stage.args, stage.status, None, stderr[failing])
        return PipelineResult(None, stderr, statuses, [stage.args for stage in self.stages])

    async def aclose(self) -> None:
        """Kills every stage still running and lets go of them (twice is
        harmless)."""
        for task in self._errors:
            task.cancel()
        await asyncio.gather(*self._errors, return_exceptions=True)
        for stage in self.stages:
            await stage.aclose()

    async def __aenter__(self) -> "Pipeline":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


def stage_failed(statuses: list[ExitStatus], index: int) -> bool:
    """Whether stage `index` of a finished pipeline failed: by the success
    rule, except that SIGPIPE (without a timeout or a cut) is excused in
    every stage but the last (its reader went away)."""
    status = statuses[index]
    broken_pipe = status.signal == SIGPIPE and not status.timed_out and not status.output_truncated
    if broken_pipe and index + 1 < len(statuses):
        return False
    return not status.success


def reported_stage(statuses: list[ExitStatus]) -> int | None:
    """The rightmost failing stage (pipefail), or None if none failed."""
    for index in reversed(range(len(statuses))):
        if stage_failed(statuses, index):
            return index
    return None


async def pipeline(*commands, input: "bytes | None" = None, check: bool = True, text: bool = False, **options) -> PipelineResult:
    """Runs a `Pipeline` to its end, feeding `input` to the first stage,
    and captures the last stage's stdout."""
    async with Pipeline(*commands, stdin=PIPE if input is not None else DEVNULL, **options) as p:

        async def feed():
            if p.stdin is not None:
                try:
                    if input:
                        p.stdin.write(input)
                    await p.stdin.wait_closed()
                except BrokenPipeError:
                    pass

        _, out = await asyncio.gather(feed(), p.stdout.read())
        result = await p.wait(check)
    if text:
        out = out.decode()
    result.stdout = out
    return result
