"""IR types: dtypes, symbolic dimensions, tensor, memref (buffer) and index types.

This module owns every type that can appear on an IR value and its text spelling. A dimension is
either a Python ``int`` or a :class:`SymDim`: a polynomial with integer coefficients over named
symbols (``N``, ``B``, ``N*784``, ``N+M``), so that reshapes and concats of symbolic shapes stay exact
and the runtime can size every buffer from the symbols bound at call time.

Native code indexes and sizes buffers with 64-bit integers, so a tensor or memref type whose static
dims (the nonzero ones, as numpy counts) times its element size exceed ``INT64_MAX`` bytes is refused
when the type is made (:class:`DimOverflowError`); symbolic dims are checked when they are bound.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable, Mapping, Union

import numpy as np

from .diagnostics import CompileError

INT64_MAX = (1 << 63) - 1


class DimOverflowError(CompileError, ValueError):
    """A shape whose byte size does not fit in int64 (a CompileError for the front ends, a
    ValueError for code that builds types from user numbers)."""


def check_static_size(shape: Iterable["Dim"], itemsize: int, what: str) -> None:
    """Raise DimOverflowError when the static dims of ``shape`` (zeros skipped) times ``itemsize``
    bytes do not fit in int64; symbolic dims count as 1 here."""
    n = 1
    for d in shape:
        if type(d) is int and d > 1:
            n *= d
    if n * max(itemsize, 1) > INT64_MAX:
        raise DimOverflowError(f"{what} is too large: {n} elements of {max(itemsize, 1)} byte(s) overflow int64 "
                               "sizes (at most 2**63 - 1 bytes)")


@dataclass(frozen=True)
class DType:
    name: str
    np_dtype: np.dtype
    is_float: bool
    bits: int

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"DType({self.name})"

    @property
    def is_int(self) -> bool:
        return not self.is_float and self.name != "i1"

    @property
    def is_bool(self) -> bool:
        return self.name == "i1"


f32 = DType("f32", np.dtype(np.float32), True, 32)
f64 = DType("f64", np.dtype(np.float64), True, 64)
i32 = DType("i32", np.dtype(np.int32), False, 32)
i64 = DType("i64", np.dtype(np.int64), False, 64)
i1 = DType("i1", np.dtype(np.bool_), False, 1)

DTYPES: dict[str, DType] = {d.name: d for d in (f32, f64, i32, i64, i1)}
_BY_NP = {d.np_dtype: d for d in DTYPES.values()}


def dtype_from_numpy(dt: np.dtype | type) -> DType:
    dt = np.dtype(dt)
    try:
        return _BY_NP[dt]
    except KeyError:
        raise TypeError(f"unsupported dtype {dt}") from None


def promote(a: DType, b: DType) -> DType:
    """Result dtype of mixing a and b in arithmetic (numpy-like, but f32 stays f32 with ints)."""
    if a == b:
        return a
    if a.is_float or b.is_float:
        if a.is_float and b.is_float:
            return a if a.bits >= b.bits else b
        return a if a.is_float else b
    if a.is_bool:
        return b
    if b.is_bool:
        return a
    return a if a.bits >= b.bits else b


# --------------------------------------------------------------------------- symbolic dims

Monomial = tuple[str, ...]  # sorted symbol names, with repetition for powers


class SymDim:
    """An integer polynomial over named symbols; hashable and immutable.

    ``SymDim.sym("N") * 784`` is ``784*N``; ``SymDim.sym("N") + 1`` is ``N+1``. A polynomial that is
    a plain constant is always returned as ``int`` by the helpers below, so ``int`` and ``SymDim``
    never overlap.
    """

    __slots__ = ("terms", "_hash")

    def __init__(self, terms: Mapping[Monomial, int]):
        self.terms: tuple[tuple[Monomial, int], ...] = tuple(sorted((m, c) for m, c in terms.items() if c != 0))
        self._hash = hash(self.terms)

    @staticmethod
    def sym(name: str) -> "SymDim":
        return SymDim({(name,): 1})

    @property
    def symbols(self) -> set[str]:
        return {s for m, _ in self.terms for s in m}

    @property
    def is_symbol(self) -> bool:
        return len(self.terms) == 1 and self.terms[0][1] == 1 and len(self.terms[0][0]) == 1

    @property
    def name(self) -> str:
        assert self.is_symbol
        return self.terms[0][0][0]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SymDim) and self.terms == other.terms

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"SymDim({self})"

    def __str__(self) -> str:
        parts = []
        # Higher-degree terms first, constant last: "784*N", "N+1".
        for mono, c in sorted(self.terms, key=lambda t: (-len(t[0]), t[0])):
            factors = list(mono)
            if c == -1 and factors:
                factors[0] = "-" + factors[0]
            elif c != 1 or not factors:
                factors = [str(c)] + factors
            parts.append("*".join(factors))
        return "+".join(parts).replace("+-", "-")

    def __add__(self, other: "Dim") -> "Dim":
        return dim_add(self, other)

    __radd__ = __add__

    def __sub__(self, other: "Dim") -> "Dim":
        return dim_add(self, dim_mul(other, -1))

    def __rsub__(self, other: "Dim") -> "Dim":
        return dim_add(other, dim_mul(self, -1))

    def __mul__(self, other: "Dim") -> "Dim":
        return dim_mul(self, other)

    __rmul__ = __mul__

    def __neg__(self) -> "Dim":
        return dim_mul(self, -1)

    def evaluate(self, env: Mapping[str, int]) -> int:
        total = 0
        for mono, c in self.terms:
            v = c
            for s in mono:
                v *= env[s]
            total += v
        return total

    def substitute(self, env: Mapping[str, "Dim"]) -> "Dim":
        total: Dim = 0
        for mono, c in self.terms:
            v: Dim = c
            for s in mono:
                v = dim_mul(v, env.get(s, SymDim.sym(s)))
            total = dim_add(total, v)
        return total


Dim = Union[int, SymDim]


def _terms(d: Dim) -> dict[Monomial, int]:
    return {(): d} if isinstance(d, int) else dict(d.terms)


def _norm(terms: Mapping[Monomial, int]) -> Dim:
    terms = {m: c for m, c in terms.items() if c != 0}
    if not terms:
        return 0
    if list(terms) == [()]:
        return terms[()]
    return SymDim(terms)


def dim_add(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    t = _terms(a)
    for m, c in _terms(b).items():
        t[m] = t.get(m, 0) + c
    return _norm(t)


def dim_mul(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    t: dict[Monomial, int] = {}
    for (ma, ca), (mb, cb) in itertools.product(_terms(a).items(), _terms(b).items()):
        m = tuple(sorted(ma + mb))
        t[m] = t.get(m, 0) + ca * cb
    return _norm(t)


def dim_div_exact(a: Dim, b: int) -> Dim | None:
    """a / b when every coefficient divides exactly, else None."""
    if b == 0:
        return None
    t = _terms(a)
    if any(c % b for c in t.values()):
        return None
    return _norm({m: c // b for m, c in t.items()})


def dim_product(dims: Iterable[Dim]) -> Dim:
    out: Dim = 1
    for d in dims:
        out = dim_mul(out, d)
    return out


def eval_dim(d: Dim, env: Mapping[str, int]) -> int:
    return d if isinstance(d, int) else d.evaluate(env)


def dim_str(d: Dim, rename: Mapping[str, str] | None = None) -> str:
    """Text of a dim; ``rename`` maps internal anonymous names (``?17``) to printed ones (``?0``)."""
    if isinstance(d, int):
        return str(d)
    if rename:
        d = d.substitute({k: SymDim.sym(v) for k, v in rename.items() if k in d.symbols})  # type: ignore[assignment]
        if isinstance(d, int):
            return str(d)
    if d.is_symbol:
        # 'x' separates dims in type text, so a name containing it is parenthesised.
        return f"({d.name})" if "x" in d.name else d.name
    return f"({d})"


_anon = itertools.count()


def fresh_anonymous_dim() -> SymDim:
    """A new unknown dim, printed as ``?``; each one is distinct."""
    return SymDim.sym(f"?{next(_anon)}")


# --------------------------------------------------------------------------- types


class Type:
    """Base of all IR types."""


@dataclass(frozen=True)
class ScalarType(Type):
    """A scalar at the loop level (``f32``, ``i64``, …)."""

    dtype: DType

    def __str__(self) -> str:
        return self.dtype.name


@dataclass(frozen=True)
class IndexType(Type):
    def __str__(self) -> str:
        return "index"


INDEX = IndexType()


def _shape_str(kind: str, shape: tuple[Dim, ...], dtype: DType, rename: Mapping[str, str] | None = None) -> str:
    return f"{kind}<{''.join(dim_str(d, rename) + 'x' for d in shape)}{dtype.name}>"


def format_type(t: "Type", rename: Mapping[str, str] | None = None) -> str:
    if isinstance(t, (TensorType, MemRefType)):
        return _shape_str("tensor" if isinstance(t, TensorType) else "memref", t.shape, t.dtype, rename)
    return str(t)


def anonymous_symbols(t: "Type") -> list[str]:
    """Internal names of the anonymous dims in t, in order of appearance."""
    out: list[str] = []
    for d in getattr(t, "shape", ()):
        if isinstance(d, SymDim):
            out += sorted(s for s in d.symbols if s.startswith("?") and s not in out)
    return out


@dataclass(frozen=True)
class TensorType(Type):
    """A value-semantics tensor of the graph dialect. ``shape == ()`` is a scalar tensor."""

    shape: tuple[Dim, ...]
    dtype: DType

    def __post_init__(self) -> None:
        check_static_size(self.shape, self.dtype.bits // 8, _shape_str("tensor", self.shape, self.dtype))

    def __str__(self) -> str:
        return _shape_str("tensor", self.shape, self.dtype)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def symbols(self) -> set[str]:
        return {s for d in self.shape if isinstance(d, SymDim) for s in d.symbols}

    @property
    def is_static(self) -> bool:
        return all(isinstance(d, int) for d in self.shape)

    def with_dtype(self, dtype: DType) -> "TensorType":
        return TensorType(self.shape, dtype)

    def num_elements(self) -> Dim:
        return dim_product(self.shape)


@dataclass(frozen=True)
class MemRefType(Type):
    """A contiguous row-major buffer of the loops dialect."""

    shape: tuple[Dim, ...]
    dtype: DType

    def __post_init__(self) -> None:
        check_static_size(self.shape, self.dtype.bits // 8, _shape_str("memref", self.shape, self.dtype))

    def __str__(self) -> str:
        return _shape_str("memref", self.shape, self.dtype)

    @property
    def rank(self) -> int:
        return len(self.shape)

    def num_elements(self) -> Dim:
        return dim_product(self.shape)


def tensor(shape: Iterable[Dim | str], dtype: DType) -> TensorType:
    """Convenience: ``tensor(["N", 784], f32)``; strings become symbols, ``"?"`` a fresh unknown."""
    dims: list[Dim] = []
    for d in shape:
        if isinstance(d, str):
            dims.append(fresh_anonymous_dim() if d == "?" else SymDim.sym(d))
        else:
            dims.append(d)
    return TensorType(tuple(dims), dtype)
