"""Golden tests per pass: tests/golden/passes/NAME.tkir runs the pass named on its first line
(`// PASS: name`) and must print exactly tests/golden/passes/expected/NAME.tkir.

Set TENSORKILN_UPDATE_GOLDEN=1 to rewrite the expected files (then read the diff before committing).
"""
import os
from pathlib import Path

import pytest

from tensorkiln.backends.reference.interpreter import evaluate_op
from tensorkiln.compiler.pipeline import pass_by_name
from tensorkiln.ir.parser import parse_module
from tensorkiln.ir.printer import print_module
from tensorkiln.ir.verifier import verify_module

GOLDEN = Path(__file__).parent / "golden" / "passes"
CASES = sorted(GOLDEN.glob("*.tkir"))


def run_case(path: Path) -> str:
    text = path.read_text()
    first = text.splitlines()[0]
    assert first.startswith("// PASS:"), f"{path.name} must start with '// PASS: name'"
    module = parse_module(text, str(path))
    verify_module(module)
    pass_by_name(first.split(":", 1)[1].strip(), evaluate=evaluate_op).apply(module)
    verify_module(module)
    return print_module(module)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_pass_golden(path: Path) -> None:
    got = run_case(path)
    expected = GOLDEN / "expected" / path.name
    if os.environ.get("TENSORKILN_UPDATE_GOLDEN"):
        expected.parent.mkdir(exist_ok=True)
        expected.write_text(got)
    assert got == expected.read_text()
    # The output is valid IR text too: it parses back to the same text.
    assert print_module(parse_module(got)) == got


def test_there_are_golden_cases_for_every_pass() -> None:
    passes = {p.read_text().splitlines()[0].split(":", 1)[1].strip() for p in CASES}
    assert passes >= {"infer-shapes", "decompose", "canonicalize", "fold-constants", "cse", "dce", "fuse", "lower-to-loops", "buffer-lifetimes"}


PASS_NAMES = ("infer-shapes", "decompose", "canonicalize", "fold-constants", "cse", "dce", "fuse", "fuse-nn",
              "lower-to-loops", "collapse-loops", "fuse-loops", "buffer-lifetimes")


def test_passes_are_values_with_their_names_and_options() -> None:
    """Passes without options are plain subclasses of the ``Pass`` dataclass (no decorator of their
    own: base.py says why); they still compare, hash and print as dataclasses, by class."""
    for name in PASS_NAMES:
        a, b = pass_by_name(name), pass_by_name(name)
        assert a.name == name and a == b and hash(a) == hash(b)
        assert repr(a).startswith(type(a).__name__ + "(")
    dce, cse = pass_by_name("dce"), pass_by_name("cse")
    assert dce != cse and repr(dce) == "DeadCodeElimination()"
    from tensorkiln.compiler.passes.canonicalize import Canonicalize

    assert Canonicalize(max_iterations=3) != Canonicalize() and repr(Canonicalize(3)) == "Canonicalize(max_iterations=3)"
