"""IR text round trips: print → parse → print is the identity at every IR stage, for the contract
program, the examples and random programs; the verifier accepts every stage."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

import tensorkiln as tk
from tensorkiln.compiler.pipeline import IR_STAGES
from tensorkiln.ir.parser import parse_module
from tensorkiln.ir.printer import print_module
from tensorkiln.ir.verifier import verify_module

from programs import programs  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "examples" / "softmax.tk"] + sorted((Path(__file__).parent / "golden" / "dsl").glob("*.tk"))


def roundtrip(text: str) -> None:
    m = parse_module(text)
    verify_module(m)
    again = print_module(m)
    assert again == text


@pytest.mark.parametrize("src", SOURCES, ids=[p.name for p in SOURCES])
@pytest.mark.parametrize("stage", IR_STAGES)
def test_stage_text_round_trips(src: Path, stage: str) -> None:
    mod = tk.compile(src)
    text = "\n".join(mod.ir(e, stage) for e in mod.entries)
    roundtrip(text)


@settings(max_examples=25)
@given(programs())
def test_random_programs_round_trip_at_every_stage(prog) -> None:
    mod = tk.compile(prog.text)
    for stage in IR_STAGES:
        roundtrip(mod.ir(prog.name, stage))


def test_anonymous_dims_keep_their_identity() -> None:
    # numbered anonymous dims name one unknown dim each within a function; a bare '?' is always new
    text = "func @f(%x: tensor<?5x3xf32>, %y: tensor<?7xf32>) -> tensor<?5x3xf32> {\n  %0 = graph.exp %x : tensor<?5x3xf32>\n  return %0 : tensor<?5x3xf32>\n}\n"
    m = parse_module(text)
    printed = print_module(m)
    # the two '?' of %x and %y are different dims; the result shares %x's
    assert printed.startswith("func @f(%x: tensor<?0x3xf32>, %y: tensor<?1xf32>) -> tensor<?0x3xf32>")
    roundtrip(printed)


def test_large_constants_print_as_exact_hex() -> None:
    import numpy as np

    vals = np.random.default_rng(0).standard_normal(40).astype(np.float32)
    from tensorkiln.ir.core import Builder, Function, Module

    f = Function("c", [], [], [])
    b = Builder(f.body)
    c = b.op("graph.constant", value=vals)
    b.create("return", [c])
    f.result_types = [c.type]
    text = print_module(Module([f]))
    assert '"0x' in text
    m = parse_module(text)
    got = next(iter(m)).body.ops[0].attributes["value"]
    assert got.dtype == vals.dtype and (got == vals).all()
    roundtrip(text)
