"""CPython's `subprocess` inside a plugin, through procbox.

On WASI, CPython's `subprocess` imports, but `Popen.__init__` cannot fork.
Importing `procbox` patches the methods of the original `subprocess.Popen`
class in place, so `subprocess.run`, `call`, `check_call`, `check_output`,
`Popen`, an earlier `from subprocess import Popen` and subclasses all
start their children through procbox's gate. The calls block the plugin
(it has one thread), as they block a CPython thread.

What differs from CPython, and why:
- `stdin=None` is the null device (the plugin's stdin is not the child's);
  `stdout=None`/`stderr=None` copy the child's output into the plugin's
  own stdout/stderr, in order with its `print`s.
- `env` is compared with the plugin's `os.environ`: only the variables it
  adds or changes are asked for (the plugin's environment is not the
  user's); the child never inherits anything the grants do not pass.
- `shell=True` runs `sh -c COMMAND`, which needs `sh` granted.
- A file object as a stream becomes `procbox.File(f.name)` (the host opens
  the path, under `--allow-write` for output); file descriptors cannot be
  passed.
"""

import io
import os
import subprocess
import sys
import time

from componentize_py_types import Err
from wit_world.imports import monotonic_clock, poll, streams
from wit_world.imports import process as wit

from . import _host
from .errors import Denied, InvalidInput
from .process import File, _nanos, _word
from .status import ExitStatus

_CHUNK = 65536

_UNSUPPORTED = {
    "executable": "give the program as args[0]",
    "preexec_fn": "the host starts the child; run the setup as a command",
    "startupinfo": "it is Windows only",
    "creationflags": "it is Windows only",
    "pass_fds": "procbox passes no file descriptors; use procbox.File or PIPE",
    "user": "procbox runs children as the user who started it",
    "group": "procbox runs children as the user who started it",
    "extra_groups": "procbox runs children as the user who started it",
    "umask": "procbox runs children with its own umask",
    "process_group": "procbox.Process(...).signal_group signals the child's group",
}
_DEFAULTS = {
    "executable": None,
    "preexec_fn": None,
    "startupinfo": None,
    "creationflags": 0,
    "pass_fds": (),
    "user": None,
    "group": None,
    "extra_groups": None,
    "umask": -1,
    "process_group": None,
}


def _closed(err: Err) -> bool:
    return isinstance(err.value, streams.StreamError_Closed)


def _drop(resource) -> None:
    resource.__exit__(None, None, None)


class ChildReader(io.RawIOBase):
    """A child's stdout or stderr as a raw, blocking, readable file."""

    def __init__(self, stream):
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self._stream is not None:
            try:
                data = self._stream.blocking_read(len(buffer))
            except Err as err:
                if _closed(err):
                    return 0
                raise OSError(f"reading from the child failed: {err.value}") from None
            if data:
                buffer[: len(data)] = data
                return len(data)
        return 0

    def read_now(self) -> "bytes | None":
        """What can be read without blocking; None at the end."""
        try:
            return self._stream.read(_CHUNK)
        except Err as err:
            if _closed(err):
                return None
            raise OSError(f"reading from the child failed: {err.value}") from None

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            _drop(stream)
        super().close()


class ChildWriter(io.RawIOBase):
    """A child's stdin as a raw, blocking, writable file."""

    def __init__(self, stream):
        super().__init__()
        self._stream = stream

    def writable(self) -> bool:
        return True

    def room(self) -> int:
        try:
            return self._stream.check_write()
        except Err as err:
            raise _broken(err) from None

    def write(self, data) -> int:
        if self._stream is None:
            raise ValueError("write to a closed stdin")
        while (room := self.room()) == 0:
            pollable = self._stream.subscribe()
            pollable.block()
            _drop(pollable)
        chunk = bytes(memoryview(data)[:room])
        try:
            self._stream.write(chunk)
        except Err as err:
            raise _broken(err) from None
        return len(chunk)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.blocking_flush()
            except Err:
                pass  # it exited: nothing more to deliver
            _drop(stream)
        super().close()


