"""The original AsyncProcess design's scenarios, and the SDK's stream
methods, end to end through procbox against real processes.

    scenarios [NAME...]
    scenarios sync

runs the named scenarios (default: all) under `asyncio.run`, printing
`ok NAME` for each that passed; the first failure prints its traceback and
exits 1. `sync` checks the synchronous facade instead, with no event loop. The test
(tests/tests/python_plugin.rs) grants what they run.
"""

import asyncio
import signal
import sys

import procbox
from procbox import PIPE, STDOUT, Process

MiB = 1024 * 1024
# How long a child that must be stopped would sleep; the test looks for
# this marker to find any left running.
LONG = "3600.4242"
SCENARIOS = {}


def scenario(function):
    SCENARIOS[function.__name__] = function
    return function


def check(condition, what):
    if not condition:
        raise AssertionError(what)


@scenario
async def hello_world_captured():
    result = await procbox.run_process(["echo", "Hello, world!"], text=True)
    check(result.stdout == "Hello, world!\n", repr(result.stdout))
    check(result.returncode == 0 and result.status.success, result.status)
    check(result.status.duration > 0, result.status)


@scenario
async def stdout_and_stderr_read():
    result = await procbox.run_process(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False, text=True)
    check((result.stdout, result.stderr, result.returncode) == ("out\n", "err\n", 3), result)
    async with Process("sh", "-c", "echo out; echo err >&2", stdout=PIPE, stderr=STDOUT) as p:
        merged = await p.stdout.read()
        check(await p.wait() == 0, p)
    check(merged == b"out\nerr\n", merged)


@scenario
async def lines_stream_while_the_child_runs():
    # The child prints a line, then waits for input that the plugin sends
    # only after it has read that line: it is read while the child runs.
    script = "echo first; read reply; echo second $reply"
    async with Process("sh", "-c", script, stdin=PIPE, stdout=PIPE) as p:
        check(await p.stdout.readline() == b"first\n", "the first line, while it runs")
        check(p.returncode is None, "still running")
        p.stdin.write(b"back\n")
        await p.stdin.drain()
        lines = [line async for line in p.stdout]
        check(lines == [b"second back\n"], lines)
        check(await p.wait() == 0, p)


@scenario
async def a_context_manager_around_a_process_that_already_exited():
    async with Process("true") as p:
        check(await p.wait() == 0, p)
    # Left without waiting, after it exited: no ProcessLookupError.
    async with Process("sh", "-c", "exit 4") as p:
        await p.communicate()
    check(p.returncode == 4, p)
    # Still running when the block ends: killed, tree and all.
    async with Process("sleep", LONG) as p:
        pass
    check(p.returncode == -9, p)


@scenario
async def a_queue_of_commands_sequential_and_parallel():
    commands = [["sh", "-c", f"echo {n}"] for n in range(6)]
    for limit in (1, 3, None):
        results = await procbox.run_all(commands, limit=limit, text=True)
        check([r.stdout for r in results] == [f"{n}\n" for n in range(6)], (limit, results))
    # In parallel, results keep the input order, not the finishing order.
    slow_first = [["sh", "-c", "read line; echo slow"], ["echo", "fast"]]
    results = await procbox.run_all(slow_first, limit=2, input=b"go\n", text=True)
    check([r.stdout for r in results] == ["slow\n", "fast\n"], results)
    # Fail-fast: the failure is raised, with its command line.
    try:
        await procbox.run_all([["true"], ["sh", "-c", "echo broken >&2; exit 2"], ["true"]], limit=1)
        raise AssertionError("no error")
    except procbox.CalledProcessError as err:
        check(err.returncode == 2 and "broken" in str(err) and "sh -c" in str(err), err)


@scenario
async def a_timeout_kills():
    async with Process("sleep", LONG) as p:
        try:
            await p.wait(timeout=0.2)
            raise AssertionError("no timeout")
        except procbox.TimeoutExpired as err:
            check(err.timeout == 0.2 and p.returncode == -signal.SIGTERM, (err, p))
    try:
        await procbox.run_process(["sleep", LONG], timeout=0.2, kill_after=0.1)
        raise AssertionError("no timeout")
    except procbox.TimeoutExpired as err:
        check(err.status.timed_out and f"sleep {LONG}" in str(err), err)
    # asyncio's own timeouts cancel the waiting, not the child.
    async with Process("sleep", LONG) as p:
        try:
            async with asyncio.timeout(0.1):
                await p.wait()
        except TimeoutError:
            check(p.returncode is None, "cancelling a wait leaves the child running")


