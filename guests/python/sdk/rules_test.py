"""Unit tests of the Python SDK's rules, run by plain CPython (3.10+)
outside procbox.

    python3 guests/python/sdk/rules_test.py

The SDK follows procbox's one success rule and one pipeline rule
(wit/process.wit) and writes command lines as the host does; these are the
same tables as the Rust SDK's unit tests (guests/rust/sdk/src/status.rs,
pipeline.rs and command.rs), so a difference between the two languages
fails here. The generated bindings exist only inside the component, so the
modules the SDK imports are stood in for below.
"""

import sys
import types
import unittest
from enum import Enum
from pathlib import Path


def stub(name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules[name] = module
    return module


def kinds(*names: str) -> dict:
    return {name: type(name, (), {"__init__": lambda self, *a, **k: None}) for name in names}


process = stub(
    "wit_world.imports.process",
    Signal=Enum("Signal", "HANGUP INTERRUPT QUIT KILL USER1 USER2 TERMINATE STOP CONTINUE"),
    **kinds(
        "Termination_Exited", "Termination_Signalled", "ExitStatus", "Child", "Command", "Timeout",
        "FileRedirect", "Stdio_Piped", "Stdio_Null", "Stdio_Inherit", "Stdio_File", "Stdio_Stdout",
        "Stdio_ChildStdout", "Error_Denied", "Error_NotFound", "Error_InvalidInput",
        "Error_LimitExceeded", "Error_Io",
    ),
)
imports = stub(
    "wit_world.imports",
    process=process,
    poll=stub("wit_world.imports.poll", Pollable=object, poll=None),
    monotonic_clock=stub("wit_world.imports.monotonic_clock"),
    streams=stub("wit_world.imports.streams", **kinds("InputStream", "OutputStream", "StreamError_Closed")),
)
stub("wit_world.imports.exit", exit_with_code=lambda code: None)
stub("wit_world", exports=types.SimpleNamespace(Run=object), imports=imports)
stub("componentize_py_types", Err=type("Err", (Exception,), {}))

sys.path.insert(0, str(Path(__file__).parent))
from procbox._host import quote  # noqa: E402
from procbox.run import reported_stage  # noqa: E402
from procbox.status import ExitStatus  # noqa: E402


# --- the tables ----------------------------------------------------------------

SIGPIPE = 13


def status(code, signal, timed_out=False, output_truncated=False) -> ExitStatus:
    return ExitStatus(code, signal, 0.0, timed_out, output_truncated, None, None)


def exited(code: int, **flags) -> ExitStatus:
    return status(code, None, **flags)


def killed(signal: int, **flags) -> ExitStatus:
    return status(None, signal, **flags)


class Rules(unittest.TestCase):
    def test_success_is_exit_0_without_timeout_or_truncation(self):
        cases = [
            (exited(0), True),
            (exited(1), False),
            (exited(-1), False),
            (killed(9), False),
            (killed(SIGPIPE), False),
            (exited(0, timed_out=True), False),
            (exited(0, output_truncated=True), False),
        ]
        for status, success in cases:
            with self.subTest(status=status):
                self.assertEqual(status.success, success)

    def test_the_pipeline_rule(self):
        pipe = killed(SIGPIPE)
        cases = [
            ("every stage succeeded", [exited(0), exited(0), exited(0)], None),
            ("one stage", [exited(0)], None),
            ("one failing stage", [exited(2)], 0),
            ("pipefail: a failing first stage", [exited(3), exited(0)], 0),
            ("pipefail: the rightmost of several failures", [exited(3), exited(4), exited(0)], 1),
            ("a failing middle stage", [exited(0), exited(5), exited(0)], 1),
            ("du | sort -rn | head", [exited(0), pipe, exited(0)], None),
            ("yes | head", [pipe, exited(0)], None),
            ("SIGPIPE in two stages before the last", [pipe, pipe, exited(0)], None),
            ("SIGPIPE in the last stage", [exited(0), pipe], 1),
            ("a SIGPIPE stage does not hide an earlier failure", [exited(1), pipe, exited(0)], 0),
            ("the later stage's own failure", [pipe, exited(2)], 1),
            ("another signal before the last stage", [killed(9), exited(0)], 0),
            ("SIGPIPE with a timeout", [killed(SIGPIPE, timed_out=True), exited(0)], 0),
            ("SIGPIPE with truncated output", [killed(SIGPIPE, output_truncated=True), exited(0)], 0),
            ("exit 0 after a timeout", [exited(0, timed_out=True), exited(0)], 0),
            ("exit 0 with truncated output", [exited(0), exited(0, output_truncated=True)], 1),
        ]
        for case, statuses, expected in cases:
            with self.subTest(case):
                self.assertEqual(reported_stage(statuses), expected)

    def test_words_are_quoted_as_the_host_quotes_them(self):
        cases = [
            ("plain", "plain"),
            ("--format=%an", "--format=%an"),
            ("a*b?[c]", "a*b?[c]"),
            ("$HOME;|&<>()", "$HOME;|&<>()"),
            ("back\\slash", "back\\slash"),
            ("ünïcødé", "ünïcødé"),
            ("", '""'),
            ("two words", '"two words"'),
            ("tab\there", '"tab\\there"'),
            ("line\nbreak", '"line\\nbreak"'),
            ("it's", '"it\'s"'),
            ('say "hi"', '"say \\"hi\\""'),
            ('both\\ "quoted"', '"both\\\\ \\"quoted\\""'),
            ("\x1b[31m", '"\\u{1b}[31m"'),
            ("nul\0", '"nul\\0"'),
            ("\xa0no-break", '"\\u{a0}no-break"'),
        ]
        for word, shown in cases:
            with self.subTest(word=word):
                self.assertEqual(quote(word), shown)


if __name__ == "__main__":
    unittest.main()
