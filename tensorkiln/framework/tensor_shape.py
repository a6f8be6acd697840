"""TensorFlow 1.x's static shapes: :class:`Dimension` and :class:`TensorShape`.

A TensorShape is either of unknown rank (``TensorShape(None)``, ``ndims is None``) or a list of
Dimensions, each known (an int) or unknown (``None``, printed ``?``). ``as_list()`` gives ints and
Nones; ``merge_with`` and the ``assert_*`` methods raise ``ValueError`` naming both shapes, as TF.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator


class Dimension:
    """One dim: ``value`` is an int or None (unknown). Comparisons with an unknown dim give None."""

    __slots__ = ("_value",)

    def __init__(self, value: Any):
        if isinstance(value, Dimension):
            value = value.value
        if value is None:
            self._value = None
            return
        try:
            v = int(value.__index__())
        except AttributeError:
            raise TypeError(f"Dimension value must be integer or None, got {value!r}") from None
        if v < 0:
            raise ValueError(f"Dimension {v} must be >= 0")
        self._value = v

    @property
    def value(self) -> int | None:
        return self._value

    def __repr__(self) -> str:
        return f"Dimension({self._value!r})"

    def __str__(self) -> str:
        return "?" if self._value is None else str(self._value)

    def __int__(self) -> int:
        if self._value is None:
            raise TypeError("unknown Dimension has no integer value")
        return self._value

    __index__ = __int__

    def __hash__(self) -> int:
        return hash(self._value)

    def __eq__(self, other: Any):  # type: ignore[override]
        try:
            other = as_dimension(other)
        except (TypeError, ValueError):
            return NotImplemented
        if self._value is None or other.value is None:
            return None
        return self._value == other.value

    def __ne__(self, other: Any):  # type: ignore[override]
        eq = self.__eq__(other)
        return eq if eq is None or eq is NotImplemented else not eq

    def _binop(self, other: Any, fn) -> "Dimension":
        other = as_dimension(other)
        if self._value is None or other.value is None:
            return Dimension(None)
        return Dimension(fn(self._value, other.value))

    def __add__(self, o): return self._binop(o, lambda a, b: a + b)
    __radd__ = __add__
    def __sub__(self, o): return self._binop(o, lambda a, b: a - b)
    def __rsub__(self, o): return as_dimension(o) - self
    def __mul__(self, o): return self._binop(o, lambda a, b: a * b)
    __rmul__ = __mul__
    def __floordiv__(self, o): return self._binop(o, lambda a, b: a // b)
    def __mod__(self, o): return self._binop(o, lambda a, b: a % b)

    def is_compatible_with(self, other: Any) -> bool:
        other = as_dimension(other)
        return self._value is None or other.value is None or self._value == other.value

    def assert_is_compatible_with(self, other: Any) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"Dimensions {self} and {as_dimension(other)} are not compatible")

    def merge_with(self, other: Any) -> "Dimension":
        other = as_dimension(other)
        self.assert_is_compatible_with(other)
        return Dimension(self._value if self._value is not None else other.value)


def as_dimension(value: Any) -> Dimension:
    return value if isinstance(value, Dimension) else Dimension(value)


def dimension_value(d: Any) -> int | None:
    return d.value if isinstance(d, Dimension) else d


class TensorShape:
    """A static shape: ``TensorShape([None, 3])`` prints ``(?, 3)``; ``TensorShape(None)`` is unknown."""

    __slots__ = ("_dims",)

    def __init__(self, dims: Any):
        if dims is None:
            self._dims: list[Dimension] | None = None
        elif isinstance(dims, TensorShape):
            self._dims = None if dims._dims is None else list(dims._dims)
        elif isinstance(dims, (int, Dimension)) or hasattr(dims, "__index__"):
            self._dims = [as_dimension(dims)]
        else:
            try:
                self._dims = [as_dimension(d) for d in dims]
            except TypeError:
                raise TypeError(f"cannot make a TensorShape from {dims!r}") from None

    # -- views -------------------------------------------------------------
    @property
    def dims(self) -> list[Dimension] | None:
        return None if self._dims is None else list(self._dims)

    @property
    def ndims(self) -> int | None:
        return None if self._dims is None else len(self._dims)

    rank = ndims

    def as_list(self) -> list[int | None]:
        if self._dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return [d.value for d in self._dims]

    def as_tuple(self) -> tuple[int | None, ...] | None:
        """The dims as a tuple of ints/None, or None for an unknown rank (not a TF method)."""
        return None if self._dims is None else tuple(d.value for d in self._dims)

    def is_fully_defined(self) -> bool:
        return self._dims is not None and all(d.value is not None for d in self._dims)

    def num_elements(self) -> int | None:
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self._dims:  # type: ignore[union-attr]
            n *= d.value  # type: ignore[operator]
        return n

    def __len__(self) -> int:
        if self._dims is None:
            raise ValueError("Cannot take the length of shape with unknown rank.")
        return len(self._dims)

    def __bool__(self) -> bool:
        return self._dims is not None

    def __iter__(self) -> Iterator[Dimension]:
        if self._dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return iter(self._dims)

    def __getitem__(self, key: Any):
        if self._dims is not None:
            if isinstance(key, slice):
                return TensorShape(self._dims[key])
            return self._dims[key]
        if isinstance(key, slice):
            start, stop = key.start, key.stop
            if (start is None or start >= 0) and stop is not None and stop >= 0 and key.step in (None, 1):
                return unknown_shape(ndims=max(stop - (start or 0), 0))
            return unknown_shape()
        return Dimension(None)

    # -- compatibility -------------------------------------------------------
    def is_compatible_with(self, other: Any) -> bool:
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return True
        if len(self._dims) != len(other._dims):
            return False
        return all(a.is_compatible_with(b) for a, b in zip(self._dims, other._dims))

    def assert_is_compatible_with(self, other: Any) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {as_shape(other)} are incompatible")

    def merge_with(self, other: Any) -> "TensorShape":
        other = as_shape(other)
        if self._dims is None:
            return other
        if other._dims is None:
            return self
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {other} are not compatible")
        return TensorShape([a.merge_with(b) for a, b in zip(self._dims, other._dims)])

    def most_specific_compatible_shape(self, other: Any) -> "TensorShape":
        other = as_shape(other)
        if self._dims is None or other._dims is None or len(self._dims) != len(other._dims):
            return unknown_shape()
        return TensorShape([a.value if a.value == b.value else None for a, b in zip(self._dims, other._dims)])

    def concatenate(self, other: Any) -> "TensorShape":
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return unknown_shape()
        return TensorShape(self._dims + other._dims)

    def with_rank(self, rank: int) -> "TensorShape":
        try:
            return self.merge_with(unknown_shape(ndims=rank))
        except ValueError:
            raise ValueError(f"Shape {self} must have rank {rank}") from None

    def with_rank_at_least(self, rank: int) -> "TensorShape":
        if self._dims is not None and len(self._dims) < rank:
            raise ValueError(f"Shape {self} must have rank at least {rank}")
        return self

    def assert_has_rank(self, rank: int) -> None:
        if self._dims is not None and len(self._dims) != rank:
            raise ValueError(f"Shape {self} must have rank {rank}")

    def assert_same_rank(self, other: Any) -> None:
        other = as_shape(other)
        if self._dims is not None and other._dims is not None and len(self._dims) != len(other._dims):
            raise ValueError(f"Shapes {self} and {other} must have the same rank")

    def assert_is_fully_defined(self) -> None:
        if not self.is_fully_defined():
            raise ValueError(f"Shape {self} is not fully defined")

    # -- equality and text -----------------------------------------------------
    def __eq__(self, other: Any) -> bool:  # type: ignore[override]
        try:
            other = as_shape(other)
        except TypeError:
            return NotImplemented
        return self.as_tuple() == other.as_tuple()

    def __ne__(self, other: Any) -> bool:  # type: ignore[override]
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash(self.as_tuple())

    def __str__(self) -> str:
        if self._dims is None:
            return "<unknown>"
        if len(self._dims) == 1:
            return f"({self._dims[0]},)"
        return "(" + ", ".join(str(d) for d in self._dims) + ")"

    def __repr__(self) -> str:
        if self._dims is None:
            return "TensorShape(None)"
        return f"TensorShape({[d for d in self._dims]!r})"

    def tf_list_str(self) -> str:
        """TF's op-error spelling: ``[?,3]`` (``?`` for an unknown rank)."""
        if self._dims is None:
            return "?"
        return "[" + ",".join(str(d) for d in self._dims) + "]"


def as_shape(shape: Any) -> TensorShape:
    return shape if isinstance(shape, TensorShape) else TensorShape(shape)


def unknown_shape(ndims: int | None = None, rank: int | None = None) -> TensorShape:
    n = ndims if ndims is not None else rank
    return TensorShape(None) if n is None else TensorShape([None] * n)


def scalar() -> TensorShape:
    return TensorShape([])


def vector(length: int | None) -> TensorShape:
    return TensorShape([length])


def matrix(rows: int | None, cols: int | None) -> TensorShape:
    return TensorShape([rows, cols])


def from_dims(dims: Iterable[int | None] | None) -> TensorShape:
    return TensorShape(None if dims is None else list(dims))
