"""An asyncio event loop that waits on `wasi:io/poll`.

CPython's own loops cannot run inside a plugin: they make a self-pipe with
`socketpair`, which WASI refuses. This loop is asyncio's `BaseEventLoop`
(its ready queue, timers, tasks, futures, `run_until_complete` and
shutdown) with one change: where a selector loop asks `select()` which
file descriptors are ready, it asks `wasi:io/poll.poll` which *pollables*
are, together with a monotonic-clock pollable for the next timer. Code
that waits on the host (a stream with no data yet, a child that has not
exited) awaits `ready(pollable)`; everything else is plain asyncio, so
`asyncio.run`, `gather`, `wait_for`, `timeout`, `TaskGroup` and
cancellation behave as in CPython.

The loop is single-threaded, like the plugin: `call_soon_threadsafe`
needs no wake-up, and `run_in_executor` is not available.
"""

import asyncio
import warnings

from wit_world.imports import monotonic_clock, poll


class NothingToWaitFor(RuntimeError):
    """Every task waits, and nothing they wait on can ever happen."""


class PollLoop(asyncio.BaseEventLoop):
    """`asyncio.BaseEventLoop` over `wasi:io/poll`."""

    async def _make_subprocess_transport(self, protocol, args, shell, stdin, stdout, stderr, bufsize, extra=None, **kwargs):
        from ._asyncio_subprocess import make_subprocess_transport

        return await make_subprocess_transport(self, protocol, args, shell, stdin, stdout, stderr, bufsize, extra, **kwargs)

    def __init__(self) -> None:
        super().__init__()
        # key -> (pollable, future): what the tasks wait on.
        self._waiting: dict[object, tuple[poll.Pollable, asyncio.Future]] = {}
        self._selector = _Poller(self)

    def _process_events(self, ready: list[asyncio.Future]) -> None:
        for future in ready:
            if not future.done():
                future.set_result(None)

    def _write_to_self(self) -> None:
        pass  # one thread: nothing to wake

    async def ready(self, pollable: poll.Pollable) -> None:
        """Waits until `pollable` is ready, then drops it."""
        key = object()
        future = self.create_future()
        self._waiting[key] = (pollable, future)
        try:
            await future
        finally:
            del self._waiting[key]
            pollable.__exit__(None, None, None)


class _Poller:
    """What `BaseEventLoop._run_once` calls a selector."""

    def __init__(self, loop: PollLoop) -> None:
        self._loop = loop

    def select(self, timeout: float | None) -> list[asyncio.Future]:
        waiting = list(self._loop._waiting.values())
        if timeout == 0:
            return [future for pollable, future in waiting if pollable.ready()]
        if not waiting and timeout is None:
            raise NothingToWaitFor(
                "procbox: every task is waiting and nothing can wake them "
                "(a future nobody completes, or an event nobody sets)"
            )
        pollables = [pollable for pollable, _ in waiting]
        clock = None
        if timeout is not None:
            clock = monotonic_clock.subscribe_duration(max(0, int(timeout * 1e9)))
            pollables.append(clock)
        try:
            ready = poll.poll(pollables)
        finally:
            if clock is not None:
                clock.__exit__(None, None, None)
        return [waiting[index][1] for index in ready if index < len(waiting)]

    def close(self) -> None:
        pass


class Waits:
    """The tasks waiting on pollables of one resource (a stream, a child).

    Dropping a resource while a pollable made from it lives traps the whole
    plugin ("resource has children"). So the resource's owner lets go of it
    through `drop`: at once if nobody waits, else after waking the waiters
    (their wait ends as if the pollable were ready) and once the last of
    them has dropped its pollable.
    """

    def __init__(self) -> None:
        self._futures: set[asyncio.Future] = set()
        self._to_drop: list = []

    async def ready(self, pollable: poll.Pollable) -> None:
        """Waits until `pollable` is ready (or `drop` wakes it), then drops it."""
        loop = asyncio.get_running_loop()
        if not isinstance(loop, PollLoop):
            with pollable:
                pollable.block()
            return
        key = object()
        future = loop.create_future()
        loop._waiting[key] = (pollable, future)
        self._futures.add(future)
        try:
            await future
        finally:
            del loop._waiting[key]
            pollable.__exit__(None, None, None)
            self._futures.discard(future)
            if not self._futures:
                self._drop_pending()

    def drop(self, resource) -> None:
        """Drops `resource` once no task waits on a pollable of it."""
        self._to_drop.append(resource)
        if not self._futures:
            self._drop_pending()
            return
        for future in self._futures:
            if not future.done():
                future.set_result(None)

    def _drop_pending(self) -> None:
        while self._to_drop:
            self._to_drop.pop().__exit__(None, None, None)


async def ready(pollable: poll.Pollable) -> None:
    """Waits until `pollable` is ready, then drops it.

    In another event loop (there should be none in a plugin) it blocks the
    loop while it waits.
    """
    loop = asyncio.get_running_loop()
    if isinstance(loop, PollLoop):
        await loop.ready(pollable)
    else:
        with pollable:
            pollable.block()


async def _nothing() -> None:
    pass


# The loop the plugin's first `asyncio.run` (or `new_event_loop`) gets: made
# and run once when the SDK is imported. componentize-py imports the plugin
# when it builds it and keeps the interpreter's memory as it is then, so
# every run starts with this loop made and its code warm, instead of paying
# for them in the run (about 1.5 ms of a warm run's way to `main`, most of
# it the first writes to fresh memory). Each run is a new instance of that
# memory: the loop is never shared between runs.
_made_at_build: PollLoop | None = None


def _make_at_build() -> None:
    """Makes the loop and runs it once, through a task, so that the code a
    run's first task takes is warm too. The task is named: an unnamed one
    would take the number of the plugin's first task (`Task-1`). Its
    coroutine awaits nothing: a pollable or timer made now would be a
    handle in the snapshot. Not where a loop is already running (an import
    of `procbox` from a coroutine), where running another would fail."""
    global _made_at_build
    if asyncio.events._get_running_loop() is not None:
        return
    loop = PollLoop()
    try:
        loop.run_until_complete(loop.create_task(_nothing(), name="procbox: the loop made at build"))
    except Exception:  # noqa: BLE001 - a run then makes its loop itself
        loop.close()
        return
    _made_at_build = loop


def _new_loop() -> PollLoop:
    """The loop made at build, the first time, if it is still unused."""
    global _made_at_build
    loop, _made_at_build = _made_at_build, None
    if loop is None or loop.is_closed() or loop.is_running():
        return PollLoop()
    # Debug mode as a loop made now would have it (PYTHONASYNCIODEBUG is
    # the run's environment, not the build's).
    loop.set_debug(asyncio.coroutines._is_debug_mode())
    return loop


def install() -> None:
    """Makes `asyncio.run` and `asyncio.new_event_loop` make a `PollLoop`,
    the first of them before the plugin runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        base = getattr(asyncio, "_DefaultEventLoopPolicy", None) or asyncio.DefaultEventLoopPolicy

        class Policy(base):
            def new_event_loop(self) -> PollLoop:
                return _new_loop()

        asyncio.set_event_loop_policy(Policy())
    _make_at_build()
