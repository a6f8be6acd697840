"""Compiling one (fetches, feeds) signature of a graph into one native function, cached per graph.

The graph is seen only through duck typing (the runtime sits below the Python graph API): an
element has ``_tk_element`` (``"tensor"``/``"operation"``), a tensor gives its neutral node output
with ``_node_output()``, an op its ``_node``; a graph has ``_compiled``, ``_compile_lock``,
``_epoch`` and ``version``. A :class:`CompiledSignature` holds the lowered IR (who the arguments
are) and the native function; graphs keep them in ``graph._compiled`` keyed by the signature, so
Sessions on one graph share code while owning their own buffers, and a graph that grows keeps the
functions it already compiled (only mutating an existing op, which bumps ``_epoch``, invalidates).
``TENSORKILN_DUMP_DIR`` dumps each compile as ``session.<signature>.<stage>.<ext>``.
"""
from __future__ import annotations

import hashlib
import re
import time
from typing import Any, Sequence

from ..compiler.frontend.graph import LoweredSignature, lower_signature
from ..ir.core import Module
from .compiled_module import CompiledModule, compile_graph_module
from .executable import NativeFunction

_MAX_NAME = 96


def signature_name(fetch_tensors: Sequence[Any], fetch_ops: Sequence[Any], feeds: Sequence[Any]) -> str:
    """A readable identifier for a signature: ``add_0__run_init__feed_a_0`` (hashed when long)."""
    def clean(s: str) -> str:
        return re.sub(r"[^A-Za-z0-9_]", "_", s)

    parts = [clean(t.name) for t in fetch_tensors] + ["run_" + clean(o.name) for o in fetch_ops]
    text = "__".join(parts) or "nothing"
    if feeds:
        text += "__feed_" + "__".join(clean(t.name) for t in feeds)
    if not (text[0].isalpha() or text[0] == "_"):
        text = "s_" + text
    if len(text) > _MAX_NAME:
        digest = hashlib.sha1(text.encode()).hexdigest()[:10]
        text = text[:_MAX_NAME - 12] + "__" + digest
    return text


class CompiledSignature:
    """One compiled signature: its lowered IR and native function (None when it computes nothing)."""

    def __init__(self, name: str, lowered: LoweredSignature, module: CompiledModule | None, graph_version: int,
                 compile_seconds: float):
        self.name = name
        self.lowered = lowered
        self.module = module
        self.fn: NativeFunction | None = module[name] if module is not None else None
        self.graph_version = graph_version
        self.compile_seconds = compile_seconds
        self.variables = lowered.variables
        self.reads_entry = lowered.reads_entry
        self.writes = lowered.writes
        self.hidden = lowered.hidden

    def ir(self, stage: str = "graph") -> str:
        if self.module is None:
            from ..ir.printer import print_function

            if stage in ("graph", "optimized", "loops"):
                return print_function(self.lowered.function)
            return ""
        return self.module.ir(self.name, stage)


def _does_nothing(low: LoweredSignature) -> bool:
    return not low.function.result_types and not any(low.writes) and not low.hidden


def compile_signature(graph: Any, fetch_tensors: Sequence[Any], fetch_ops: Sequence[Any], feeds: Sequence[Any],
                      feed_ranks: Sequence[int | None] | None = None,
                      threads: int | None = None) -> tuple[CompiledSignature, bool]:
    """The compiled function for this signature (from the graph's cache when present).

    ``threads`` caps the threads of the function's parallel loops (None: the runtime's default).
    Returns ``(signature, compiled_now)``. Raises the front end's GraphLoweringError/MissingFeedError
    and the compiler's CompileError."""
    ranks = tuple(feed_ranks) if feed_ranks is not None else (None,) * len(feeds)
    key = (graph._epoch, tuple(fetch_tensors), tuple(fetch_ops), tuple(feeds), ranks, threads)
    hit = graph._compiled.get(key)
    if hit is not None:
        return hit, False
    with graph._compile_lock:
        hit = graph._compiled.get(key)
        if hit is not None:
            return hit, False
        start = time.perf_counter()
        name = signature_name(fetch_tensors, fetch_ops, feeds)
        lowered = lower_signature(name, [t._node_output() for t in fetch_tensors], [o._node for o in fetch_ops],
                                  [t._node_output() for t in feeds], list(ranks))
        module = None if _does_nothing(lowered) else compile_graph_module(Module([lowered.function]), "session",
                                                                          threads=threads)
        sig = CompiledSignature(name, lowered, module, graph.version, time.perf_counter() - start)
        graph._compiled[key] = sig
        graph._compile_count = getattr(graph, "_compile_count", 0) + 1
        return sig, True
