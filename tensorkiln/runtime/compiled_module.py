"""Compiling a graph-stage Module into callable native functions, keeping every stage printable.

:func:`compile_graph_module` runs the pipeline (graph → optimized → loops), emits one LLVM module per
entry (so each entry's ``llvm``/``asm`` text stands alone), JIT-compiles it, and returns a
:class:`CompiledModule` whose attributes are the entries. ``TENSORKILN_DUMP_DIR`` makes every compile
write each stage of each entry to files there.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Optional

from ..backends.llvm.codegen import abi_symbols, emit_module
from ..backends.llvm.jit import JitModule
from ..compiler.passes.base import AfterPassHook
from ..compiler.pipeline import IR_STAGES, STAGES, run_to_stages
from ..ir.core import Module
from ..ir.printer import print_function
from ..ir.types import TensorType
from .executable import ArgSpec, NativeFunction


def _evaluator():
    from ..backends.reference.interpreter import evaluate_op

    return evaluate_op


class CompiledEntry:
    def __init__(self, name: str, stages: dict[str, Module], jit: JitModule, fn: NativeFunction):
        self.name = name
        self.stages = stages
        self.jit = jit
        self.fn = fn

    def ir(self, stage: str) -> str:
        if stage in IR_STAGES:
            return print_function(self.stages[stage][self.name])
        if stage == "llvm":
            return self.jit.llvm_ir
        if stage == "llvm-opt":
            return self.jit.optimized_ir
        if stage == "asm":
            return self.jit.asm
        raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")


class CompiledModule:
    """The result of ``tk.compile``: each DSL/IR function is an attribute taking numpy arrays."""

    def __init__(self, entries: dict[str, CompiledEntry], source_name: str):
        self._entries = entries
        self.source_name = source_name
        for name, e in entries.items():
            if not hasattr(type(self), name):
                setattr(self, name, e.fn)

    @property
    def entries(self) -> list[str]:
        return list(self._entries)

    def __getitem__(self, name: str) -> NativeFunction:
        return self._entries[name].fn

    def ir(self, entry: str, stage: str = "graph") -> str:
        if entry not in self._entries:
            raise KeyError(f"no entry {entry!r}; entries are {', '.join(self._entries)}")
        return self._entries[entry].ir(stage)

    def __repr__(self) -> str:
        return f"<CompiledModule {self.source_name}: {', '.join(self._entries)}>"


def _dump(dump_dir: str, stem: str, entries: dict[str, CompiledEntry]) -> None:
    d = Path(dump_dir)
    d.mkdir(parents=True, exist_ok=True)
    ext = {"graph": "tkir", "optimized": "tkir", "loops": "tkir", "llvm": "ll", "llvm-opt": "ll", "asm": "s"}
    for name, e in entries.items():
        for stage in STAGES:
            (d / f"{stem}.{name}.{stage}.{ext[stage]}").write_text(e.ir(stage))


def compile_graph_module(
    graph: Module,
    source_name: str = "<string>",
    after_pass: AfterPassHook | None = None,
    fold: bool = True,
) -> CompiledModule:
    stages = run_to_stages(graph, evaluate=_evaluator() if fold else None, after_pass=after_pass)
    entries: dict[str, CompiledEntry] = {}
    for f in stages["loops"]:
        gf = stages["graph"][f.name]
        llvm_mod = emit_module(Module([f]))
        jit = JitModule(str(llvm_mod))
        inputs = [ArgSpec(a.name_hint or f"arg{i}", a.type) for i, a in enumerate(gf.args)]
        outputs = [ArgSpec(f"result{i}", t) for i, t in enumerate(gf.result_types)]
        assert all(isinstance(s.type, TensorType) for s in inputs + outputs)
        fn = NativeFunction(f.name, inputs, outputs, abi_symbols(f), jit.address(f.name), jit)
        entries[f.name] = CompiledEntry(f.name, stages, jit, fn)
    dump_dir = os.environ.get("TENSORKILN_DUMP_DIR")
    if dump_dir:
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(source_name).stem or "module")
        _dump(dump_dir, stem, entries)
    return CompiledModule(entries, source_name)
