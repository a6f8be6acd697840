"""The global step and learning-rate schedules of ``tk.train``.

``get_or_create_global_step`` makes TF's ``global_step``: an int64 scalar Variable named
``global_step``, not trainable, in ``GLOBAL_VARIABLES`` and ``GLOBAL_STEP``. Passing it to
``Optimizer.minimize`` increments it inside the training step's native call. The decay schedules
are ordinary graph ops of the step (``exponential_decay`` … ``piecewise_constant``), computed from
the step's value on entry, as in TF.
"""
from __future__ import annotations

from typing import Any, Sequence

from ..framework import dtypes as _dt
from ..framework.array_ops import identity, where
from ..framework.constant_op import convert_to_tensor
from ..framework.graph import Graph, GraphKeys, get_default_graph, name_scope
from ..framework.math_ops import (
    add, cast, ceil, cos, divide, exp, floor, greater, maximum, minimum, multiply, pow, subtract,
)
from ..framework.ops import Tensor
from ..framework.variables import Variable


def get_global_step(graph: Graph | None = None) -> Any:
    """The global step Variable (collection ``GLOBAL_STEP``, else the tensor ``global_step:0``), or None."""
    g = graph or get_default_graph()
    found = g.get_collection(GraphKeys.GLOBAL_STEP)
    if len(found) > 1:
        raise ValueError("Multiple tensors in global_step collection.")
    if found:
        return found[0]
    try:
        return g.get_tensor_by_name("global_step:0")
    except KeyError:
        return None


def create_global_step(graph: Graph | None = None) -> Variable:
    """Create the global step; ``ValueError`` if the graph already has one."""
    g = graph or get_default_graph()
    if get_global_step(g) is not None:
        raise ValueError('"global_step" already exists.')
    with g.as_default(), g.name_scope(None), g.control_dependencies(None):
        return Variable(0, dtype=_dt.int64, trainable=False, name="global_step",
                        collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP])


def get_or_create_global_step(graph: Graph | None = None) -> Variable:
    g = graph or get_default_graph()
    step = get_global_step(g)
    return step if step is not None else create_global_step(g)


def assert_global_step(global_step_tensor: Any) -> None:
    """``TypeError`` unless the argument is an integer scalar Variable or Tensor."""
    ok_kind = isinstance(global_step_tensor, Variable) or getattr(type(global_step_tensor), "_tk_element", None) == "tensor"
    if not ok_kind:
        raise TypeError(f"Existing \"global_step\" must be a Variable or Tensor: {global_step_tensor}.")
    if not global_step_tensor.dtype.is_integer:
        raise TypeError(f"Existing \"global_step\" does not have integer type: {global_step_tensor.dtype!r}")
    if global_step_tensor.shape.ndims not in (None, 0):
        raise TypeError(f"Existing \"global_step\" is not scalar: {global_step_tensor.shape}")


def global_step(sess: Any, global_step_tensor: Any) -> int:
    """The value of the global step as a Python int."""
    return int(sess.run(global_step_tensor))


# --------------------------------------------------------------------------- learning-rate decay


def _step(global_step: Any, dtype: _dt.DType, fn: str) -> Tensor:
    if global_step is None:
        raise ValueError(f"global_step is required for {fn}.")
    return cast(global_step, dtype)


def exponential_decay(learning_rate: Any, global_step: Any, decay_steps: Any, decay_rate: Any, staircase: bool = False,
                      name: str | None = None) -> Tensor:
    """``learning_rate * decay_rate ^ (global_step / decay_steps)`` (integer division when ``staircase``)."""
    with name_scope(name, "ExponentialDecay", [learning_rate, global_step, decay_steps, decay_rate]) as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = lr.dtype
        p = divide(_step(global_step, dt, "exponential_decay"), cast(decay_steps, dt))
        if staircase:
            p = floor(p)
        return multiply(lr, pow(cast(decay_rate, dt), p), name=scope)


def inverse_time_decay(learning_rate: Any, global_step: Any, decay_steps: Any, decay_rate: Any, staircase: bool = False,
                       name: str | None = None) -> Tensor:
    """``learning_rate / (1 + decay_rate * global_step / decay_steps)``."""
    with name_scope(name, "InverseTimeDecay", [learning_rate, global_step, decay_rate]) as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = lr.dtype
        p = divide(_step(global_step, dt, "inverse_time_decay"), cast(decay_steps, dt))
        if staircase:
            p = floor(p)
        return divide(lr, add(1.0, multiply(cast(decay_rate, dt), p)), name=scope)


def natural_exp_decay(learning_rate: Any, global_step: Any, decay_steps: Any, decay_rate: Any, staircase: bool = False,
                      name: str | None = None) -> Tensor:
    """``learning_rate * exp(-decay_rate * global_step / decay_steps)``."""
    with name_scope(name, "NaturalExpDecay", [learning_rate, global_step, decay_rate]) as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = lr.dtype
        p = divide(_step(global_step, dt, "natural_exp_decay"), cast(decay_steps, dt))
        if staircase:
            p = floor(p)
        return multiply(lr, exp(multiply(-1.0, multiply(cast(decay_rate, dt), p))), name=scope)


def polynomial_decay(learning_rate: Any, global_step: Any, decay_steps: Any, end_learning_rate: Any = 0.0001,
                     power: Any = 1.0, cycle: bool = False, name: str | None = None) -> Tensor:
    """``(lr - end) * (1 - min(step, decay_steps) / decay_steps) ^ power + end``. With ``cycle``,
    ``decay_steps`` is first stretched to the next multiple of itself at or past the step,
    ``decay_steps * ceil(step / decay_steps)`` (1 × at step 0), so the decay restarts from a lower
    rate after every such span, as in TF."""
    with name_scope(name, "PolynomialDecay", [learning_rate, global_step, decay_steps]) as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = lr.dtype
        steps = cast(decay_steps, dt)
        step = _step(global_step, dt, "polynomial_decay")
        if cycle:
            steps = multiply(steps, maximum(ceil(divide(step, steps)), 1.0))
        else:
            step = minimum(step, steps)
        end = cast(end_learning_rate, dt)
        frac = pow(subtract(1.0, divide(step, steps)), cast(power, dt))
        return add(multiply(subtract(lr, end), frac), end, name=scope)


def cosine_decay(learning_rate: Any, global_step: Any, decay_steps: Any, alpha: Any = 0.0,
                 name: str | None = None) -> Tensor:
    """``lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps)) + alpha)``."""
    import math

    with name_scope(name, "CosineDecay", [learning_rate, global_step]) as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = lr.dtype
        steps = cast(decay_steps, dt)
        frac = divide(minimum(_step(global_step, dt, "cosine_decay"), steps), steps)
        cosine = multiply(0.5, add(1.0, cos(multiply(math.pi, frac))))
        a = cast(alpha, dt)
        return multiply(lr, add(multiply(subtract(1.0, a), cosine), a), name=scope)


def piecewise_constant(x: Any, boundaries: Sequence[Any], values: Sequence[Any], name: str | None = None) -> Tensor:
    """``values[0]`` while ``x <= boundaries[0]``, ``values[i]`` while ``x`` in ``(b[i-1], b[i]]``, then ``values[-1]``."""
    if len(values) != len(boundaries) + 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values")
    with name_scope(name, "PiecewiseConstant", [x]) as scope:
        xt = convert_to_tensor(x)
        vals = [convert_to_tensor(v) for v in values]
        out = vals[0]
        for bound, v in zip(boundaries, vals[1:]):
            out = where(greater(xt, convert_to_tensor(bound, dtype=xt.dtype)), v, out)
        return identity(out, name=scope)
