"""TF-1's optimizers: gradient descent, momentum (incl. Nesterov), Adam, Adagrad and RMSProp.

Each update is TF's kernel formula (``ApplyGradientDescent``, ``ApplyMomentum``, ``ApplyAdam``,
``ApplyAdagrad``, ``ApplyRMSProp``/``ApplyCenteredRMSProp``) emitted as graph-dialect ops in one
``Apply*`` op per variable (see :meth:`Optimizer._apply_update`). Hyperparameters may be Python
numbers, tensors (e.g. a fed placeholder or a decayed learning rate) or zero-argument callables.
"""
from __future__ import annotations

from typing import Any

from ..framework.constant_op import is_tensor_like
from ..framework.control_flow_ops import group
from ..framework.ops import Operation, Tensor
from ..framework.state_ops import assign
from ..framework.variables import Variable
from .optimizer import Optimizer, const


def _sqrt(b: Any, x: Any) -> Any:
    return b.op("graph.sqrt", x)


class GradientDescentOptimizer(Optimizer):
    """``var -= learning_rate * grad``."""

    def __init__(self, learning_rate: Any, use_locking: bool = False, name: str = "GradientDescent"):
        super().__init__(use_locking, name)
        self._set_hyper("learning_rate", learning_rate)

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        def fn(b, v, slots, h, g):
            return [b.op("graph.sub", v, b.op("graph.mul", h[0], g))]
        return self._apply_update("ApplyGradientDescent", var, [], ["learning_rate"], grad, fn)


class MomentumOptimizer(Optimizer):
    """``accum = accum * momentum + grad; var -= lr * accum`` (Nesterov:
    ``var -= lr * grad + lr * momentum * accum``). Slot ``momentum`` (``var/Momentum``)."""

    def __init__(self, learning_rate: Any, momentum: Any, use_locking: bool = False, name: str = "Momentum",
                 use_nesterov: bool = False):
        super().__init__(use_locking, name)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("momentum", momentum)
        self._use_nesterov = bool(use_nesterov)

    def _create_slots(self, var_list: list[Variable]) -> None:
        for v in var_list:
            self._zeros_slot(v, "momentum")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        nesterov = self._use_nesterov

        def fn(b, v, slots, h, g):
            lr, mom = h
            accum = b.op("graph.add", b.op("graph.mul", slots[0], mom), g)
            if nesterov:
                step = b.op("graph.add", b.op("graph.mul", g, lr), b.op("graph.mul", b.op("graph.mul", accum, mom), lr))
            else:
                step = b.op("graph.mul", accum, lr)
            return [b.op("graph.sub", v, step), accum]
        return self._apply_update("ApplyMomentum", var, [self.get_slot(var, "momentum")], ["learning_rate", "momentum"],
                                  grad, fn)


class AdamOptimizer(Optimizer):
    """Adam (Kingma & Ba) in TF-1's form: ``lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``,
    ``m += (g - m)(1 - beta1)``, ``v += (g^2 - v)(1 - beta2)``, ``var -= lr_t m / (sqrt(v) + eps)``.

    ``beta1^t``/``beta2^t`` are the non-slot variables ``beta1_power``/``beta2_power`` (initialized
    to beta1/beta2, multiplied after each step); slots ``m`` (``var/Adam``) and ``v`` (``var/Adam_1``)."""

    def __init__(self, learning_rate: Any = 0.001, beta1: Any = 0.9, beta2: Any = 0.999, epsilon: Any = 1e-8,
                 use_locking: bool = False, name: str = "Adam"):
        super().__init__(use_locking, name)
        self._beta1, self._beta2 = beta1, beta2
        for key, value in (("learning_rate", learning_rate), ("beta1", beta1), ("beta2", beta2), ("epsilon", epsilon)):
            self._set_hyper(key, value)

    def _get_beta_accumulators(self, graph: Any = None) -> tuple[Variable | None, Variable | None]:
        return self._get_non_slot_variable("beta1_power", graph), self._get_non_slot_variable("beta2_power", graph)

    def _create_slots(self, var_list: list[Variable]) -> None:
        for key, init in (("beta1_power", self._beta1), ("beta2_power", self._beta2)):
            self._non_slot_variable(init() if callable(init) and not is_tensor_like(init) else init, key,
                                    var_list[0].graph)
        for v in var_list:
            self._zeros_slot(v, "m")
            self._zeros_slot(v, "v")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        b1p, b2p = self._get_beta_accumulators(var.graph)

        def fn(b, v, slots, h, g):
            lr, beta1, beta2, eps, p1, p2 = h
            one = const(b, 1.0, v)
            alpha = b.op("graph.div", b.op("graph.mul", lr, _sqrt(b, b.op("graph.sub", one, p2))),
                         b.op("graph.sub", one, p1))
            m = b.op("graph.add", slots[0], b.op("graph.mul", b.op("graph.sub", g, slots[0]), b.op("graph.sub", one, beta1)))
            vv = b.op("graph.add", slots[1], b.op("graph.mul", b.op("graph.sub", b.op("graph.mul", g, g), slots[1]),
                                                   b.op("graph.sub", one, beta2)))
            step = b.op("graph.div", b.op("graph.mul", m, alpha), b.op("graph.add", _sqrt(b, vv), eps))
            return [b.op("graph.sub", v, step), m, vv]
        return self._apply_update("ApplyAdam", var, [self.get_slot(var, "m"), self.get_slot(var, "v")],
                                  ["learning_rate", "beta1", "beta2", "epsilon"], grad, fn,
                                  extra=[b1p.value(), b2p.value()])

    def _finish(self, update_ops: list[Operation], scope: str) -> Operation:
        g = update_ops[0].graph
        b1p, b2p = self._get_beta_accumulators(g)
        with g.control_dependencies(update_ops):
            new1 = assign(b1p, b1p.value() * self._hyper_for("beta1", b1p.dtype))
            new2 = assign(b2p, b2p.value() * self._hyper_for("beta2", b2p.dtype))
        return group(*update_ops, new1, new2, name=scope)


