"""A running child process, shaped like asyncio's `Process`."""

import asyncio
import os
from dataclasses import dataclass

from wit_world.imports import process as wit

from . import _host
from ._loop import Waits
from .errors import TimeoutExpired
from .status import ExitStatus
from .streams import DEFAULT_LIMIT, StreamReader, StreamWriter

PIPE = -1
"""A pipe between the child and the plugin (`proc.stdin`, `.stdout`, `.stderr`)."""
STDOUT = -2
"""For stderr: wherever stdout goes (`2>&1`)."""
DEVNULL = -3
"""The null device (the default for every stream)."""
INHERIT = -4
"""procbox's own stream of the same name; needs `--allow-inherit`."""


@dataclass(frozen=True)
class File:
    """A file as a child's stream, relative to its working directory, in a
    directory the grants allow: read for stdin; created (or appended to)
    for stdout and stderr."""

    path: str
    append: bool = False


_UNTAKEN = object()


def _stdio(value, name: str):
    """The host's `stdio` for one of `PIPE`, `DEVNULL`, `STDOUT`, `INHERIT`,
    a `File`, or (stdin only) another `Process`, whose stdout it reads."""
    match value:
        case None | -3:
            return wit.Stdio_Null()
        case -1:
            return wit.Stdio_Piped()
        case -4:
            return wit.Stdio_Inherit()
        case -2 if name == "stderr":
            return wit.Stdio_Stdout()
        case File(path=path, append=append):
            return wit.Stdio_File(wit.FileRedirect(path=os.fspath(path), append=append))
        case Process() if name == "stdin":
            return wit.Stdio_ChildStdout(value._child)
    raise ValueError(f"{name}={value!r}: use PIPE, DEVNULL, INHERIT, File(...)" + (
        ", or a Process whose stdout it reads" if name == "stdin" else ", or STDOUT" if name == "stderr" else ""
    ))