@scenario
async def a_signal_sent():
    script = "trap 'echo got USR1; exit 3' USR1; echo ready; while :; do sleep 0.05; done"
    async with Process("sh", "-c", script, stdout=PIPE) as p:
        check(await p.stdout.readline() == b"ready\n", "ready")
        p.send_signal(signal.SIGUSR1)
        check(await p.stdout.readline() == b"got USR1\n", "the trap ran")
        check(await p.wait() == 3, p)
    async with Process("sleep", LONG) as p:
        p.terminate()
        check(await p.wait() == -15, p)
    # To the whole tree: the shell and the shell it started both hear it.
    inner = "trap 'echo inner got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done"
    script = f"trap 'echo outer got TERM' TERM; sh -c \"{inner}\" & wait; wait"
    async with Process("sh", "-c", script, stdout=PIPE) as p:
        check(await p.stdout.readline() == b"ready\n", "ready")
        p.signal_group("TERM")
        heard = [await p.stdout.readline(), await p.stdout.readline()]
        # Each once: the leader is not signalled twice.
        check(sorted(heard) == [b"inner got TERM\n", b"outer got TERM\n"], heard)
        check(await p.wait() == 0, p)


@scenario
async def closing_while_other_tasks_wait_on_the_process():
    # A task waits for the exit, another reads stdout, and the process is
    # closed under them: both get an answer (its status, end-of-file), and
    # nothing traps on a pollable that outlives what it watches.
    p = Process("sleep", LONG, stdout=PIPE)
    waiter = asyncio.create_task(p.wait())
    reader = asyncio.create_task(p.stdout.read())
    await asyncio.sleep(0)  # let both start waiting
    await p.aclose()
    check(await waiter == -9, p)
    check(await reader == b"", "end-of-file for the reader")
    # A stream closed while a task reads it, the child still running and
    # silent: the reader gets end-of-file.
    async with Process("sleep", LONG, stdout=PIPE) as p:
        reader = asyncio.create_task(p.stdout.read())
        await asyncio.sleep(0)
        p.stdout.close()
        check(await reader == b"", "end-of-file after close")
        check(p.returncode is None, "the child still runs")
    # The same for a writer blocked on a child that never reads.
    p = Process("sleep", LONG, stdin=PIPE)
    p.stdin.write(b"x" * (4 * MiB))
    drainer = asyncio.create_task(p.stdin.drain())
    await asyncio.sleep(0)
    await p.aclose()
    try:
        await drainer
    except BrokenPipeError:
        pass  # the input was never taken: that is what it says


@scenario
async def what_a_demanding_user_does_wrong_is_handled():
    # Cancelling wait_closed() does not cut the input short.
    async with Process("sh", "-c", "read go; cat", stdin=PIPE, stdout=PIPE) as p:
        p.stdin.write(b"go\n" + b"x" * MiB)
        p.stdin.close()
        try:
            await asyncio.wait_for(p.stdin.wait_closed(), 0.01)
        except TimeoutError:
            pass
        check(len(await p.stdout.read()) == MiB, "all the input arrived")
        await p.stdin.wait_closed()
    # After the block: signals do nothing, streams are gone, closing again is fine.
    async with Process("true", stdout=PIPE) as p:
        await p.wait()
    p.kill()
    p.send_signal("TERM")
    check(p.stdout is None, "no stream after close")
    await p.aclose()
    # Bytes and paths are arguments as the file system names them.
    result = await procbox.run_process(["printf", "[%s]", b"bytes"])
    check(result.stdout == b"[bytes]", result.stdout)
    # A wait that runs out says so.
    async with Process("sleep", LONG) as p:
        try:
            await p.wait(timeout=0.05)
        except procbox.TimeoutExpired as err:
            check("ran out of its 0.05 s" in str(err), str(err))
    # A queue takes any iterable of commands.
    results = await procbox.run_all((["echo", str(n)] for n in range(3)), limit=2, text=True)
    check([r.stdout for r in results] == ["0\n", "1\n", "2\n"], results)


@scenario
async def json_decoded():
    result = await procbox.run_process(["echo", '{"tool": "procbox", "answer": [4, 2]}'])
    check(result.json() == {"tool": "procbox", "answer": [4, 2]}, result.stdout)


@scenario
async def one_mib_on_stdout_and_stderr_at_once():
    script = "head -c 1048576 /dev/zero & head -c 1048576 /dev/zero >&2; wait"
    result = await procbox.run_process(["sh", "-c", script])
    check((len(result.stdout), len(result.stderr)) == (MiB, MiB), (len(result.stdout), len(result.stderr)))


@scenario
async def a_denied_command_is_a_typed_exception():
    try:
        Process("rm", "-rf", "/tmp/nothing-here")
        raise AssertionError("not denied")
    except procbox.Denied as err:
        check(isinstance(err, PermissionError), type(err))
        check(err.command == ["rm", "-rf", "/tmp/nothing-here"], err.command)
        check("--allow-run" in str(err), str(err))
    try:
        await procbox.run_process(["no-such-program-anywhere"])
        raise AssertionError("found")
    except procbox.SpawnError as err:
        check(isinstance(err, (procbox.NotFound, procbox.Denied)), type(err))