class AdagradOptimizer(Optimizer):
    """``accum += grad^2; var -= lr * grad / sqrt(accum)``; slot ``accumulator`` (``var/Adagrad``)."""

    def __init__(self, learning_rate: Any, initial_accumulator_value: float = 0.1, use_locking: bool = False,
                 name: str = "Adagrad"):
        if not is_positive(initial_accumulator_value):
            raise ValueError(f"initial_accumulator_value must be positive: {initial_accumulator_value}")
        super().__init__(use_locking, name)
        self._set_hyper("learning_rate", learning_rate)
        self._initial = float(initial_accumulator_value)

    def _create_slots(self, var_list: list[Variable]) -> None:
        for v in var_list:
            self._fill_slot(v, "accumulator", self._initial)

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        def fn(b, v, slots, h, g):
            accum = b.op("graph.add", slots[0], b.op("graph.mul", g, g))
            step = b.op("graph.div", b.op("graph.mul", h[0], g), _sqrt(b, accum))
            return [b.op("graph.sub", v, step), accum]
        return self._apply_update("ApplyAdagrad", var, [self.get_slot(var, "accumulator")], ["learning_rate"], grad, fn)


class RMSPropOptimizer(Optimizer):
    """``ms += (grad^2 - ms)(1 - decay)``; ``mom = momentum * mom + lr * grad / sqrt(ms + eps)``;
    ``var -= mom``. Centered: ``mg += (grad - mg)(1 - decay)`` and ``sqrt(ms - mg^2 + eps)``.

    Slots as TF-1 creates them: ``rms`` (initialized to ones, ``var/RMSProp``), ``mg`` when centered,
    then ``momentum`` (``var/RMSProp_1``, or ``_2`` when centered)."""

    def __init__(self, learning_rate: Any, decay: Any = 0.9, momentum: Any = 0.0, epsilon: Any = 1e-10,
                 use_locking: bool = False, centered: bool = False, name: str = "RMSProp"):
        super().__init__(use_locking, name)
        for key, value in (("learning_rate", learning_rate), ("decay", decay), ("momentum", momentum),
                           ("epsilon", epsilon)):
            self._set_hyper(key, value)
        self._centered = bool(centered)

    def _create_slots(self, var_list: list[Variable]) -> None:
        for v in var_list:
            self._fill_slot(v, "rms", 1.0)
            if self._centered:
                self._zeros_slot(v, "mg")
            self._zeros_slot(v, "momentum")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        centered = self._centered

        def fn(b, v, slots, h, g):
            lr, rho, momentum, eps = h
            one_minus = b.op("graph.sub", const(b, 1.0, v), rho)
            ms = b.op("graph.add", slots[0], b.op("graph.mul", b.op("graph.sub", b.op("graph.mul", g, g), slots[0]), one_minus))
            if centered:
                mg = b.op("graph.add", slots[1], b.op("graph.mul", b.op("graph.sub", g, slots[1]), one_minus))
                denom = b.op("graph.add", b.op("graph.sub", ms, b.op("graph.mul", mg, mg)), eps)
            else:
                denom = b.op("graph.add", ms, eps)
            mom = b.op("graph.add", b.op("graph.mul", slots[-1], momentum),
                       b.op("graph.div", b.op("graph.mul", g, lr), _sqrt(b, denom)))
            return [b.op("graph.sub", v, mom), ms] + ([mg] if centered else []) + [mom]
        slots = [self.get_slot(var, "rms")] + ([self.get_slot(var, "mg")] if centered else []) + [self.get_slot(var, "momentum")]
        return self._apply_update("ApplyCenteredRMSProp" if centered else "ApplyRMSProp", var, slots,
                                  ["learning_rate", "decay", "momentum", "epsilon"], grad, fn)


def is_positive(x: Any) -> bool:
    try:
        return float(x) > 0.0
    except (TypeError, ValueError):
        return True  # a tensor: checked by the user's data, as TF does at run time
