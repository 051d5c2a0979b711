"""What can go wrong, as exceptions.

`SpawnError` and its kinds are the host's own errors (`procbox:host`'s
`error` variant): the policy refused the command, the program does not
exist, the request was malformed, a limit was reached, or I/O failed. Each
is also the built-in exception a Python programmer would catch for it
(`Denied` is a `PermissionError`, `NotFound` a `FileNotFoundError`, ...).

`CalledProcessError` and `TimeoutExpired` say how a command that ran
failed. Reading streams raises asyncio's own `IncompleteReadError` and
`LimitOverrunError`.
"""


def _line(args: list[str]) -> str:
    from ._host import command_line

    return command_line(args)


class ProcboxError(Exception):
    """Every error of this SDK."""


class SpawnError(ProcboxError):
    """procbox did not start the command.

    `command` is its argument list, `reason` the host's message (for a
    denial, it names the flag that would allow it).
    """

    kind = "could not be started"
    stage: "int | None" = None
    """In a pipeline: the stage (from 1) that could not start."""

    def __init__(self, command: list[str], reason: str):
        super().__init__(f"`{_line(command)}` {self.kind}: {reason}")
        self.command = command
        self.reason = reason


class Denied(SpawnError, PermissionError):
    """The user's grants do not allow the command."""

    kind = "was denied"


class NotFound(SpawnError, FileNotFoundError):
    """The program does not exist (or the working directory does not)."""

    kind = "was not found"


class InvalidInput(SpawnError, ValueError):
    """The request was malformed (a NUL byte, a bad stdio combination)."""

    kind = "is invalid"


class LimitExceeded(SpawnError):
    """A limit of the grants was reached (children at once, spawns, ...)."""

    kind = "exceeded a limit"


class ProcessIOError(SpawnError, OSError):
    """The host failed to start or talk to the process."""

    kind = "failed"


class CalledProcessError(ProcboxError):
    """The command ran and failed by procbox's success rule: a non-zero
    exit, a signal, a timeout, or output cut at the grants' cap.

    `command`, `returncode` (negative for a signal), `status` (the
    `ExitStatus`, with duration and resource usage), and the captured
    `stdout` and `stderr` (`None` if not captured). The message ends with
    the last lines of stderr.
    """

    TAIL = 2048

    def __init__(self, command: list[str], status, stdout=None, stderr=None, what: str = ""):
        self.command = command
        self.status = status
        self.returncode = status.returncode
        self.stdout = stdout
        self.stderr = stderr
        message = f"{what}`{_line(command)}` failed: {status.describe()}"
        tail = _tail(stderr, self.TAIL)
        super().__init__(message + (f": {tail}" if tail else ""))


class PipelineError(CalledProcessError):
    """A pipeline failed: `stage` (from 1) is the stage reported by
    procbox's pipeline rule (the rightmost failing one)."""

    def __init__(self, stage: int, command: list[str], status, stdout=None, stderr=None):
        self.stage = stage
        super().__init__(command, status, stdout, stderr, what=f"stage {stage} ")


class TimeoutExpired(CalledProcessError, TimeoutError):
    """The command ran out of time and was stopped (its whole tree killed).

    `timeout` is the time it had, in seconds.
    """

    def __init__(self, command: list[str], timeout: float, status, stdout=None, stderr=None, waited: bool = False):
        self.timeout = timeout
        super().__init__(command, status, stdout, stderr)
        if waited:
            # The host's timeout marks the status; a `wait(timeout=...)`
            # that ran out says so here.
            tail = _tail(stderr, self.TAIL)
            self.args = (
                f"`{_line(command)}` ran out of its {timeout:g} s and was stopped: {status.describe()}"
                + (f": {tail}" if tail else ""),
            )


def _tail(stream, limit: int) -> str:
    if not stream:
        return ""
    if isinstance(stream, bytes):
        stream = stream[-limit:].decode("utf-8", "replace")
    return stream[-limit:].strip()
