#!/usr/bin/env python3
"""Warm starts, measured side by side in one run (issue 23 item 6):

1. a cached `procbox run` of the hello-world plugin of each language
   (`procbox new`), against `python3 -c pass` and `node -e ''`;
2. the same plugins as activities of one `procbox worker`: the time the
   worker reports from the activity's start to the plugin's end
   (`duration_ms`); for `print-py`, which prints the wall clock first
   thing in its `main`, the time to that reading from the worker's start
   of the run (its debug line `run started`) and from the activity's
   start in the workflow's history; and
   N workflows of the Rust plugin one after another against N of a Python
   activity that does nothing, on the same server.

    target/temporal-venv/bin/python benches/warm_start.py PROCBOX N

PROCBOX is a release `procbox` with `procbox-worker` beside it
(`cargo build --release -p procbox-cli -p procbox-worker`). Run it with
the Python of `host/worker/scripts/temporal-venv.sh`'s venv (it imports
temporalio and starts that venv's `temporal` server). The plugins are
built in a temporary directory with the toolchains the tests installed
under target/ (componentize-py-venv, js-toolchain).
"""
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(REPO, "target")


def sh(cmd, cwd=None, env=None):
    done = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode != 0:
        sys.exit(f"{cmd}: exit {done.returncode}: {done.stderr.decode()[-2000:]}")
    return done.stdout.decode()


def build_plugins(procbox, root):
    """The hello world of each language, as `procbox new` makes it."""
    env = dict(os.environ, PROCBOX=procbox,
               PROCBOX_PY_VENV=os.path.join(TARGET, "componentize-py-venv"),
               PROCBOX_JS_TOOLCHAIN=os.path.join(TARGET, "js-toolchain"),
               CARGO_TARGET_DIR=os.path.join(root, "cargo-target"))
    plugins = {}
    sh([procbox, "new", "hello-rs"], cwd=root)
    sh(["cargo", "build", "--release", "--quiet"], cwd=f"{root}/hello-rs", env=env)
    plugins["rust"] = f"{root}/cargo-target/wasm32-wasip2/release/hello-rs.wasm"
    for lang, name in (("python", "hello-py"), ("js", "hello-js")):
        sh([procbox, "new", "--lang", lang, name], cwd=root)
        sh(["./build.sh"], cwd=f"{root}/{name}", env=env)
        plugins[lang] = f"{root}/{name}/{name}.wasm"
    # The same Python plugin without its `echo`, printing the wall clock
    # (the host's, through WASI) as the first thing its `main` does: the
    # worker's part measures from the activity's start to that reading.
    sh([procbox, "new", "--lang", "python", "print-py"], cwd=root)
    with open(f"{root}/print-py/app.py", "w") as f:
        f.write("import time\n\nimport procbox\n\n\nasync def main(args: list[str]) -> int:\n"
                "    print(time.time_ns())\n    return 0\n\n\nRun = procbox.plugin(main)\n")
    sh(["./build.sh"], cwd=f"{root}/print-py", env=env)
    plugins["python-print"] = f"{root}/print-py/print-py.wasm"
    return plugins


def timed(cmd, env):
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{cmd}: exit {done.returncode}: {done.stderr.decode()}")
    return took


def cached_runs(procbox, plugins, n, root):
    env = dict(os.environ, PROCBOX_CACHE_DIR=f"{root}/cache", PROCBOX_CONFIG_DIR=f"{root}/config")
    cmds = {f"procbox run {lang}": [procbox, "run", path, "--allow-run", "echo"] for lang, path in plugins.items()}
    # The interpreter itself, not a version manager's shim (pyenv's is a
    # shell script that takes longer than Python).
    python = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"],
                            stdout=subprocess.PIPE, text=True).stdout.strip()
    cmds["python3 -c pass"] = [python, "-c", "pass"]
    cmds["node -e ''"] = ["node", "-e", ""]
    for cmd in cmds.values():
        timed(cmd, env)  # compiles into the cache
    time.sleep(2.5)  # the stat-key records settle (host/procbox/src/runtime/known.rs)
    times = {name: [] for name in cmds}
    for _ in range(n):
        for name, cmd in cmds.items():
            times[name].append(timed(cmd, env))
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


try:
    from temporalio import activity, workflow
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker
except ImportError:
    sys.exit("run this with the Python of host/worker/scripts/temporal-venv.sh's venv (it has temporalio)")


@activity.defn(name="noop")
async def noop(_: dict) -> dict:
    """The baseline: an activity that does nothing."""
    return {}


@workflow.defn(name="noop")
class Noop:
    @workflow.run
    async def run(self, arg: dict) -> dict:
        return await workflow.execute_activity("noop", arg, start_to_close_timeout=timedelta(seconds=60))