@scenario
async def stdin_backpressure_round_trip():
    data = bytes(range(256)) * (4 * MiB // 256)
    async with Process("cat", stdin=PIPE, stdout=PIPE) as p:

        async def feed():
            for start in range(0, len(data), 256 * 1024):
                p.stdin.write(data[start : start + 256 * 1024])
                await p.stdin.drain()
            p.stdin.close()
            await p.stdin.wait_closed()

        _, echoed = await asyncio.gather(feed(), p.stdout.read())
        check(echoed == data, len(echoed))
        check(await p.wait() == 0, p)


@scenario
async def communicate_with_input():
    async with Process("sort", stdin=PIPE, stdout=PIPE) as p:
        out, err = await p.communicate(b"b\nc\na\n")
    check((out, err, p.returncode) == (b"a\nb\nc\n", None, 0), (out, err, p))


@scenario
async def reading_exactly_and_up_to_a_separator():
    async with Process("printf", "abc:defgh", stdout=PIPE) as p:
        check(await p.stdout.readuntil(b":") == b"abc:", "readuntil")
        check(await p.stdout.readexactly(2) == b"de", "readexactly")
        try:
            await p.stdout.readexactly(10)
            raise AssertionError("no IncompleteReadError")
        except asyncio.IncompleteReadError as err:
            check(err.partial == b"fgh" and err.expected == 10, err)
        check(p.stdout.at_eof(), "at the end")
    async with Process("printf", "%s", "x" * 100 + ";rest", stdout=PIPE, limit=16) as p:
        try:
            await p.stdout.readuntil(b";")
            raise AssertionError("no LimitOverrunError")
        except asyncio.LimitOverrunError:
            pass  # recoverable: the data is still there
        check(await p.stdout.read() == b"x" * 100 + b";rest", "nothing lost")


@scenario
async def check_errors_carry_the_command_status_and_stderr():
    try:
        await procbox.run_process(["sh", "-c", "echo 'it broke' >&2; exit 7"])
        raise AssertionError("no error")
    except procbox.CalledProcessError as err:
        check(err.returncode == 7 and err.status.duration >= 0, err)
        text = str(err)
        check("`sh -c \"echo 'it broke' >&2; exit 7\"` failed: exit status 7 after" in text, text)
        check(text.endswith(": it broke"), text)


@scenario
async def task_groups_gather_and_wait_for():
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(procbox.run_process(["echo", str(n)], text=True)) for n in range(4)]
    check([t.result().stdout for t in tasks] == ["0\n", "1\n", "2\n", "3\n"], tasks)
    results = await asyncio.gather(*(procbox.run_process(["echo", w]) for w in ("a", "b")))
    check([r.stdout for r in results] == [b"a\n", b"b\n"], results)
    result = await asyncio.wait_for(procbox.run_process(["echo", "in time"]), 30)
    check(result.stdout == b"in time\n", result)


@scenario
async def a_pipeline_child_to_child():
    lines = b"b\na\nb\nc\nb\na\n"
    result = await procbox.pipeline(["sort"], ["uniq", "-c"], ["sort", "-rn"], input=lines)
    check([line.split() for line in result.stdout.splitlines()] == [[b"3", b"b"], [b"2", b"a"], [b"1", b"c"]], result)
    try:
        await procbox.pipeline(["echo", "x"], ["sh", "-c", "cat; echo bad >&2; exit 5"], ["cat"])
        raise AssertionError("no error")
    except procbox.CalledProcessError as err:
        check(err.returncode == 5 and err.stage == 2 and str(err).startswith("stage 2 `sh -c") and "bad" in str(err), err)


def sync_facade():
    """`procbox.run`, for scripts with no event loop (like subprocess.run)."""
    result = procbox.run(["echo", "no loop"], text=True)
    check(result.stdout == "no loop\n", result)
    try:
        procbox.run(["sh", "-c", "exit 9"])
        raise AssertionError("no error")
    except procbox.CalledProcessError as err:
        check(err.returncode == 9, err)
    check(procbox.run(["sh", "-c", "exit 9"], check=False).returncode == 9, "check=False")
    print("ok sync_facade")


async def scenarios(names):
    for name in names:
        await SCENARIOS[name]()
        print(f"ok {name}", flush=True)


def main(args):
    if args == ["sync"]:
        return sync_facade()
    names = args or list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        print(f"scenarios: unknown: {', '.join(unknown)} (known: {', '.join(SCENARIOS)})", file=sys.stderr)
        return 2
    asyncio.run(scenarios(names))


Run = procbox.plugin(main)
