"""``tk.debugging``: TF 1.x's numerics checks (``check_numerics``, ``add_check_numerics_ops``,
``verify_tensor_all_finite``/``assert_all_finite``).

A ``CheckNumerics`` op passes its input through unchanged (its gradient is the identity) and, when a
Session runs it, reduces the tensor to a NaN/Inf status inside the one native call (the
``graph.check_numerics`` op, decomposed into fused generated loops). The Session reads the statuses
after the call and raises :class:`tensorkiln.errors.InvalidArgumentError` for the first failing check,
in the order the checked tensors were produced, with TF's message ``"{message} : Tensor had NaN
values"`` (or ``Inf``, or ``Inf and NaN``). The call has already finished when the error is raised:
variable updates in the same ``run`` have been applied, as in TF when an update does not depend on
the check. ``tk.aot`` exports only the fetched values, so checks are not part of an exported library.
"""
from __future__ import annotations

from typing import Any

from .framework.constant_op import convert_to_tensor
from .framework.control_flow_ops import group, with_dependencies
from .framework.graph import get_default_graph, name_scope
from .framework.ops import Operation, Tensor, make_op

__all__ = ["add_check_numerics_ops", "assert_all_finite", "check_numerics", "verify_tensor_all_finite"]


def _check_build(ctx: Any, inputs: list) -> list:
    ctx.check_numerics(inputs[0])
    return [inputs[0]]  # the same value: an identity, so autodiff passes gradients straight through


def check_numerics(tensor: Any, message: str, name: str | None = None) -> Tensor:
    """``tensor`` unchanged; running it raises ``InvalidArgumentError`` ("``message`` : Tensor had
    NaN values", or Inf) when the tensor has a NaN or an Inf. Floating-point tensors only."""
    if not isinstance(message, str):
        raise TypeError(f"Expected string for argument 'message' not {message!r}.")
    with name_scope(name, "CheckNumerics", [tensor]) as scope:
        x = convert_to_tensor(tensor, name="tensor")
        if not x.dtype.is_floating:
            raise TypeError(f"Value passed to parameter 'tensor' has DataType {x.dtype.name} not in list of allowed "
                            "values: float16, float32, float64")
        return make_op("CheckNumerics", [x], name=scope, build=_check_build, out=[(x.shape.as_tuple(), x.dtype)],
                       attrs={"T": x.dtype, "message": message}, node_attrs={"message": message}).outputs[0]


def verify_tensor_all_finite(t: Any = None, msg: str | None = None, name: str | None = None, x: Any = None,
                             message: str | None = None) -> Tensor:
    """``t``, computed only after checking it has no NaN or Inf (TF's ``verify_tensor_all_finite``;
    ``x``/``message`` are TF 2's spellings of ``t``/``msg``)."""
    t = x if t is None else t
    msg = message if msg is None else msg
    if t is None or msg is None:
        raise ValueError("verify_tensor_all_finite needs a tensor (t) and a message (msg)")
    with name_scope(name, "VerifyFinite", [t]) as scope:
        t = convert_to_tensor(t, name="t")
        checked = check_numerics(t, message=msg)
        return with_dependencies([checked.op], t, name=scope)


assert_all_finite = verify_tensor_all_finite


def add_check_numerics_ops() -> Operation:
    """A ``check_numerics`` for every floating-point tensor of the default graph, as a group op.

    The message of each is ``"{op name}:{output index}"``. As in TF, each check has a control
    dependency on the previous one (ops in creation order, so a tensor's producer is checked
    before its consumers), and variables and assignments (TF's reference tensors) are not
    checked; their reads are. Running the group needs every placeholder it reaches fed."""
    g = get_default_graph()
    checks: list[Operation] = []
    for op in g.get_operations():
        if op._node.kind in ("variable", "assign") or getattr(op, "_tk_host_fn", None) is not None:
            continue
        for out in op.outputs:
            if out.dtype.is_floating:
                with g.control_dependencies(checks[-1:]):
                    checks.append(check_numerics(out, message=f"{op.name}:{out.value_index}").op)
    return group(*checks[-1:])