def _broken(err: Err) -> OSError:
    if _closed(err):
        return BrokenPipeError(32, "the child closed its stdin")
    return OSError(f"writing to the child failed: {err.value}")


def _stdio(value, name: str):
    if value is None:
        return wit.Stdio_Null() if name == "stdin" else wit.Stdio_Piped()
    if value == subprocess.PIPE:
        return wit.Stdio_Piped()
    if value == subprocess.DEVNULL:
        return wit.Stdio_Null()
    if value == subprocess.STDOUT and name == "stderr":
        return wit.Stdio_Stdout()
    if isinstance(value, File):
        return wit.Stdio_File(wit.FileRedirect(path=os.fspath(value.path), append=value.append))
    if isinstance(getattr(value, "name", None), str):
        return wit.Stdio_File(wit.FileRedirect(path=value.name, append="a" in getattr(value, "mode", "")))
    raise ValueError(
        f"subprocess in procbox: {name}={value!r} is not supported "
        "(file descriptors cannot be passed): use PIPE, DEVNULL, a file object or procbox.File(path)"
    )


def _env_changes(env) -> list:
    """The variables `env` adds or changes with respect to the plugin's own
    environment: `env={**os.environ, "X": "1"}` asks only for X."""
    if env is None:
        return []
    own = os.environ
    changes = []
    for key, value in env.items():
        key, value = os.fsdecode(key), os.fsdecode(value)
        if own.get(key) != value:
            changes.append((key, value))
    return changes


def _argv(args, shell: bool) -> list:
    if isinstance(args, (str, bytes, os.PathLike)):
        args = [args]
    args = [_word(a) for a in args]
    if shell:
        return ["sh", "-c", *args]
    if not args:
        raise ValueError("subprocess in procbox: empty args (give the program and its arguments)")
    return args


