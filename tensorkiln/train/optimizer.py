"""``tk.train.Optimizer``: TF-1's optimizer base (``compute_gradients`` / ``apply_gradients`` /
``minimize``), slot variables and non-slot variables.

Everything here only builds graph ops. ``compute_gradients`` makes one ``Gradients`` op for all the
variables (the compiler's IR autodiff); ``apply_gradients`` makes, per variable, one ``Apply*`` op
computing the new values of the variable and its slots from their values on entry, and ``Assign``
ops writing them. The returned train op groups these (and increments ``global_step`` after them),
so ``sess.run(train_op)`` is one compiled signature and one native call per step: forward,
backward and every update are the same generated function, and the variables are updated in place.

Slots are created the way TF names them: ``<var op name>/<optimizer name>`` (``W/Adam``, then
``W/Adam_1``), initialized with the variable's shape, non-trainable, in ``GLOBAL_VARIABLES``.
Non-slot variables (Adam's ``beta1_power``) are created once per graph at the root scope.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..framework import dtypes as _dt
from ..framework.constant_op import convert_to_tensor, is_tensor_like
from ..framework.control_flow_ops import group
from ..framework.gradients_impl import gradients
from ..framework.graph import Graph, GraphKeys, get_collection, get_default_graph, name_scope
from ..framework.math_ops import cast
from ..framework.ops import Operation, Tensor, make_op
from ..framework.state_ops import assign, assign_add
from ..framework.variables import Variable, trainable_variables

#: builds the new values of (var, *slots) from graph-dialect values: fn(b, var, slots, hypers, grad)
UpdateFn = Callable[[Any, Any, list, list, Any], list]


def _float_dtypes() -> tuple[_dt.DType, ...]:
    return tuple(d for d in (_dt.float32, _dt.float64, getattr(_dt, "float16", None)) if d is not None)


def const(b: Any, value: float, like: Any) -> Any:
    """A scalar graph-dialect constant of ``like``'s dtype."""
    import numpy as np

    return b.op("graph.constant", value=np.array(value, dtype=like.type.dtype.np_dtype))


def _var_op_name(v: Variable) -> str:
    return v.op.name


