"""The named pipeline: which passes take IR from one printable stage to the next.

Stages, in order (DESIGN.md): ``graph`` (front-end output), ``optimized`` (inference, decomposition,
canonicalization, folding, CSE, DCE, fusion), ``loops`` (bufferized loop nests). The LLVM stages
(``llvm``, ``llvm-opt``, ``asm``) are produced by the backend from the ``loops`` stage.
"""
from __future__ import annotations

from typing import Callable, Optional

from ..ir import clone
from ..ir.core import Module
from ..ir.diagnostics import CompileError
from ..ir.printer import print_module
from .passes.base import AfterPassHook, Pass, PassManager, verify_enabled
from .passes.buffer_lifetimes import BufferLifetimes
from .passes.canonicalize import Canonicalize
from .passes.collapse_loops import CollapseLoops
from .passes.cse import CommonSubexpressionElimination
from .passes.dce import DeadCodeElimination
from .passes.decompose import Decompose
from .passes.fold_constants import Evaluator, FoldConstants
from .passes.fuse import FuseElementwise
from .passes.fuse_loops import FuseLoops
from .passes.fuse_nn import FuseNN
from .passes.infer_shapes import InferShapes
from .passes.lower_to_loops import LowerToLoops

IR_STAGES = ("graph", "optimized", "loops")
BACKEND_STAGES = ("llvm", "llvm-opt", "asm")
STAGES = IR_STAGES + BACKEND_STAGES


def optimize_passes(evaluate: Optional[Evaluator] = None, fuse: bool = True) -> list[Pass]:
    passes: list[Pass] = [
        InferShapes(),
        Decompose(),
        Canonicalize(),
        FoldConstants(evaluate=evaluate),
        Canonicalize(),
        CommonSubexpressionElimination(),
        DeadCodeElimination(),
    ]
    if fuse:
        passes += [FuseNN(), FuseElementwise(), DeadCodeElimination()]
    return passes


def lowering_passes() -> list[Pass]:
    return [LowerToLoops(), CollapseLoops(), FuseLoops(), CommonSubexpressionElimination(), DeadCodeElimination(),
            BufferLifetimes()]


def clone_module(m: Module) -> Module:
    """A deep copy, made structurally (printing and re-parsing cost ~20x more). With verification
    on (as in the tests) it also checks that the copy prints exactly as the text round trip
    would, so every compiled program still exercises the printer/parser round-trip guarantee."""
    dup = clone.clone_module(m)
    if verify_enabled():
        from ..ir.parser import parse_module

        text = print_module(dup)
        again = print_module(parse_module(print_module(m)))
        if text != again:
            raise CompileError(f"internal: the IR copy and the text round trip differ:\n{text}\n---\n{again}")
    return dup


def run_to_stages(
    graph: Module,
    evaluate: Optional[Evaluator] = None,
    after_pass: AfterPassHook | None = None,
    fuse: bool = True,
) -> dict[str, Module]:
    """Run the pipeline, returning a separate Module for each IR stage."""
    stages = {"graph": graph}
    optimized = clone_module(graph)
    PassManager(optimize_passes(evaluate, fuse), after_pass).run(optimized)
    stages["optimized"] = optimized
    loops = clone_module(optimized)
    PassManager(lowering_passes(), after_pass).run(loops)
    stages["loops"] = loops
    return stages


def pass_by_name(name: str, evaluate: Optional[Evaluator] = None) -> Pass:
    """A single pass by its ``name`` (as printed by ``--print-after-all``)."""
    table: dict[str, Callable[[], Pass]] = {
        "infer-shapes": InferShapes,
        "decompose": Decompose,
        "canonicalize": Canonicalize,
        "fold-constants": lambda: FoldConstants(evaluate=evaluate),
        "cse": CommonSubexpressionElimination,
        "dce": DeadCodeElimination,
        "fuse": FuseElementwise,
        "fuse-nn": FuseNN,
        "lower-to-loops": LowerToLoops,
        "collapse-loops": CollapseLoops,
        "fuse-loops": FuseLoops,
        "buffer-lifetimes": BufferLifetimes,
    }
    try:
        return table[name]()
    except KeyError:
        raise ValueError(f"unknown pass {name!r}; passes are {', '.join(table)}") from None
