"""A child's pipes as asyncio streams.

`StreamReader` and `StreamWriter` have the methods of asyncio's classes of
the same names, over the host's `wasi:io` streams: reading waits for data
without blocking other tasks, and `drain()` waits while the child is not
reading (real backpressure: the host accepts only what its bounded buffer
holds).
"""

import asyncio

from componentize_py_types import Err
from wit_world.imports import streams

from ._loop import Waits

DEFAULT_LIMIT = 64 * 1024
"""The longest line (or chunk before a separator) `readuntil` returns."""

_CHUNK = 64 * 1024


def _closed(err: Err) -> bool:
    return isinstance(err.value, streams.StreamError_Closed)


def _write_error(err: Err) -> OSError:
    """The exception for a failed write to a child's stdin: a child that
    closed it (or exited) is a `BrokenPipeError`, as in asyncio."""
    if _closed(err):
        return BrokenPipeError("the child closed its stdin")
    detail = err.value.value.to_debug_string() if hasattr(err.value, "value") else str(err.value)
    detail = detail.strip().splitlines()[0] if detail.strip() else "unknown error"
    if "Broken pipe" in detail or "os error 32" in detail:
        return BrokenPipeError("the child closed its stdin")
    return OSError(f"writing to the child failed: {detail}")


class StreamReader:
    """The plugin's end of a child's stdout or stderr."""

    def __init__(self, stream: streams.InputStream, limit: int = DEFAULT_LIMIT):
        self._stream: streams.InputStream | None = stream
        self._waits = Waits()
        self._buffer = bytearray()
        self._eof = False
        self._limit = limit

    async def _fill(self) -> bool:
        """Reads what the child wrote next; False at the end of the stream."""
        while not self._eof:
            try:
                data = self._stream.read(_CHUNK)
            except Err as err:
                if not _closed(err):
                    raise OSError(f"reading from the child failed: {err.value}") from None
                self.close()
                return False
            if data:
                self._buffer += data
                return True
            await self._waits.ready(self._stream.subscribe())
        return False

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def at_eof(self) -> bool:
        """Whether the stream ended and everything was read."""
        return self._eof and not self._buffer

    async def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (at least one, unless at the end: `b""`); with
        `n` negative, everything up to the end."""
        if n < 0:
            while await self._fill():
                pass
            return self._take(len(self._buffer))
        if n and not self._buffer:
            await self._fill()
        return self._take(n)

    async def readexactly(self, n: int) -> bytes:
        """Exactly `n` bytes; `asyncio.IncompleteReadError` (with the
        `partial` bytes) if the stream ends first."""
        if n < 0:
            raise ValueError("readexactly size can not be less than zero")
        while len(self._buffer) < n:
            if not await self._fill():
                raise asyncio.IncompleteReadError(self._take(len(self._buffer)), n)
        return self._take(n)

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """The bytes up to and including `separator`.

        `asyncio.IncompleteReadError` if the stream ends first (with what was
        read as `partial`); `asyncio.LimitOverrunError` if more than the
        limit comes before the separator: the data stays in the buffer, so
        the caller can recover (read it with `read`, say).
        """
        if not separator:
            raise ValueError("the separator must not be empty")
        searched = 0
        while True:
            found = self._buffer.find(separator, searched)
            if found >= 0:
                if found > self._limit:
                    raise asyncio.LimitOverrunError("the separator is found, but the chunk is longer than the limit", found)
                return self._take(found + len(separator))
            searched = max(0, len(self._buffer) + 1 - len(separator))
            if searched > self._limit:
                raise asyncio.LimitOverrunError("the separator is not found, and the chunk exceeds the limit", searched)
            if not await self._fill():
                raise asyncio.IncompleteReadError(self._take(len(self._buffer)), None)

    async def readline(self) -> bytes:
        """One line with its `\\n`; the last one may lack it; `b""` at the end.

        A line longer than the limit raises `ValueError`; what was buffered
        of it is dropped (as asyncio does), and reading goes on after it."""
        try:
            return await self.readuntil(b"\n")
        except asyncio.IncompleteReadError as err:
            return err.partial
        except asyncio.LimitOverrunError as err:
            if self._buffer.startswith(b"\n", err.consumed):
                del self._buffer[: err.consumed + 1]
            else:
                self._buffer.clear()
            raise ValueError(err.args[0]) from None

    def __aiter__(self) -> "StreamReader":
        return self

    async def __anext__(self) -> bytes:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    def close(self) -> None:
        """Stops reading: the child gets SIGPIPE (or EPIPE) if it writes more.
        A task reading meanwhile gets what was read, then end-of-file."""
        self._eof = True
        stream, self._stream = self._stream, None
        if stream is not None:
            self._waits.drop(stream)


class StreamWriter:
    """The plugin's end of a child's stdin."""

    def __init__(self, stream: streams.OutputStream):
        self._stream: streams.OutputStream | None = stream
        self._waits = Waits()
        self._buffer = bytearray()
        self._error: BaseException | None = None
        self._closing: asyncio.Task | None = None

    def write(self, data: bytes) -> None:
        """Queues `data`; `await drain()` to wait until the child took it."""
        if self._closing is not None:
            raise RuntimeError("write after close")
        if isinstance(data, str):
            raise TypeError("write bytes, not str (encode it)")
        self._buffer += data
        self._push()

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def _push(self) -> None:
        """Hands the host as much of the buffer as it accepts now."""
        while self._buffer and self._stream is not None and self._error is None:
            try:
                room = self._stream.check_write()
                if room == 0:
                    return
                chunk = bytes(self._buffer[:room])
                self._stream.write(chunk)
                del self._buffer[: len(chunk)]
            except Err as err:
                self._error = _write_error(err)

    async def drain(self) -> None:
        """Waits until the child has taken everything written so far.

        `BrokenPipeError` if it closed its stdin (it exited, say)."""
        while True:
            self._push()
            if self._error is not None:
                raise self._error
            if self._stream is None and self._buffer:
                raise BrokenPipeError("the child's stdin was closed")
            if not self._buffer:
                return
            await self._waits.ready(self._stream.subscribe())

    def is_closing(self) -> bool:
        return self._closing is not None

    def close(self) -> None:
        """Ends the child's input once what was written is taken (the child
        then reads end-of-file); `await wait_closed()` for that moment."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._finish())
            # A child that stops reading is not an error nobody retrieved:
            # `wait_closed()` reports it to whoever asks.
            self._closing.add_done_callback(_quiet)

    async def _finish(self) -> None:
        try:
            await self.drain()
            await self._flush()
        finally:
            self._drop()

    async def _flush(self) -> None:
        """Waits until the host has written everything to the pipe: a
        stream dropped before that would lose the last bytes."""
        if self._stream is None:
            return
        try:
            self._stream.flush()
            await self._waits.ready(self._stream.subscribe())
            if self._stream is not None:
                self._stream.check_write()
        except Err as err:
            raise _write_error(err) from None

    def _drop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self._waits.drop(stream)

    async def wait_closed(self) -> None:
        """Waits until the input is ended. `BrokenPipeError` if the child
        did not take all of it. Cancelling the wait does not cut the input
        short: it goes on being written."""
        if self._closing is None:
            self.close()
        await asyncio.shield(self._closing)

    def abort(self) -> None:
        """Ends the child's input at once, dropping what it did not take."""
        self._buffer.clear()
        if self._closing is None:
            self._closing = asyncio.get_event_loop().create_future()
            self._closing.set_result(None)
        self._drop()


def _quiet(task: asyncio.Future) -> None:
    """Marks a finished closing as seen, so that asyncio does not log it."""
    if not task.cancelled():
        task.exception()