class Optimizer:
    """Base class of the optimizers. Subclasses define ``_create_slots``, ``_prepare`` and
    ``_apply_dense`` (and ``_finish`` when they update non-slot variables)."""

    GATE_NONE = 0
    GATE_OP = 1
    GATE_GRAPH = 2

    def __init__(self, use_locking: bool, name: str):
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._slots: dict[str, dict[Variable, Variable]] = {}
        self._non_slot: dict[tuple[str, int], Variable] = {}
        self._hyper: dict[str, Any] = {}
        self._hyper_cache: dict[tuple[str, Any], Tensor] = {}

    def get_name(self) -> str:
        return self._name

    # -- the three public steps ------------------------------------------------------------------
    def minimize(self, loss: Any, global_step: Any = None, var_list: Sequence[Any] | None = None,
                 gate_gradients: int = GATE_OP, aggregation_method: Any = None, colocate_gradients_with_ops: bool = False,
                 name: str | None = None, grad_loss: Any = None) -> Operation:
        """``compute_gradients`` then ``apply_gradients``: the op running one training step."""
        grads_and_vars = self.compute_gradients(loss, var_list=var_list, gate_gradients=gate_gradients,
                                                aggregation_method=aggregation_method,
                                                colocate_gradients_with_ops=colocate_gradients_with_ops,
                                                grad_loss=grad_loss)
        if not any(g is not None for g, _ in grads_and_vars):
            raise ValueError("No gradients provided for any variable, check your graph for ops that do not support "
                             f"gradients, between variables {[str(v) for _, v in grads_and_vars]} and loss {loss}.")
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def compute_gradients(self, loss: Any, var_list: Sequence[Any] | None = None, gate_gradients: int = GATE_OP,
                          aggregation_method: Any = None, colocate_gradients_with_ops: bool = False,
                          grad_loss: Any = None) -> list[tuple[Tensor | None, Variable]]:
        """``[(gradient or None, variable)]`` of ``loss`` for ``var_list`` (default: the trainables)."""
        if gate_gradients not in (self.GATE_NONE, self.GATE_OP, self.GATE_GRAPH):
            raise ValueError(f"gate_gradients must be one of: Optimizer.GATE_NONE, Optimizer.GATE_OP, "
                             f"Optimizer.GATE_GRAPH. Not {gate_gradients}")
        if callable(loss) and not is_tensor_like(loss):
            loss = loss()
        loss_t = convert_to_tensor(loss)
        self._assert_valid_dtypes([loss_t])
        if var_list is None:
            var_list = trainable_variables() + get_collection("trainable_resource_variables")
        else:
            var_list = list(_flatten(var_list))
        if not var_list:
            raise ValueError("No variables to optimize.")
        for v in var_list:
            if not isinstance(v, Variable):
                raise TypeError(f"Argument is not a tk.Variable: {v}")
        self._assert_valid_dtypes(var_list)
        grads = gradients(loss_t, var_list, grad_ys=grad_loss)
        return list(zip(grads, var_list))

    def apply_gradients(self, grads_and_vars: Any, global_step: Any = None, name: str | None = None) -> Operation:
        """The op applying the gradients (then incrementing ``global_step`` when given)."""
        pairs = list(grads_and_vars)
        if not pairs:
            raise ValueError("No variables provided.")
        converted: list[tuple[Tensor | None, Variable]] = []
        for g, v in pairs:
            if not isinstance(v, Variable):
                raise TypeError(f"Argument is not a tk.Variable: {v}")
            if g is not None:
                g = convert_to_tensor(g, dtype=v.dtype)
                if not v.shape.is_compatible_with(g.shape):
                    raise ValueError(f"Shapes of the gradient {g.shape} and of variable {v.op.name} {v.shape} differ")
            converted.append((g, v))
        var_list = [v for g, v in converted if g is not None]
        if not var_list:
            raise ValueError(f"No gradients provided for any variable: {[str(v) for _, v in converted]}.")
        graph = var_list[0].graph
        with graph.as_default():
            with graph.control_dependencies(None):
                self._create_slots(var_list)
            update_ops: list[Operation] = []
            with name_scope(name, self._name) as scope:
                self._hyper_cache = {}
                self._prepare()
                for grad, var in converted:
                    if grad is None:
                        continue
                    with name_scope("update_" + _var_op_name(var)):
                        update_ops.append(self._apply_dense(grad, var))
                if global_step is None:
                    train_op = self._finish(update_ops, scope)
                else:
                    with graph.control_dependencies([self._finish(update_ops, "update")]):
                        train_op = assign_add(global_step, 1, name=scope).op
            train_ops = graph.get_collection_ref(GraphKeys.TRAIN_OP)
            if train_op not in train_ops:
                train_ops.append(train_op)
        return train_op

    # -- slots -------------------------------------------------------------------------------------
    def get_slot_names(self) -> list[str]:
        return sorted(self._slots)

    def get_slot(self, var: Variable, name: str) -> Variable | None:
        return self._slots.get(name, {}).get(var)

    def variables(self) -> list[Variable]:
        """The optimizer's own variables (slots and non-slot variables) of the default graph."""
        g = get_default_graph()
        out = [v for (_, gid), v in sorted(self._non_slot.items()) if gid == id(g)]
        for slots in self._slots.values():
            out.extend(v for v in slots.values() if v.graph is g)
        return out

    def _slot(self, var: Variable, slot_name: str, init: Callable[[], Any]) -> Variable:
        """The slot ``slot_name`` of ``var``, created on first use as ``<var>/<optimizer name>``."""
        slots = self._slots.setdefault(slot_name, {})
        if var not in slots:
            g = var.graph
            with g.as_default(), g.name_scope(None), g.control_dependencies(None):
                slots[var] = Variable(init, trainable=False, name=f"{_var_op_name(var)}/{self._name}", dtype=var.dtype)
        return slots[var]

    def _zeros_slot(self, var: Variable, slot_name: str) -> Variable:
        from ..framework.array_ops import zeros

        return self._slot(var, slot_name, lambda: zeros(var.shape.as_list(), dtype=var.dtype))

    def _fill_slot(self, var: Variable, slot_name: str, value: float) -> Variable:
        from ..framework.array_ops import fill

        return self._slot(var, slot_name, lambda: fill(var.shape.as_list(), convert_to_tensor(value, dtype=var.dtype)))

    def _non_slot_variable(self, initial_value: float, name: str, graph: Graph) -> Variable:
        key = (name, id(graph))
        v = self._non_slot.get(key)
        if v is None:
            with graph.as_default(), graph.name_scope(None), graph.control_dependencies(None):
                v = self._non_slot[key] = Variable(initial_value, trainable=False, name=name, dtype=_dt.float32)
        return v

    def _get_non_slot_variable(self, name: str, graph: Graph | None = None) -> Variable | None:
        return self._non_slot.get((name, id(graph or get_default_graph())))

    # -- hyperparameters ---------------------------------------------------------------------------
    def _set_hyper(self, name: str, value: Any) -> None:
        self._hyper[name] = value

    def _prepare(self) -> None:
        """Resolve the hyperparameters: callables are called, tensors converted; numbers stay
        numbers (they become constants of each variable's dtype, without a float32 round trip)."""
        for key, value in self._hyper.items():
            if callable(value) and not is_tensor_like(value):
                value = value()
            self._hyper_cache[(key, None)] = convert_to_tensor(value) if is_tensor_like(value) else value

    def _hyper_for(self, name: str, dtype: _dt.DType) -> Tensor:
        """Hyperparameter ``name`` as a tensor of ``dtype`` (made once per dtype and apply call)."""
        key = (name, dtype)
        t = self._hyper_cache.get(key)
        if t is None:
            base = self._hyper_cache[(name, None)]
            if not is_tensor_like(base):
                t = convert_to_tensor(base, dtype=dtype, name=name)
            elif base.dtype == dtype:
                t = base
            elif base.dtype.is_floating or base.dtype.is_integer:
                t = cast(base, dtype)
            else:
                raise TypeError(f"hyperparameter {name} has dtype {base.dtype.name}")
            self._hyper_cache[key] = t
        return t

    # -- what subclasses define --------------------------------------------------------------------
    def _create_slots(self, var_list: list[Variable]) -> None:
        pass

    def _apply_dense(self, grad: Tensor, var: Variable) -> Operation:
        raise NotImplementedError

    def _finish(self, update_ops: list[Operation], name_scope: str) -> Operation:
        return group(*update_ops, name=name_scope)

    def _apply_update(self, op_type: str, var: Variable, slots: Sequence[Variable], hypers: Sequence[str],
                      grad: Tensor, fn: UpdateFn, extra: Sequence[Tensor] = ()) -> Operation:
        """One ``op_type`` op computing the new (var, *slots) from their entry values, then the assigns.

        ``fn(b, var, slots, hypers, grad)`` emits graph-dialect ops; ``hypers`` are the named
        hyperparameters (as ``var.dtype`` tensors) followed by ``extra`` tensors."""
        dt = var.dtype
        hyper_ts = [self._hyper_for(h, dt) for h in hypers] + [cast(e, dt) if e.dtype != dt else e for e in extra]
        refs = [var._ref()] + [s._ref() for s in slots]
        ins = refs + hyper_ts + [grad]
        n = len(refs)
        nh = len(hyper_ts)

        def build(ctx, vals):
            return fn(ctx.b, vals[0], list(vals[1:n]), list(vals[n:n + nh]), vals[n + nh])
        shape = var.shape.as_tuple()
        out = make_op(op_type, ins, name=op_type, build=build, out=[(shape, dt)] * n,
                      attrs={"T": dt, "use_locking": self._use_locking})
        assigns = [assign(target, value, name="Assign") for target, value in zip([var, *slots], out.outputs)]
        return group(*assigns, name="apply")

    # -- checks ------------------------------------------------------------------------------------
    def _valid_dtypes(self) -> tuple[_dt.DType, ...]:
        return _float_dtypes()

    def _assert_valid_dtypes(self, tensors: Sequence[Any]) -> None:
        valid = self._valid_dtypes()
        for t in tensors:
            dt = t.dtype
            if dt not in valid:
                raise ValueError(f"Invalid type {dt!r} for {getattr(t, 'name', t)}, expected: "
                                 f"{[v.name for v in valid]}.")


def _flatten(x: Any):
    if isinstance(x, (list, tuple)):
        for item in x:
            yield from _flatten(item)
    elif isinstance(x, dict):
        for item in x.values():
            yield from _flatten(item)
    else:
        yield x