class Process:
    """A child process, started at once.

        async with Process("grep", "ERROR", stdin=PIPE, stdout=PIPE) as p:
            p.stdin.write(data)
            p.stdin.close()
            async for line in p.stdout:
                ...

    Streams default to `DEVNULL`. `env` is the child's whole environment
    (it inherits nothing); `cwd` must be a directory the grants allow.
    `timeout` (seconds) has the host stop the child's whole tree when it
    runs too long: SIGTERM, then SIGKILL `kill_after` seconds later.
    `measure_tree` asks for the tree's resource usage
    (`status.tree_usage`). `limit` bounds a line read by `readline`.

    Leaving `async with` (or `aclose()`) kills the child's whole tree if it
    still runs, and never raises because it already exited.
    """

    def __init__(
        self,
        program,
        *args,
        stdin=DEVNULL,
        stdout=DEVNULL,
        stderr=DEVNULL,
        env: dict[str, str] | None = None,
        cwd=None,
        timeout: float | None = None,
        kill_after: float = 2.0,
        measure_tree: bool = False,
        limit: int = DEFAULT_LIMIT,
    ):
        self.args = [_word(program), *(_word(a) for a in args)]
        command = wit.Command(
            program=self.args[0],
            args=self.args[1:],
            env=list((env or {}).items()),
            cwd=None if cwd is None else os.fspath(cwd),
            stdin=_stdio(stdin, "stdin"),
            stdout=_stdio(stdout, "stdout"),
            stderr=_stdio(stderr, "stderr"),
            timeout=None
            if timeout is None
            else wit.Timeout(after=_nanos(timeout), signal=wit.Signal.TERMINATE, grace=_nanos(kill_after)),
            measure_tree=measure_tree,
        )
        self._child: wit.Child = _host.call(self.args, wit.spawn, command)
        self._waits = Waits()
        self.pid: int = self._child.pid()
        self.status: ExitStatus | None = None
        self._limit = limit
        self._stdin = self._stdout = self._stderr = _UNTAKEN

    def __repr__(self) -> str:
        return f"<procbox.Process {self.pid} {_host.command_line(self.args)!r} returncode={self.returncode}>"

    # --- streams, taken from the host when first used -------------------------

    @property
    def stdin(self) -> StreamWriter | None:
        """The child's stdin (with `stdin=PIPE`), else None."""
        if self._stdin is _UNTAKEN and self._child is None:
            self._stdin = None
        if self._stdin is _UNTAKEN:
            stream = self._child.take_stdin()
            self._stdin = None if stream is None else StreamWriter(stream)
        return self._stdin

    @property
    def stdout(self) -> StreamReader | None:
        """The child's stdout (with `stdout=PIPE`), else None. Not taken
        (and so available to a next stage as its stdin) until used."""
        if self._stdout is _UNTAKEN and self._child is None:
            self._stdout = None
        if self._stdout is _UNTAKEN:
            stream = self._child.take_stdout()
            self._stdout = None if stream is None else StreamReader(stream, self._limit)
        return self._stdout

    @property
    def stderr(self) -> StreamReader | None:
        """The child's stderr (with `stderr=PIPE`), else None."""
        if self._stderr is _UNTAKEN and self._child is None:
            self._stderr = None
        if self._stderr is _UNTAKEN:
            stream = self._child.take_stderr()
            self._stderr = None if stream is None else StreamReader(stream, self._limit)
        return self._stderr

    # --- its end ---------------------------------------------------------------

    @property
    def returncode(self) -> int | None:
        """None while it runs; then its exit code, or minus the signal."""
        return None if self.status is None else self.status.returncode

    async def _exited(self) -> ExitStatus:
        """Waits for the exit without blocking other tasks."""
        if self._stdin is _UNTAKEN:
            # A pipe nobody will write: end it, so a child reading stdin ends.
            stdin = self.stdin
            if stdin is not None:
                stdin.abort()
        while self.status is None:
            status = _host.call(self.args, self._child.try_wait)
            if status is not None:
                self.status = ExitStatus.of(status)
                break
            await self._waits.ready(self._child.subscribe())
        return self.status

    async def wait(self, timeout: float | None = None, *, kill_after: float = 2.0) -> int:
        """Waits for the child to exit and returns `returncode`.

        With `timeout` (seconds): when it runs out, the child's whole tree
        gets SIGTERM, then SIGKILL `kill_after` seconds later, and
        `TimeoutExpired` is raised once it is gone."""
        if timeout is None:
            await self._exited()
            return self.returncode
        try:
            await asyncio.wait_for(self._exited(), timeout)
        except TimeoutError:
            await self._stop(kill_after)
            raise TimeoutExpired(self.args, timeout, self.status, waited=True) from None
        return self.returncode

    async def _stop(self, kill_after: float) -> None:
        """SIGTERM, then SIGKILL, `kill_after` seconds later, to the tree."""
        self.signal_group(15)
        try:
            await asyncio.wait_for(self._exited(), kill_after)
        except TimeoutError:
            self.kill()
            await self._exited()

    def _signal(self, send, signal) -> None:
        """`send(signal)` on the live handle; nothing once the child was
        reaped and let go of (the signal would have done nothing either)."""
        wit_signal = _host.to_signal(signal)
        if self._child is not None:
            _host.call(self.args, send, wit_signal)

    def send_signal(self, signal: "int | str") -> None:
        """Sends `signal` (a number such as `signal.SIGUSR1`, or a name such
        as `"USR1"`) to the child. It does nothing once the child exited."""
        self._signal(lambda s: self._child.send_signal(s), signal)

    def signal_group(self, signal: "int | str") -> None:
        """Sends `signal` to the child's whole process group: the child and
        what it started (unless they left the group with `setsid`). It does
        nothing once the child was reaped."""
        self._signal(lambda s: self._child.signal_group(s), signal)

    def terminate(self) -> None:
        """SIGTERM to the child (as asyncio's); `signal_group("TERM")` asks
        its whole tree."""
        self.send_signal(15)

    def kill(self) -> None:
        """SIGKILL to the child's whole process group."""
        if self._child is not None:
            _host.call(self.args, self._child.kill)

    async def communicate(self, input: bytes | None = None) -> tuple[bytes | None, bytes | None]:
        """Writes `input` to stdin (then closes it), reads stdout and stderr
        to their ends at the same time, whatever their sizes, and waits for
        the exit. Returns `(stdout, stderr)`; None for a stream not piped."""
        stdin, stdout, stderr = self.stdin, self.stdout, self.stderr

        async def feed() -> None:
            if stdin is None:
                return
            try:
                if input:
                    stdin.write(input)
                await stdin.wait_closed()
            except BrokenPipeError:
                pass  # it exited without reading everything, as subprocess allows

        async def collect(reader: StreamReader | None) -> bytes | None:
            return None if reader is None else await reader.read()

        _, out, err = await asyncio.gather(feed(), collect(stdout), collect(stderr))
        await self._exited()
        return out, err

    # --- its handle ----------------------------------------------------------

    async def aclose(self) -> None:
        """Kills the child's tree if it still runs, waits for it, and lets
        go of its streams and handle. Never raises because it exited."""
        if self._child is None:
            return  # closed already
        if self.status is None:
            self.kill()
            await self._exited()
        for stream in (self._stdin, self._stdout, self._stderr):
            if isinstance(stream, StreamReader):
                stream.close()
            elif isinstance(stream, StreamWriter):
                stream.abort()
        child, self._child = self._child, None
        self._waits.drop(child)

    async def __aenter__(self) -> "Process":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


async def spawn(program, *args, **options) -> Process:
    """Starts a process (as `asyncio.create_subprocess_exec`); see `Process`."""
    return Process(program, *args, **options)


def _word(value) -> str:
    """An argument as a string: paths and bytes as the file system names
    them (`os.fsdecode`), anything else by `str`."""
    if isinstance(value, (bytes, os.PathLike)):
        return os.fsdecode(value)
    return str(value)


def _nanos(seconds: float) -> int:
    return max(0, int(seconds * 1e9))
