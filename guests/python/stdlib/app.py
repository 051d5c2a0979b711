"""stdlib: CPython's own process APIs inside a plugin, through procbox.

    procbox run stdlib.wasm --allow-run 'git **' ... -- release REPO
    procbox run stdlib.wasm --allow-run sh -- CASE ...

`release` runs release.py, a script written for CPython's `subprocess`,
unmodified; the other cases print what a user would check.
"""

import gc
import os
import subprocess
import sys

import procbox
import release


def shell(args):
    out = subprocess.run(args[0], shell=True, capture_output=True, text=True)
    print(f"code {out.returncode} out {out.stdout.strip()}")


def env(args):
    out = subprocess.run(["env"], env={**os.environ, "PROCBOX_X": "1"}, capture_output=True, text=True, check=True)
    print(" ".join(sorted(line for line in out.stdout.splitlines() if line.startswith("PROCBOX_"))))


def timeout(args):
    import time

    start = time.monotonic()
    try:
        subprocess.run(["sleep", "30"], timeout=float(args[0]))
    except subprocess.TimeoutExpired as err:
        elapsed = time.monotonic() - start
        print(f"timed out after {err.timeout:g} s", "and stopped" if elapsed < 10 else f"but took {elapsed:.1f} s")


def check(args):
    try:
        subprocess.run(["sh", "-c", "echo oops >&2; exit 3"], check=True, capture_output=True)
    except subprocess.CalledProcessError as err:
        print(f"CalledProcessError {err.returncode} {err.stderr!r}")


def cwd(args):
    try:
        subprocess.run(["true"], cwd=args[0])
    except FileNotFoundError as err:
        print(f"{type(err).__name__}: {err}")


def popen(args):
    from subprocess import Popen  # taken before use, as scripts do

    p = Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    p.stdin.write(b"one\ntwo\n")
    p.stdin.close()
    print(p.stdout.readline().decode(), end="")
    print(p.stdout.read().decode(), end="")
    print(f"wait {p.wait()} poll {p.poll()}")
    q = Popen(["sleep", "30"])
    print(f"poll {q.poll()}")
    q.terminate()
    print(f"terminated {q.wait()}")


def asyncio_exec(args):
    import asyncio

    async def go():
        p = await asyncio.create_subprocess_exec("cat", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        out, err = await p.communicate(b"x" * 300000 + b"\nend\n")
        print(type(p).__module__, type(p).__name__, len(out), err, p.returncode)
        q = await asyncio.create_subprocess_exec("seq", "3", stdout=asyncio.subprocess.PIPE)
        lines = [line async for line in q.stdout]
        print(lines, await q.wait())
        r = await asyncio.create_subprocess_exec("sleep", "30")
        r.kill()
        print("killed", await r.wait())
        try:
            await asyncio.create_subprocess_shell("echo hi")
        except PermissionError as err:
            print("shell:", type(err).__name__)

    asyncio.run(go())


def system(args):
    status = os.system("echo from system; exit 3")
    print(f"status {status}")
    print(os.popen("echo via popen").read(), end="")


def dropped(args):
    """A Popen dropped while its child still runs, as `os.popen(cmd).read()`
    drops it: the child runs on (CPython's semantics) and its output comes."""
    slow = "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; echo late"
    proc = subprocess.Popen(["sh", "-c", slow], stdout=subprocess.PIPE, text=True)
    stream = proc.stdout
    del proc
    gc.collect()
    print(stream.read(), end="")
    print(os.popen(slow).read(), end="")


def files(args):
    path = os.path.join(args[0], "out.txt")
    subprocess.run(["echo", "written"], stdout=procbox.File(path), check=True)
    subprocess.run(["echo", "appended"], stdout=procbox.File(path, append=True), stderr=subprocess.STDOUT, check=True)
    with open(path, "a") as f:
        subprocess.run(["echo", "through a file object"], stdout=f, check=True)
    print(subprocess.run(["cat", path], stdout=subprocess.PIPE, text=True).stdout, end="")
    try:
        subprocess.run(["echo"], stdout=1)
    except ValueError as err:
        print(err)


CASES = {"files": files, "system": system, "dropped": dropped, "shell": shell, "env": env, "timeout": timeout, "check": check, "cwd": cwd, "popen": popen,
         "asyncio": asyncio_exec}


def main(args):
    if args and args[0] == "release":
        return release.main(args[1:])
    return CASES[args[0]](args[1:])


Run = procbox.plugin(main)