def _init(self, args, bufsize=-1, stdin=None, stdout=None, stderr=None, close_fds=True, shell=False,
          cwd=None, env=None, universal_newlines=None, restore_signals=True, start_new_session=False, *,
          encoding=None, errors=None, text=None, pipesize=-1, **rest):
    self._child_created = False
    self._pb_child = None
    self.args = args
    self.stdin = self.stdout = self.stderr = None
    self.pid = None
    self.returncode = None
    self._communication_started = False
    self._input = None
    for key, value in rest.items():
        if key not in _UNSUPPORTED:
            raise TypeError(f"Popen() got an unexpected keyword argument {key!r}")
        if value != _DEFAULTS[key]:
            raise ValueError(f"subprocess in procbox: {key}= is not supported: {_UNSUPPORTED[key]}")
    if universal_newlines is not None and text is not None and bool(universal_newlines) != bool(text):
        raise subprocess.SubprocessError("Cannot disambiguate when both text and universal_newlines are supplied but different.")
    self.text_mode = bool(encoding or errors or text or universal_newlines)
    if self.text_mode and encoding is None:
        encoding = "utf-8"
    self.encoding, self.errors = encoding, errors
    self.universal_newlines = self.text_mode
    _reap_active()
    argv = _argv(args, shell)
    command = wit.Command(
        program=argv[0],
        args=argv[1:],
        env=_env_changes(env),
        cwd=None if cwd is None else os.fsdecode(cwd),
        stdin=_stdio(stdin, "stdin"),
        stdout=_stdio(stdout, "stdout"),
        stderr=_stdio(stderr, "stderr"),
        timeout=None,
        measure_tree=False,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    child = _host.call(argv, wit.spawn, command)
    self._pb_child = child
    self._pb_argv = argv
    self._child_created = True
    self.pid = child.pid()
    # Output not redirected goes to the plugin's own stdout and stderr.
    self._pb_forward = []
    if stdout is None:
        self._pb_forward.append([ChildReader(child.take_stdout()), sys.stdout])
    if stderr is None:
        self._pb_forward.append([ChildReader(child.take_stderr()), sys.stderr])
    self._pb_raw = {}
    line_buffering = bufsize == 1 and self.text_mode
    size = io.DEFAULT_BUFFER_SIZE if bufsize in (-1, 1) else bufsize
    if stdin == subprocess.PIPE:
        raw = self._pb_raw["stdin"] = ChildWriter(child.take_stdin())
        self.stdin = raw if bufsize == 0 else io.BufferedWriter(raw, size)
        if self.text_mode:
            self.stdin = io.TextIOWrapper(self.stdin, write_through=True, line_buffering=line_buffering,
                                          encoding=encoding, errors=errors)
    for name, value, take in (("stdout", stdout, child.take_stdout), ("stderr", stderr, child.take_stderr)):
        if value == subprocess.PIPE:
            raw = self._pb_raw[name] = ChildReader(take())
            stream = raw if bufsize == 0 else io.BufferedReader(raw, size)
            if self.text_mode:
                stream = io.TextIOWrapper(stream, encoding=encoding, errors=errors)
            setattr(self, name, stream)


def _forward(self, data: bytes, target) -> None:
    target.flush()
    target.buffer.write(data)
    target.buffer.flush()


def _settle(self, waiting: list, deadline: "float | None") -> bool:
    """Waits until one of `waiting` (pollables) is ready, or the deadline;
    False if the deadline passed."""
    clock = None
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            for pollable in waiting:
                _drop(pollable)
            return False
        clock = monotonic_clock.subscribe_duration(_nanos(left))
        waiting = waiting + [clock]
    try:
        poll.poll(waiting)
    finally:
        for pollable in waiting:
            _drop(pollable)
    return True


def _pump_forwards(self) -> None:
    for entry in list(self._pb_forward):
        reader, target = entry
        data = reader.read_now()
        if data is None:
            reader.close()
            self._pb_forward.remove(entry)
        elif data:
            _forward(self, data, target)


def _reap(self) -> bool:
    if self.returncode is not None:
        return True
    if self._pb_child is None:
        return False
    status = _host.call(self._pb_argv, self._pb_child.try_wait)
    if status is None:
        return False
    self._pb_status = ExitStatus.of(status)
    self.returncode = self._pb_status.returncode
    return True


def _finish_forwards(self) -> None:
    for reader, target in self._pb_forward:
        while data := reader.read():
            _forward(self, data, target)
        reader.close()
    self._pb_forward = []


def _poll(self):
    if self._pb_child is None:
        return self.returncode
    _pump_forwards(self)
    if _reap(self):
        _finish_forwards(self)
    return self.returncode


def _wait(self, timeout=None):
    if self.returncode is not None or self._pb_child is None:
        return self.returncode
    deadline = None if timeout is None else time.monotonic() + timeout
    while not _reap(self):
        waiting = [self._pb_child.subscribe()] + [r._stream.subscribe() for r, _ in self._pb_forward]
        if not _settle(self, waiting, deadline):
            raise subprocess.TimeoutExpired(self.args, timeout)
        _pump_forwards(self)
    _finish_forwards(self)
    return self.returncode


def _communicate(self, input=None, timeout=None):
    if self._communication_started and input:
        raise ValueError("Cannot send input after starting communication")
    deadline = None if timeout is None else time.monotonic() + timeout
    if not self._communication_started:
        self._communication_started = True
        if input and self.stdin is None:
            raise ValueError("input given, but stdin is not PIPE")
        if self.stdin is not None:
            try:
                self.stdin.flush()
            except BrokenPipeError:
                pass
        if self.text_mode and isinstance(input, str):
            input = input.encode(self.stdin.encoding, self.stdin.errors or "strict")
        self._pb_input = memoryview(bytes(input or b""))
        self._pb_output = {name: [] for name in ("stdout", "stderr") if getattr(self, name) is not None}
    writer = self._pb_raw.get("stdin") if self.stdin is not None else None
    if writer is not None and writer.closed:
        writer = None
    readers = {name: self._pb_raw[name] for name in self._pb_output if not self._pb_raw[name].closed}
    while readers or writer is not None or self._pb_forward:
        if writer is not None:
            try:
                while self._pb_input and (room := writer.room()):
                    n = min(room, len(self._pb_input), _CHUNK)
                    writer._stream.write(bytes(self._pb_input[:n]))
                    self._pb_input = self._pb_input[n:]
                if not self._pb_input:
                    self.stdin.close()
                    writer = None
            except (BrokenPipeError, Err):
                # It exited without reading everything, as CPython allows.
                self._pb_input = memoryview(b"")
                try:
                    self.stdin.close()
                except OSError:
                    pass
                writer = None
        for name, reader in list(readers.items()):
            while True:
                data = reader.read_now()
                if data is None:
                    del readers[name]
                    break
                if not data:
                    break
                self._pb_output[name].append(data)
        _pump_forwards(self)
        waiting = [r._stream.subscribe() for r in readers.values()]
        waiting += [r._stream.subscribe() for r, _ in self._pb_forward]
        if writer is not None:
            waiting.append(writer._stream.subscribe())
        if not waiting:
            break
        if not _settle(self, waiting, deadline):
            raise subprocess.TimeoutExpired(self.args, timeout)
    _wait(self, None if deadline is None else max(0.0, deadline - time.monotonic()))
    results = []
    for name in ("stdout", "stderr"):
        if name not in self._pb_output:
            results.append(None)
            continue
        data = b"".join(self._pb_output[name])
        stream = getattr(self, name)
        stream.close()
        if self.text_mode:
            data = self._translate_newlines(data, self.encoding, self.errors or "strict")
        results.append(data)
    return tuple(results)


def _send_signal(self, sig):
    _poll(self)
    if self.returncode is None and self._pb_child is not None:
        _host.call(self._pb_argv, self._pb_child.send_signal, _host.to_signal(sig))


def _terminate(self):
    _send_signal(self, 15)


def _kill(self):
    _poll(self)
    if self.returncode is None and self._pb_child is not None:
        _host.call(self._pb_argv, self._pb_child.kill)


# Popens dropped while their child still ran, as CPython keeps them
# (`subprocess._active`): reaped, and their forwarded output copied, at the
# next spawn, so their children are not killed with the handle.
_active: list = []


def _del(self):
    # Runs when the plugin drops a Popen, e.g. in `os.popen(cmd).read()`,
    # which keeps only the stream. Dropping the child's handle would kill
    # its tree before it wrote anything; CPython lets it run.
    try:
        if self._pb_child is not None and not _poll_quietly(self):
            _active.append(self)  # resurrected until reaped (PEP 442)
    except Exception:
        pass  # at interpreter shutdown: the run's end stops the tree


def _poll_quietly(self) -> bool:
    """Copies forwarded output and reaps: whether the child is done."""
    _poll(self)
    return self.returncode is not None


def _reap_active() -> None:
    _active[:] = [proc for proc in _active if not _poll_quietly(proc)]


def _system(command) -> int:
    """`os.system` through the gate: `sh -c COMMAND` (needs `sh` granted);
    its output goes to the plugin's; returns the wait status."""
    code = subprocess.call(command, shell=True)
    return (code & 0xFF) << 8 if code >= 0 else -code


def _unsupported(name: str, instead: str):
    def refuse(*args, **kwargs):
        raise NotImplementedError(f"{name} is not available inside a procbox plugin: {instead}")

    return refuse


def install() -> None:
    Popen = subprocess.Popen
    Popen.__init__ = _init
    Popen.poll = _poll
    Popen.wait = _wait
    Popen.communicate = _communicate
    Popen.send_signal = _send_signal
    Popen.terminate = _terminate
    Popen.kill = _kill
    Popen.__del__ = _del
    os.system = _system
