"""Symbolic dims in the reference interpreter: the binding of dim names to sizes for one function
evaluation, and matching an actual shape against a declared one (binding plain symbols, and the one
unbound symbol of a linear composite such as ``c*N + k``). Also the interpreter's error type.
"""
from __future__ import annotations

import math
from typing import Any, MutableMapping, Sequence

import numpy as np

from ...ir.types import Dim, SymDim, dim_str


class InterpreterError(RuntimeError):
    """The reference interpreter cannot evaluate an op, or an op produced an ill-typed result."""


class _Dims:
    """The binding of symbolic dim names to sizes, shared by a whole function evaluation (which
    also collects its pending ``graph.assign`` writes: argument index, new value)."""

    def __init__(self, env: MutableMapping[str, int] | None = None):
        self.env: MutableMapping[str, int] = env if env is not None else {}
        self.assigns: list[tuple[int, np.ndarray]] = []

    def try_eval(self, d: Dim) -> int | None:
        if isinstance(d, int):
            return d
        if d.symbols <= self.env.keys():
            return d.evaluate(self.env)
        return None

    def eval(self, d: Dim, opname: str) -> int:
        v = self.try_eval(d)
        if v is None:
            missing = ", ".join(sorted(d.symbols - self.env.keys()))  # type: ignore[union-attr]
            raise InterpreterError(f"'{opname}': symbolic dim {dim_str(d)} has no size bound ({missing} unknown)")
        return v


def _shape_text(shape: Sequence[Any]) -> str:
    return "[" + ", ".join(dim_str(d) if isinstance(d, (int, SymDim)) else str(d) for d in shape) + "]"


def _bind_shape(declared: Sequence[Dim], actual: tuple[int, ...], dims: _Dims) -> bool:
    """Match ``actual`` against ``declared``, binding unbound plain symbols; False on a mismatch.

    Composite dims (``N*784``) are checked once their symbols are bound; a composite whose only
    unbound symbol appears linearly (``c*N + k``) binds that symbol when the division is exact.
    """
    if len(declared) != len(actual):
        return False
    deferred = []
    for d, n in zip(declared, actual):
        if isinstance(d, int):
            if d != n:
                return False
        elif d.is_symbol:
            bound = dims.env.setdefault(d.name, n)
            if bound != n:
                return False
        else:
            deferred.append((d, n))
    for d, n in deferred:
        v = dims.try_eval(d)
        if (v is None and _solve_linear(d, n, dims) is False) or (v is not None and v != n):
            return False
    return True


def _solve_linear(d: SymDim, n: int, dims: _Dims) -> bool | None:
    """Bind the one unbound symbol of ``d`` (linear in it) so that ``d == n``: True when bound,
    False when no size fits, None when ``d`` is not of that form (it is then left unchecked)."""
    unbound = d.symbols - dims.env.keys()
    if len(unbound) != 1:
        return None
    (s,) = unbound
    coef, rest = 0, 0
    for mono, c in d.terms:
        if mono.count(s) > 1:
            return None
        if s in mono:
            others = [m for m in mono if m != s]
            coef += c * math.prod(dims.env[m] for m in others)
        else:
            rest += c * math.prod(dims.env[m] for m in mono)
    if coef == 0:
        return None
    if (n - rest) % coef or (n - rest) // coef < 0:
        return False
    dims.env[s] = (n - rest) // coef
    return True
