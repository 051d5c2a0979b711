"""The host's interface (`procbox:host/process`) as the SDK uses it: its
errors as exceptions, signals, and command lines quoted as the host
quotes them."""

from componentize_py_types import Err
from wit_world.imports import process as wit

from .errors import Denied, InvalidInput, LimitExceeded, NotFound, ProcessIOError, SpawnError

# Linux signal numbers, and the host's names for the signals a plugin may send.
SIGNALS = {
    1: wit.Signal.HANGUP,
    2: wit.Signal.INTERRUPT,
    3: wit.Signal.QUIT,
    9: wit.Signal.KILL,
    10: wit.Signal.USER1,
    12: wit.Signal.USER2,
    15: wit.Signal.TERMINATE,
    18: wit.Signal.CONTINUE,
    19: wit.Signal.STOP,
}
NAMES = {"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "TERM": 15, "CONT": 18, "STOP": 19}


def to_signal(signal: "int | str") -> wit.Signal:
    """The host's signal for a number (`15`, `signal.SIGTERM`) or a name
    (`"TERM"`, `"SIGTERM"`)."""
    number = NAMES.get(signal.upper().removeprefix("SIG")) if isinstance(signal, str) else int(signal)
    if number not in SIGNALS:
        raise ValueError(f"procbox cannot send signal {signal!r}: one of {', '.join(NAMES)}")
    return SIGNALS[number]


def spawn_error(err: Err, command: list[str]) -> SpawnError:
    """The exception for the host's `error`, naming the command."""
    kinds = {
        wit.Error_Denied: Denied,
        wit.Error_NotFound: NotFound,
        wit.Error_InvalidInput: InvalidInput,
        wit.Error_LimitExceeded: LimitExceeded,
        wit.Error_Io: ProcessIOError,
    }
    reason = err.value
    text = str(getattr(reason, "value", reason))
    kind = kinds.get(type(reason), ProcessIOError)
    if kind is InvalidInput and text.startswith("working directory") and "os error 2)" in text:
        kind = NotFound  # a missing working directory, as CPython reports it
    return kind(command, text)


def call(command: list[str], function, *args):
    """`function(*args)`, with the host's errors raised as exceptions."""
    try:
        return function(*args)
    except Err as err:
        raise spawn_error(err, command) from None


# How Rust's `{:?}` escapes these inside a string.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def _is_control(c: str) -> bool:
    return ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0


def quote(word: str) -> str:
    """One word of a command line as procbox writes it in messages: as it
    is, unless it is empty or holds white space, a quote or a control
    character; then in double quotes, with Rust's escapes."""
    if word and not any(c.isspace() or _is_control(c) or c in "\"'" for c in word):
        return word
    escaped = "".join(_ESCAPES.get(c) or (c if c.isprintable() else f"\\u{{{ord(c):x}}}") for c in word)
    return f'"{escaped}"'


def command_line(args: list[str]) -> str:
    return " ".join(quote(word) for word in args)
