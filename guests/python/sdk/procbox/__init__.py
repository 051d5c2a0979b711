"""procbox for Python plugins: start processes the user granted, stream
their output, and wait for them, with asyncio.

    import procbox

    async def main(args):
        async with procbox.Process("grep", "ERROR", stdin=procbox.PIPE, stdout=procbox.PIPE) as p:
            p.stdin.write(b"ERROR one\\nfine\\n")
            p.stdin.close()
            async for line in p.stdout:
                print(line.decode(), end="")
        result = await procbox.run_process(["git", "log", "--oneline", "-5"], text=True)
        print(result.stdout)

    Run = procbox.plugin(main)

Importing it installs the SDK's event loop, so `asyncio.run` works inside
the plugin. The reference, with examples, is guests/python/sdk/README.md.
"""

from . import _loop
from ._loop import NothingToWaitFor
from .errors import (
    CalledProcessError,
    Denied,
    InvalidInput,
    LimitExceeded,
    NotFound,
    PipelineError,
    ProcboxError,
    ProcessIOError,
    SpawnError,
    TimeoutExpired,
)
from ._host import command_line
from .plugin import plugin
from .process import DEVNULL, INHERIT, PIPE, STDOUT, File, Process, spawn
from .run import CompletedProcess, Pipeline, PipelineResult, pipeline, run, run_all, run_process
from .status import ExitStatus, TreeUsage, Usage
from .streams import StreamReader, StreamWriter

_loop.install()

from . import _asyncio_subprocess, _subprocess  # noqa: E402,F401  (built into the plugin)

_subprocess.install()

__all__ = [
    "CalledProcessError",
    "CompletedProcess",
    "DEVNULL",
    "Denied",
    "ExitStatus",
    "File",
    "INHERIT",
    "InvalidInput",
    "LimitExceeded",
    "NotFound",
    "NothingToWaitFor",
    "PIPE",
    "Pipeline",
    "PipelineError",
    "PipelineResult",
    "Process",
    "ProcboxError",
    "ProcessIOError",
    "STDOUT",
    "SpawnError",
    "StreamReader",
    "StreamWriter",
    "TimeoutExpired",
    "TreeUsage",
    "command_line",
    "Usage",
    "pipeline",
    "plugin",
    "run",
    "run_all",
    "run_process",
    "spawn",
]
