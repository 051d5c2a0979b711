"""topn: the most frequent lines of some files, counted by real processes.

    topn [-n N] [-v] FILE...

runs `sort -- FILE... | uniq -c | sort -rn`, child to child through OS
pipes (the data never passes through the plugin), and prints the first N
lines (default 10), as `| head -n N` would. Exit status: 0 printed, 1 a
stage failed (by procbox's pipeline rule, which the SDK applies), 2 bad
arguments, 3 a stage was not granted.

    procbox run topn.wasm --allow-run sort --allow-run 'uniq -c' -- -n 5 access.log
"""

import sys

import procbox

USAGE = """\
usage: topn [-n N] [-v] FILE...

Print the N most frequent lines of the FILEs, with their counts, as
`sort -- FILE... | uniq -c | sort -rn | head -n N` does.

  -n N, --lines=N   how many lines to print (default 10)
  -v, --verbose     report each stage and its pid on stderr
  -h, --help        print this help
"""


def say(message: str) -> None:
    print(f"topn: {message}", file=sys.stderr)


def count(text: str | None, option: str) -> int:
    if text is None or not text.isdigit() or int(text) < 1:
        raise ValueError(f"{option} needs a number" if text is None else f"{option}: not a positive number: {text!r}")
    return int(text)


def parse(argv: list[str]) -> tuple[int, bool, list[str]] | None:
    """(lines, verbose, files), or None for --help; ValueError if bad."""
    lines, verbose, files, args = 10, False, [], iter(argv)
    for arg in args:
        if arg == "--":
            files.extend(args)
        elif arg in ("-h", "--help"):
            return None
        elif arg in ("-v", "--verbose"):
            verbose = True
        elif arg in ("-n", "--lines"):
            lines = count(next(args, None), arg)
        elif arg.startswith(("--lines=", "-n")):
            option, _, value = arg.partition("=") if arg.startswith("--") else ("-n", "", arg[2:])
            lines = count(value, option)
        elif arg.startswith("-") and arg != "-":
            raise ValueError(f"unknown option {arg!r}")
        else:
            files.append(arg)
    if not files:
        raise ValueError("no FILE given")
    return lines, verbose, files


async def main(argv: list[str]) -> int:
    try:
        options = parse(argv)
    except ValueError as err:
        say(str(err))
        sys.stderr.write(USAGE)
        return 2
    if options is None:
        sys.stdout.write(USAGE)
        return 0
    n, verbose, files = options

    def started(stage: int, process: procbox.Process) -> None:
        if verbose:
            say(f"stage {stage} `{procbox.command_line(process.args)}` started, pid {process.pid}")

    top = []
    try:
        async with procbox.Pipeline(["sort", "--", *files], ["uniq", "-c"], ["sort", "-rn"], on_start=started) as p:
            async for line in p.stdout:  # all of it, so that the last stage can finish
                if len(top) < n:
                    top.append(line)
            await p.wait()
    except procbox.Denied as err:
        say(f"stage {err.stage} `{procbox.command_line(err.command)}` was not allowed: {err.reason}")
        return 3
    except procbox.ProcboxError as err:
        say(str(err))
        return 1
    sys.stdout.buffer.write(b"".join(top))
    return 0


Run = procbox.plugin(main)
