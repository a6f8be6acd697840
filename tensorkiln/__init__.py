"""tensorkiln: TensorFlow 1.x's programming model on a real compiler (typed SSA IR → LLVM).

This top level holds the public API. ``tk.compile`` compiles DSL (``.tk``) or IR (``.tkir``) text
into native functions; every stage of the IR can be printed with ``mod.ir(entry, stage)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

from . import datasets, errors
from .errors import CompileError

__version__ = "0.1.0"


def _read_source(source: Union[str, Path]) -> tuple[str, str]:
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.endswith((".tk", ".tkir"))):
        p = Path(source)
        return p.read_text(), str(p)
    return str(source), "<string>"


def parse(source: Union[str, Path], file: str | None = None):
    """Parse DSL or IR text (or a path to a ``.tk``/``.tkir`` file) into a graph-stage IR Module."""
    text, name = _read_source(source)
    name = file or name
    if name.endswith(".tkir") or text.lstrip().startswith("func @"):
        from .ir.parser import parse_module

        return parse_module(text, name), name
    from .compiler.frontend.dsl import parse_dsl

    return parse_dsl(text, name), name


def compile(source: Union[str, Path], file: str | None = None):
    """Compile DSL or IR source to a module of native functions: ``mod.entry(*arrays)``."""
    from .runtime.compiled_module import compile_graph_module

    module, name = parse(source, file)
    return compile_graph_module(module, name)
