"""`asyncio.create_subprocess_exec` and `_shell` inside a plugin: the SDK's
event loop makes its subprocess transports over a `procbox.Process`, so
they return a real `asyncio.subprocess.Process` (its `stdin`, `stdout`,
`stderr` are asyncio's own `StreamWriter`/`StreamReader`), and every
spawn goes through the gate. `stdin=None` is the null device;
`stdout=None`/`stderr=None` are copied into the plugin's own output;
`env` asks only for what differs from `os.environ`; a shell command runs
`sh -c COMMAND` (which needs `sh` granted)."""

import asyncio
import sys

from ._subprocess import _env_changes
from .process import DEVNULL, PIPE, Process

_HIGH_WATER = 64 * 1024
_SUPPORTED = {"cwd", "env", "close_fds", "start_new_session", "restore_signals"}


class _ReadPipe(asyncio.ReadTransport):
    """A child's stdout or stderr, fed to the protocol by a task."""

    def __init__(self, owner: "_Transport", fd: int, reader):
        super().__init__()
        self._owner, self._fd, self._reader = owner, fd, reader
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        try:
            while True:
                await self._resumed.wait()
                data = await self._reader.read(_HIGH_WATER)
                if not data:
                    break
                self._owner._protocol.pipe_data_received(self._fd, data)
        except asyncio.CancelledError:
            pass
        finally:
            self._reader.close()
            self._owner._pipe_lost(self._fd)

    def pause_reading(self) -> None:
        self._resumed.clear()

    def resume_reading(self) -> None:
        self._resumed.set()

    def is_reading(self) -> bool:
        return self._resumed.is_set()

    def close(self) -> None:
        self._task.cancel()

    def is_closing(self) -> bool:
        return self._task.done()


class _WritePipe(asyncio.WriteTransport):
    """A child's stdin, with asyncio's flow control (`drain`)."""

    def __init__(self, owner: "_Transport", writer):
        super().__init__()
        self._owner, self._writer = owner, writer
        self._paused = False
        self._closing = False

    def write(self, data) -> None:
        self._writer.write(bytes(data))
        if not self._paused and len(self._writer._buffer) > _HIGH_WATER:
            self._paused = True
            self._owner._protocol.pause_writing()
            asyncio.ensure_future(self._drained())

    async def _drained(self) -> None:
        try:
            await self._writer.drain()
        except OSError:
            pass
        self._paused = False
        self._owner._protocol.resume_writing()

    def get_write_buffer_size(self) -> int:
        return len(self._writer._buffer)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.close()

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._writer.close()

    def abort(self) -> None:
        self._closing = True
        self._writer.abort()

    def is_closing(self) -> bool:
        return self._closing


class _Transport(asyncio.SubprocessTransport):
    def __init__(self, protocol, process: Process, forward: dict):
        super().__init__()
        self._protocol = protocol
        self._process = process
        self._pipes = {}
        self._open = set()
        self._exited = asyncio.get_running_loop().create_future()
        self._closed = False
        if process.stdin is not None:
            self._pipes[0] = _WritePipe(self, process.stdin)
        for fd, reader in ((1, process.stdout), (2, process.stderr)):
            if reader is None:
                continue
            if fd in forward:
                asyncio.ensure_future(_copy(reader, forward[fd]))
            else:
                self._open.add(fd)
                self._pipes[fd] = _ReadPipe(self, fd, reader)
        protocol.connection_made(self)
        asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        await self._process._exited()
        self._protocol.process_exited()
        self._exited.set_result(self._process.returncode)

    def _pipe_lost(self, fd: int) -> None:
        self._open.discard(fd)
        self._protocol.pipe_connection_lost(fd, None)

    async def _wait(self) -> int:
        return await asyncio.shield(self._exited)

    def get_pid(self) -> int:
        return self._process.pid

    def get_returncode(self):
        return self._process.returncode

    def get_pipe_transport(self, fd: int):
        return self._pipes.get(fd)

    def send_signal(self, signal) -> None:
        if self._process.returncode is None:
            self._process.send_signal(signal)

    def terminate(self) -> None:
        self.send_signal(15)

    def kill(self) -> None:
        if self._process.returncode is None:
            self._process.kill()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for pipe in self._pipes.values():
            pipe.close()
        if self._process.returncode is None:
            self._process.kill()

    def is_closing(self) -> bool:
        return self._closed


async def _copy(reader, target) -> None:
    while data := await reader.read(_HIGH_WATER):
        target.flush()
        target.buffer.write(data)
        target.buffer.flush()
    reader.close()


async def make_subprocess_transport(loop, protocol, args, shell, stdin, stdout, stderr, bufsize, extra=None, **kwargs):
    """`BaseEventLoop._make_subprocess_transport` for the SDK's loop."""
    for key in kwargs:
        if key not in _SUPPORTED:
            raise ValueError(
                f"asyncio subprocess in procbox: {key}= is not supported (procbox.spawn names what a child can have)"
            )
    argv = ["sh", "-c", *args] if shell else list(args)
    forward = {}
    if stdout is None:
        stdout, forward[1] = PIPE, sys.stdout
    if stderr is None:
        stderr, forward[2] = PIPE, sys.stderr
    sys.stdout.flush()
    sys.stderr.flush()
    process = Process(
        *argv,
        stdin=DEVNULL if stdin is None else stdin,
        stdout=stdout,
        stderr=stderr,
        env=dict(_env_changes(kwargs.get("env"))) or None,
        cwd=kwargs.get("cwd"),
    )
    return _Transport(protocol, process, forward)
