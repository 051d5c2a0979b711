"""The plugin's entry point: `Run = procbox.plugin(main)`."""

import asyncio
import inspect
import sys
import traceback

from wit_world import exports
from wit_world.imports.exit import exit_with_code

from .errors import ProcboxError


def plugin(main):
    """The `wasi:cli/run` export for `main(args)`, a function or a
    coroutine function given the plugin's arguments (without its name).

    An async `main` runs under `asyncio.run`, on the SDK's event loop
    (made when the plugin was built, so a run does not pay for it). It
    returns the exit code (None: 0), or raises `SystemExit`. A procbox
    error that escapes is printed as one line and exits 1; any other
    exception prints its traceback and exits 1.

        async def main(args):
            ...
        Run = procbox.plugin(main)
    """

    class Run(exports.Run):
        def run(self) -> None:
            code = _call(main, sys.argv[1:])
            sys.stdout.flush()
            sys.stderr.flush()
            # sys.exit(n) reports every n >= 1 as 1; this keeps n.
            exit_with_code(code & 0xFF)

    return Run


def _call(main, args: list[str]) -> int:
    try:
        if inspect.iscoroutinefunction(main):
            result = asyncio.run(main(args))
        else:
            result = main(args)
        return 0 if result is None else int(result)
    except SystemExit as done:
        code = done.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    except ProcboxError as err:
        print(f"{_name()}: {err}", file=sys.stderr)
        return 1
    except BaseException:
        # Any other exception, or a CancelledError or KeyboardInterrupt
        # that escaped: the plugin fails, it does not trap.
        traceback.print_exc()
        return 1


def _name() -> str:
    return (sys.argv[0] if sys.argv and sys.argv[0] else "plugin").rsplit("/", 1)[-1]