async def to_main_ms(client, workflow_id, result):
    """From the activity's start, as the server recorded it in the
    workflow's history (`ActivityTaskStarted`: the moment it handed the
    task to the worker), to the wall clock `print-py` read first thing in
    its `main`. Server, worker and plugin read the same clock."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    started = next(e.event_time.ToNanoseconds() for e in history.events
                   if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
    return (int(result["stdout"].split()[0]) - started) / 1e6


def worker_to_main(root, print_runs):
    """The worker's start of each print-py run (its log) to the wall clock
    the plugin read first in `main`, in the order the runs went (one
    after another): median and max over all but the warm-up runs."""
    with open(f"{root}/worker.log") as f:
        starts = [int(line.split("wall_ns=")[1].split()[0]) for line in f
                  if "run started" in line and "plugin=python-print" in line]
    if len(starts) != len(print_runs):
        return f"unknown: {len(starts)} starts logged for {len(print_runs)} runs"
    to_main = [(main - start) / 1e6 for start, (_, main) in zip(starts, print_runs)][3:]
    return f"median {statistics.median(to_main):.2f} ms, max {max(to_main):.2f} ms"


async def worker_runs(procbox, plugins, n, root):
    venv_bin = os.path.dirname(sys.executable)
    port = free_port()
    address = f"127.0.0.1:{port}"
    server = subprocess.Popen([f"{venv_bin}/temporal", "server", "start-dev", "--headless", "--ip", "127.0.0.1",
                               "--port", str(port), "--db-filename", f"{root}/temporal.db", "--log-level", "error"],
                              stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    config = f"{root}/worker.toml"
    with open(config, "w") as f:
        for lang in ("rust", "python", "python-print"):
            f.write(f'[plugins.{lang}]\npath = "{plugins[lang]}"\nallow-run = ["echo"]\n\n')
    worker = None
    try:
        deadline = time.time() + 60
        while True:
            try:
                client = await Client.connect(address)
                break
            except Exception:
                if time.time() > deadline:
                    raise
                await asyncio.sleep(0.2)
        # The worker's debug line "run started" gives the wall clock at its
        # start of each run (host/worker/src/activity.rs).
        env = dict(os.environ, PROCBOX_CACHE_DIR=f"{root}/cache", PROCBOX_LOG="warn,procbox_worker=debug")
        worker_log = open(f"{root}/worker.log", "w")
        worker = subprocess.Popen([procbox, "worker", "--temporal", address, "--task-queue", "procbox",
                                   "--config", config], env=env, stdin=subprocess.DEVNULL, stderr=worker_log)
        async with Worker(client, task_queue="noop", workflows=[Noop], activities=[noop],
                          workflow_runner=UnsandboxedWorkflowRunner()):
            async def one(kind):
                started = time.perf_counter()
                if kind == "noop":
                    await client.execute_workflow("noop", {}, id=f"noop-{uuid.uuid4()}", task_queue="noop")
                    return time.perf_counter() - started, None
                workflow_id = f"{kind}-{uuid.uuid4()}"
                result = await client.execute_workflow("procbox.run", {"plugin": kind}, id=workflow_id,
                                                       task_queue="procbox")
                wall = time.perf_counter() - started
                if kind == "python-print":
                    print_runs.append((result["duration_ms"], int(result["stdout"].split()[0])))
                    return wall, await to_main_ms(client, workflow_id, result)
                return wall, result["duration_ms"]

            # print-py's whole run as the worker timed it, from its own start
            # of the activity: the rest of the time to `main` is the task's
            # way from the server to the worker.
            print_runs = []
            kinds = ("rust", "python", "python-print", "noop")
            for kind in kinds:  # warm: the worker polls, the first workflow task of each kind
                for _ in range(3):
                    await one(kind)
            walls = {k: [] for k in kinds}
            inside = {k: [] for k in kinds}
            totals = {k: 0.0 for k in kinds}
            for _ in range(n):
                for kind in kinds:
                    wall, duration = await one(kind)
                    walls[kind].append(wall)
                    totals[kind] += wall
                    if duration is not None:
                        inside[kind].append(duration)
        print(f"print-py's whole run, timed by the worker: median {statistics.median(d for d, _ in print_runs[3:])} ms")
        print(f"print-py in the worker, the run's start to the plugin's main: {worker_to_main(root, print_runs)}")
        return {
            kind: {
                "median_ms": statistics.median(walls[kind]) * 1000,
                "total_s": totals[kind],
                "duration_ms_median": statistics.median(inside[kind]) if inside[kind] else None,
                "duration_ms_max": max(inside[kind]) if inside[kind] else None,
            }
            for kind in kinds
        }
    finally:
        if worker:
            worker.terminate()
            worker.wait(30)
        server.kill()
        server.wait()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    procbox, n = os.path.abspath(sys.argv[1]), int(sys.argv[2])
    root = tempfile.mkdtemp(prefix="procbox-warm-start-")
    plugins = build_plugins(procbox, root)
    runs = cached_runs(procbox, plugins, n, root)
    print(f"cached runs, median of {n}:")
    for name, ms in runs.items():
        print(f"  {name:20} {ms:7.1f} ms")
    print(f"  python / python3 -c pass: {runs['procbox run python'] / runs['python3 -c pass']:.2f}x")
    node = runs["node -e ''"]
    print(f"  js / node -e '':          {runs['procbox run js'] / node:.2f}x")
    workers = asyncio.run(worker_runs(procbox, plugins, n, root))
    print(f"worker, {n} workflows of each, one after another:")
    for kind, r in workers.items():
        span = "activity start to plugin's main" if kind == "python-print" else "activity start to plugin end"
        inside = "" if r["duration_ms_median"] is None else f", {span}: median {r['duration_ms_median']:.1f} ms, max {r['duration_ms_max']:.1f} ms"
        print(f"  {kind:12} workflow median {r['median_ms']:6.1f} ms, total {r['total_s']:6.2f} s{inside}")
    over = workers["rust"]["median_ms"] - workers["noop"]["median_ms"]
    print(f"  rust plugin vs no-op Python activity: {workers['rust']['median_ms'] / workers['noop']['median_ms']:.2f}x, +{over:.1f} ms per activity")
    print(json.dumps({"cached": runs, "worker": workers}))


if __name__ == "__main__":
    main()
