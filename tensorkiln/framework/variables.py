"""``tk.Variable`` and the variable collections and initializers.

A Variable is three ops, named as TF names them: the buffer ``Variable`` (``VariableV2``), its
initializer ``Variable/Assign`` (from ``Variable/initial_value``) and a snapshot ``Variable/read``
that uses of the Variable in expressions read. ``read_value()`` makes a fresh read (so it honours
control dependencies); fetching the Variable itself reads the buffer. The buffer lives in each
Session; reading it before an initializer ran raises ``FailedPreconditionError`` naming it.
"""
from __future__ import annotations

from typing import Any, Sequence

from . import state_ops
from .array_ops import identity
from .constant_op import convert_to_tensor
from .control_flow_ops import group, no_op
from .graph import GraphKeys, get_collection, get_default_graph, name_scope
from .ops import Operation, Tensor
from .tensor_operators import _install


class Variable:
    """A mutable tensor whose value persists across ``Session.run`` calls (per Session)."""

    def __init__(self, initial_value: Any = None, trainable: bool = True, collections: Sequence[str] | None = None,
                 validate_shape: bool = True, caching_device: Any = None, name: str | None = None,
                 variable_def: Any = None, dtype: Any = None, expected_shape: Any = None, import_scope: Any = None,
                 constraint: Any = None, use_resource: Any = None, synchronization: Any = None, aggregation: Any = None):
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        if variable_def is not None:
            raise NotImplementedError("Variable(variable_def=...) is not supported")
        collections = [GraphKeys.GLOBAL_VARIABLES] if collections is None else list(collections)
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(GraphKeys.TRAINABLE_VARIABLES)
        from_fn = callable(initial_value)
        g = get_default_graph()
        with g.control_dependencies(None):
            with name_scope(name, "Variable", [] if from_fn else [initial_value]) as scope:
                if from_fn:
                    with name_scope("Initializer"):
                        init = convert_to_tensor(initial_value(), dtype=dtype, name="initial_value")
                else:
                    init = convert_to_tensor(initial_value, dtype=dtype, name="initial_value")
                shape = init.shape if validate_shape else None
                if validate_shape and not init.shape.is_fully_defined():
                    raise ValueError(f"initial_value must have a shape specified: {init}")
                self._variable = state_ops.variable_op(shape, init.dtype, name=scope)
                self._initial_value = init
                self._initializer_op = state_ops.assign(self._variable, init, validate_shape=validate_shape).op
                with g.device(None), g.device(self._variable.device or None):
                    self._snapshot = identity(self._variable, name="read")
        self._trainable = trainable
        self._constraint = constraint
        g.add_to_collections(collections, self)

    # -- identity ---------------------------------------------------------------
    name = property(lambda self: self._variable.name)
    op = property(lambda self: self._variable.op)
    graph = property(lambda self: self._variable.graph)
    device = property(lambda self: self._variable.device)
    dtype = property(lambda self: self._variable.dtype)
    shape = property(lambda self: self._variable.shape)
    initializer = property(lambda self: self._initializer_op)
    initial_value = property(lambda self: self._initial_value)
    trainable = property(lambda self: self._trainable)
    constraint = property(lambda self: self._constraint)

    def get_shape(self):
        return self._variable.shape

    def _as_graph_element(self) -> Tensor:
        return self._variable

    def _as_tensor(self) -> Tensor:
        return self._snapshot

    def _ref(self) -> Tensor:
        return self._variable

    def value(self) -> Tensor:
        """The snapshot read (``Variable/read``) used when the Variable appears in expressions."""
        return self._snapshot

    def read_value(self) -> Tensor:
        """A new read of the variable, after any control dependencies in scope."""
        with name_scope("Read"):
            return identity(self._variable, name="read")

    def initialized_value(self) -> Tensor:
        """The value after running the initializer (TF 1.x ≤ 1.3 semantics: it runs the initializer)."""
        g = self.graph
        with g.control_dependencies(None), g.control_dependencies([self._initializer_op]):
            return identity(self._variable)

    def eval(self, session: Any = None) -> Any:
        return self._variable.eval(session=session)

    def assign(self, value: Any, use_locking: bool = False, name: str | None = None, read_value: bool = True):
        t = state_ops.assign(self._variable, value, use_locking=use_locking, name=name)
        return t if read_value else t.op

    def assign_add(self, delta: Any, use_locking: bool = False, name: str | None = None, read_value: bool = True):
        t = state_ops.assign_add(self._variable, delta, use_locking=use_locking, name=name)
        return t if read_value else t.op

    def assign_sub(self, delta: Any, use_locking: bool = False, name: str | None = None, read_value: bool = True):
        t = state_ops.assign_sub(self._variable, delta, use_locking=use_locking, name=name)
        return t if read_value else t.op

    def load(self, value: Any, session: Any = None) -> None:
        """Write ``value`` into the variable in ``session`` (default: the default session)."""
        from ..runtime.session import _session_for

        sess = _session_for(self.graph, session, "load a variable")
        sess.run(self._initializer_op, {self._initializer_op.inputs[1]: value})

    def set_shape(self, shape: Any) -> None:
        self._variable.set_shape(shape)
        self._snapshot.set_shape(shape)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<tk.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}_ref>"

    def __bool__(self) -> bool:
        raise TypeError("Using a `tk.Variable` as a Python `bool` is not allowed.")

    def __iter__(self):
        return iter(self._snapshot)


_install(Variable)


# --------------------------------------------------------------------------- collections


def global_variables(scope: str | None = None) -> list[Variable]:
    return get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


def trainable_variables(scope: str | None = None) -> list[Variable]:
    return get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope: str | None = None) -> list[Variable]:
    return get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def model_variables(scope: str | None = None) -> list[Variable]:
    return get_collection(GraphKeys.MODEL_VARIABLES, scope)


all_variables = global_variables


def variables_initializer(var_list: Sequence[Variable], name: str = "init") -> Operation:
    """One op running the initializers of ``var_list`` (a ``NoOp`` when the list is empty)."""
    if var_list:
        return group(*[v.initializer for v in var_list], name=name)
    return no_op(name=name)


def global_variables_initializer() -> Operation:
    return variables_initializer(global_variables())


def local_variables_initializer() -> Operation:
    return variables_initializer(local_variables(), name="init")


initialize_all_variables = global_variables_initializer
initialize_variables = variables_initializer
