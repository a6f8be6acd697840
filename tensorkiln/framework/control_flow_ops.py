"""Control-flow helpers that order work without computing: ``no_op``, ``group``, ``tuple``,
``with_dependencies``."""
from __future__ import annotations

import builtins
from typing import Any, Sequence

from .array_ops import identity
from .graph import get_default_graph, name_scope
from .ops import Operation, Tensor, graph_of, make_op


def no_op(name: str | None = None) -> Operation:
    """An op that does nothing; running it runs its control inputs."""
    return make_op("NoOp", [], name=name or "NoOp", build=None, out=[], graph=get_default_graph())


def _as_op(x: Any) -> Operation:
    if hasattr(x, "_as_graph_element") and getattr(type(x), "_tk_element", None) is None:
        x = x._as_graph_element()
    kind = getattr(type(x), "_tk_element", None)
    if kind == "tensor":
        return x.op
    if kind == "operation":
        return x
    raise TypeError(f"Expected a Tensor or an Operation, got {x!r}")


def _flat(inputs: Sequence[Any]) -> list[Any]:
    out = []
    for x in inputs:
        if isinstance(x, (list, builtins.tuple)):
            out.extend(_flat(x))
        elif x is not None:
            out.append(x)
    return out


def group(*inputs: Any, **kwargs: Any) -> Operation:
    """One op that runs after all ``inputs`` (tensors or ops); ``name=`` names it."""
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"Unknown keyword arguments: {', '.join(kwargs)}")
    flat = _flat(inputs)
    ops = [_as_op(x) for x in flat]
    g = graph_of(ops)
    with g.as_default():
        with name_scope(name, "group_deps", ops) as scope:
            if not ops:
                return no_op(name=scope)
            with g.control_dependencies(ops):
                return no_op(name=scope)


def tuple(tensors: Sequence[Any], name: str | None = None, control_inputs: Sequence[Any] | None = None) -> list[Any]:  # noqa: A001
    """The tensors back (as identities) once all of them (and ``control_inputs``) are computed."""
    with name_scope(name, "tuple", list(tensors)) as scope:
        deps = [t for t in tensors if t is not None] + list(control_inputs or [])
        gate = group(*deps, name="control_dependency") if deps else None
        out = []
        for t in tensors:
            if t is None:
                out.append(None)
                continue
            with get_default_graph().control_dependencies([gate]):
                out.append(identity(t) if isinstance(t, Tensor) or hasattr(t, "_as_tensor") else gate)
        del scope
        return out


def with_dependencies(dependencies: Sequence[Any], output_tensor: Any, name: str | None = None) -> Tensor:
    """``output_tensor``, computed only after ``dependencies``."""
    with name_scope(name, "control_dependency", list(dependencies) + [output_tensor]) as scope:
        with get_default_graph().control_dependencies(dependencies):
            return identity(output_tensor, name=scope)
