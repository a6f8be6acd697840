"""The graph node behind ``tk.gradients``: one ``Gradients`` op whose outputs are d(sum ys)/d xs.

The op is a ``gradients`` node of the neutral graph (inputs: ys, xs, then the given grad_ys);
when a signature is compiled, the front end lowers ys and xs and calls the IR transform
:func:`tensorkiln.compiler.autodiff.gradients`, so the backward pass is optimized and fused with
the forward one in the same native function. As in TF, an x that no y depends on gets ``None``.
A Variable in ``xs`` stands for its value.
"""
from __future__ import annotations

from typing import Any, Sequence

from .constant_op import convert_to_tensor
from .graph import name_scope
from .ops import Tensor, make_op


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _x_tensor(x: Any) -> Tensor:
    if hasattr(x, "_as_graph_element") and getattr(type(x), "_tk_element", None) is None:
        return x._as_graph_element()
    return convert_to_tensor(x)


def _depends_on(ys: Sequence[Tensor], xs: Sequence[Tensor]) -> list[bool]:
    """Whether some y depends on each x through data edges (a Variable's reads count as the x)."""
    targets = {}
    for k, x in enumerate(xs):
        targets.setdefault((id(x.op), x.value_index), []).append(k)
    found = [False] * len(xs)
    seen: set[int] = set()
    stack = [y.op for y in ys]
    for y in ys:
        for k in targets.get((id(y.op), y.value_index), []):
            found[k] = True
    while stack:
        op = stack.pop()
        if id(op) in seen:
            continue
        seen.add(id(op))
        for t in op.inputs:
            for k in targets.get((id(t.op), t.value_index), []):
                found[k] = True
            stack.append(t.op)
    return found


def gradients(ys: Any, xs: Any, grad_ys: Any = None, name: str = "gradients", **_: Any) -> list[Tensor | None]:
    """Symbolic d(sum ys)/d x for each x in ``xs`` (``grad_ys`` weights each y; default ones)."""
    ys_t = [convert_to_tensor(y) for y in _as_list(ys)]
    xs_t = [_x_tensor(x) for x in _as_list(xs)]
    gys = _as_list(grad_ys) if grad_ys is not None else [None] * len(ys_t)
    if len(gys) != len(ys_t):
        raise ValueError(f"Passed {len(gys)} grad_ys for {len(ys_t)} ys")
    for y in ys_t:
        if not y.dtype.is_floating:
            raise TypeError(f"gradients of {y} are undefined: ys must be floating point, got {y.dtype.name}")
    connected = _depends_on(ys_t, xs_t)
    live = [x for x, ok in zip(xs_t, connected) if ok]  # unconnected xs are not inputs: no feed needed
    if not live:
        return [None] * len(xs_t)
    with name_scope(name, "gradients", ys_t + live) as scope:
        given = [convert_to_tensor(g, dtype=y.dtype) for g, y in zip(gys, ys_t) if g is not None]
        mask = [g is not None for g in gys]
        op = make_op("Gradients", ys_t + live + given, name=scope, kind="gradients",
                     out=[(x.shape.as_tuple(), x.dtype) for x in live],
                     node_attrs={"num_ys": len(ys_t), "num_xs": len(live), "grad_mask": mask})
    outs = iter(op.outputs)
    return [next(outs) if ok else None for ok in connected]
