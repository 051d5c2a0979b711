"""Unit tests of topn's rules, run by plain CPython (3.10+) outside procbox.

    python3 guests/python/topn_rules_test.py

topn follows procbox's one success rule and one pipeline rule
(wit/process.wit) and writes command lines as the host does; these are the
same tables as the Rust SDK's unit tests (guests/sdk/src/status.rs,
pipeline.rs and command.rs), so a difference between the two languages
fails here. The generated bindings exist only inside the component, so the
few types the rules touch are stood in for below. It lives beside topn/,
not in it, so that it is not bundled into the plugin.
"""

import importlib.util
import sys
import types
import unittest
from dataclasses import dataclass
from pathlib import Path


# --- stand-ins for the generated bindings ------------------------------------


@dataclass(frozen=True)
class Termination_Exited:
    value: int


@dataclass(frozen=True)
class Termination_Signalled:
    value: int


@dataclass
class ExitStatus:
    termination: object
    duration: int = 0
    timed_out: bool = False
    output_truncated: bool = False
    usage: object = None


def stub(name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules[name] = module
    return module


process = stub(
    "wit_world.imports.process",
    Termination_Exited=Termination_Exited,
    Termination_Signalled=Termination_Signalled,
    ExitStatus=ExitStatus,
    Child=type("Child", (), {}),
)
imports = stub(
    "wit_world.imports",
    process=process,
    poll=stub("wit_world.imports.poll", Pollable=type("Pollable", (), {})),
    streams=stub("wit_world.imports.streams", InputStream=type("InputStream", (), {})),
)
stub("wit_world.imports.exit", exit_with_code=lambda code: None)
stub("wit_world", exports=types.SimpleNamespace(Run=object), imports=imports)
stub("componentize_py_types", Err=type("Err", (Exception,), {}))

spec = importlib.util.spec_from_file_location("topn_app", Path(__file__).parent / "topn" / "app.py")
app = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app)


# --- the tables ----------------------------------------------------------------

SIGPIPE = 13


def exited(code: int, **flags) -> ExitStatus:
    return ExitStatus(Termination_Exited(code), **flags)


def killed(signal: int, **flags) -> ExitStatus:
    return ExitStatus(Termination_Signalled(signal), **flags)


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
                self.assertEqual(app.failure(status) is None, success)

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
                self.assertEqual(app.reported_stage(statuses), expected)

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
                self.assertEqual(app.quote(word), shown)


if __name__ == "__main__":
    unittest.main()
