"""The Graph: ops by unique name, name scopes, control dependencies, device scopes, collections.

A :class:`Graph` owns its Operations (``get_operations``, ``get_operation_by_name``,
``get_tensor_by_name``), hands out unique names (``add``, ``add_1``; case-insensitively, as TF),
keeps per-thread stacks of name scopes, control-dependency contexts and device scopes that every new
op picks up, keeps named collections (``tk.GraphKeys``), can be ``finalize``d, and counts its
``version`` (the number of ops created). ``tk.get_default_graph`` / ``as_default`` keep a per-thread
stack over one process-wide default graph.
"""
from __future__ import annotations

import contextlib
import re
import threading
from typing import Any, Callable, Iterator, Sequence

from ..compiler.frontend.graph import GraphNode
from . import device as _device
from .ops import Operation, Tensor

_VALID_OP_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")
_VALID_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")


class GraphKeys:
    """Standard collection names (TF's ``tf.GraphKeys``)."""

    GLOBAL_VARIABLES = "variables"
    VARIABLES = GLOBAL_VARIABLES
    LOCAL_VARIABLES = "local_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    ASSET_FILEPATHS = "asset_filepaths"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    CONCATENATED_VARIABLES = "concatenated_variables"
    SAVERS = "savers"
    WEIGHTS = "weights"
    BIASES = "biases"
    ACTIVATIONS = "activations"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    READY_OP = "ready_op"
    SUMMARY_OP = "summary_op"
    GLOBAL_STEP = "global_step"
    TRAIN_OP = "train_op"


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.name_stack = ""
        self.control_stack: list[tuple[bool, list[Operation]]] = []  # (clears outer, ops)
        self.device_stack: list[Any] = []  # strings (merged) or callables


class Graph:
    """A TF-1 dataflow graph."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._ops: list[Operation] = []
        self._by_name: dict[str, Operation] = {}
        self._names_in_use: dict[str, int] = {}
        self._collections: dict[str, list[Any]] = {}
        self._finalized = False
        self._version = 0
        self._epoch = 0  # bumped when an existing op changes (control inputs added)
        self._thread = _ThreadState()
        self._seed: int | None = None
        self._compiled: dict[Any, Any] = {}  # signature -> compiled function (runtime's cache)
        self._compile_lock = threading.Lock()

    # -- identity ------------------------------------------------------------
    @property
    def version(self) -> int:
        """Grows by one with every op added (TF's ``Graph.version``)."""
        return self._version

    @property
    def finalized(self) -> bool:
        return self._finalized

    @property
    def seed(self) -> int | None:
        return self._seed

    @seed.setter
    def seed(self, value: int | None) -> None:
        self._seed = value

    building_function = False

    def finalize(self) -> None:
        """Make the graph read-only: creating an op or collecting into it raises RuntimeError."""
        self._finalized = True

    def _unsafe_unfinalize(self) -> None:
        self._finalized = False

    def _check_not_finalized(self) -> None:
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")

    def _next_id(self) -> int:
        self._version += 1
        return self._version

    def _structure_changed(self) -> None:
        self._epoch += 1

    @contextlib.contextmanager
    def as_default(self) -> Iterator["Graph"]:
        _stack().append(self)
        try:
            yield self
        finally:
            _stack().pop()

    # -- ops -------------------------------------------------------------------
    def get_operations(self) -> list[Operation]:
        with self._lock:
            return list(self._ops)

    def get_operation_by_name(self, name: str) -> Operation:
        if not isinstance(name, str):
            raise TypeError(f"Operation names are strings (or similar), not {type(name).__name__}.")
        return self.as_graph_element(name, allow_tensor=False, allow_operation=True)

    def get_tensor_by_name(self, name: str) -> Tensor:
        if not isinstance(name, str):
            raise TypeError(f"Tensor names are strings (or similar), not {type(name).__name__}.")
        return self.as_graph_element(name, allow_tensor=True, allow_operation=False)

    def as_graph_element(self, obj: Any, allow_tensor: bool = True, allow_operation: bool = True) -> Any:
        """The Tensor or Operation ``obj`` names or is (TF's rules and messages)."""
        if hasattr(obj, "_as_graph_element") and not getattr(type(obj), "_tk_element", None):
            obj = obj._as_graph_element()
        kind = getattr(type(obj), "_tk_element", None)
        types = " or ".join(k for k, ok in (("Tensor", allow_tensor), ("Operation", allow_operation)) if ok)
        if kind == "tensor":
            if not allow_tensor:
                raise TypeError(f"Can not convert a Tensor into a {types}.")
            if obj.graph is not self:
                raise ValueError(f"Tensor {obj} is not an element of this graph.")
            return obj
        if kind == "operation":
            if not allow_operation:
                raise TypeError(f"Can not convert a Operation into a {types}.")
            if obj.graph is not self:
                raise ValueError(f"Operation {obj} is not an element of this graph.")
            return obj
        if isinstance(obj, str):
            return self._element_by_name(obj, allow_tensor, allow_operation, types)
        raise TypeError(f"Can not convert a {type(obj).__name__} into a {types}.")

    def _element_by_name(self, name: str, allow_tensor: bool, allow_operation: bool, types: str) -> Any:
        if ":" in name and allow_tensor:
            op_name, _, idx = name.rpartition(":")
            try:
                index = int(idx)
            except ValueError:
                raise ValueError(f"The name {name!r} looks a like a Tensor name, but is not a valid one. Tensor "
                                 "names must be of the form \"<op_name>:<output_index>\".") from None
            op = self._by_name.get(op_name)
            if op is None:
                raise KeyError(f"The name {name!r} refers to a Tensor which does not exist. The operation, "
                               f"{op_name!r}, does not exist in the graph.")
            if not 0 <= index < len(op.outputs):
                raise KeyError(f"The name {name!r} refers to a Tensor which does not exist. The operation, "
                               f"{op_name!r}, exists but only has {len(op.outputs)} outputs.")
            return op.outputs[index]
        if ":" in name:
            raise ValueError(f"Name {name!r} appears to refer to a Tensor, not a {types}.")
        if not allow_operation:
            raise ValueError(f"The name {name!r} looks like an (invalid) Operation name, not a {types}. Tensor "
                             "names must be of the form \"<op_name>:<output_index>\".")
        op = self._by_name.get(name)
        if op is None:
            raise KeyError(f"The name {name!r} refers to an Operation not in the graph.")
        return op

    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """``name`` inside the current name scope, suffixed ``_1``, ``_2``… until unused."""
        if self._thread.name_stack:
            name = self._thread.name_stack + "/" + name
        with self._lock:
            key = name.lower()
            i = self._names_in_use.get(key, 0)
            if mark_as_used:
                self._names_in_use[key] = i + 1
            if i > 0:
                base = name
                while f"{base}_{i}".lower() in self._names_in_use:
                    i += 1
                name = f"{base}_{i}"
                if mark_as_used:
                    self._names_in_use[name.lower()] = 1
            return name

    def get_name_scope(self) -> str:
        return self._thread.name_stack

    def _create_op(self, op_type: str, name: str, inputs: list[Tensor], out, build: Callable | None, kind: str,
                   attrs: dict[str, Any], node_attrs: dict[str, Any]) -> Operation:
        if not _VALID_OP_NAME.match(name):
            raise ValueError(f"'{name}' is not a valid node name")
        with self._lock:
            self._check_not_finalized()
            if name in self._by_name:
                raise ValueError(f"Duplicate node name in graph: '{name}'")
            control = self._current_control_inputs(inputs)
            device = self._current_device(name, op_type)
            node = GraphNode(name, kind, [t._node_output() for t in inputs], list(out), [c._node for c in control],
                             build, node_attrs, device)
            op = Operation(self, op_type, name, inputs, out, control, device, attrs, node)
            self._names_in_use.setdefault(name.lower(), 1)
            self._ops.append(op)
            self._by_name[name] = op
            fn_device = self._device_function()
            if fn_device is not None:
                op._set_device(_device.merge(device, fn_device(op) or ""))
        return op

    # -- scopes ------------------------------------------------------------------
    @contextlib.contextmanager
    def name_scope(self, name: str | None) -> Iterator[str]:
        """Enter a name scope; yields its full name with a trailing ``/`` (``""`` at the root)."""
        old = self._thread.name_stack
        if not name:
            new = ""
        elif name.endswith("/"):
            if not _VALID_SCOPE_NAME.match(name):
                raise ValueError(f"'{name}' is not a valid scope name")
            new = name[:-1]
        else:
            if not _VALID_SCOPE_NAME.match(name) or (not old and not _VALID_OP_NAME.match(name)):
                raise ValueError(f"'{name}' is not a valid scope name")
            new = self.unique_name(name)
        self._thread.name_stack = new
        try:
            yield new + "/" if new else ""
        finally:
            self._thread.name_stack = old

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs: Sequence[Any] | None) -> Iterator[None]:
        """Ops created inside run after ``control_inputs`` (``None`` clears outer contexts)."""
        ops: list[Operation] = []
        if control_inputs is not None:
            for c in control_inputs:
                if hasattr(c, "_as_graph_element") and not getattr(type(c), "_tk_element", None):
                    c = c._as_graph_element()
                el = self.as_graph_element(c)
                ops.append(el.op if isinstance(el, Tensor) else el)
        self._thread.control_stack.append((control_inputs is None, ops))
        try:
            yield
        finally:
            self._thread.control_stack.pop()

    def _current_control_inputs(self, inputs: Sequence[Tensor]) -> list[Operation]:
        out: list[Operation] = []
        for clears, ops in reversed(self._thread.control_stack):
            out[:0] = ops
            if clears:
                break
        input_ops = {id(t.op) for t in inputs}
        seen: set[int] = set()
        result = []
        for op in out:
            if id(op) not in seen and id(op) not in input_ops:
                seen.add(id(op))
                result.append(op)
        return result

    @contextlib.contextmanager
    def device(self, device_name_or_function: Any) -> Iterator[None]:
        """Ops created inside are placed on this device (merged with outer scopes; None resets)."""
        spec = device_name_or_function
        if spec is not None and not callable(spec):
            spec = _device.canonical(spec if isinstance(spec, str) else spec.to_string())
        self._thread.device_stack.append(spec)
        try:
            yield
        finally:
            self._thread.device_stack.pop()

    def _current_device(self, name: str, op_type: str) -> str:
        dev = ""
        for spec in self._thread.device_stack:
            if spec is None:
                dev = ""
            elif isinstance(spec, str) and spec:
                dev = _device.merge(dev, spec)
        return dev

    def _device_function(self) -> Callable | None:
        for spec in reversed(self._thread.device_stack):
            if callable(spec):
                return spec
            if spec is None:
                return None
        return None

    # -- collections ---------------------------------------------------------------
    def add_to_collection(self, name: str, value: Any) -> None:
        self._check_not_finalized()
        with self._lock:
            self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names: Any, value: Any) -> None:
        names = (names,) if isinstance(names, str) else set(names)
        for n in names:
            self.add_to_collection(n, value)

    def get_collection_ref(self, name: str) -> list[Any]:
        with self._lock:
            return self._collections.setdefault(name, [])

    def get_collection(self, name: str, scope: str | None = None) -> list[Any]:
        with self._lock:
            items = list(self._collections.get(name, []))
        if scope is None:
            return items
        pattern = re.compile(scope)
        return [v for v in items if isinstance(getattr(v, "name", None), str) and pattern.match(v.name)]

    def get_all_collection_keys(self) -> list[str]:
        with self._lock:
            return [k for k, v in self._collections.items() if v is not None]

    def clear_collection(self, name: str) -> None:
        self._check_not_finalized()
        with self._lock:
            self._collections.pop(name, None)

    def __repr__(self) -> str:
        return f"<tk.Graph {id(self):#x} ops={len(self._ops)}>"


# --------------------------------------------------------------------------- default graph

_global_default = Graph()
_local = threading.local()


def _stack() -> list[Graph]:
    s = getattr(_local, "stack", None)
    if s is None:
        s = _local.stack = []
    return s


def get_default_graph() -> Graph:
    s = _stack()
    return s[-1] if s else _global_default


def reset_default_graph() -> None:
    """Replace the process-wide default graph by a new, empty one."""
    global _global_default
    if _stack():
        raise AssertionError("Do not use tk.reset_default_graph() to clear nested graphs. If you need a cleared "
                             "graph, exit the nesting and create a new graph.")
    _global_default = Graph()


def name_scope(name: str | None, default_name: str | None = None, values: Sequence[Any] | None = None):
    """``tk.name_scope(name, default_name=None, values=None)``: a scope in the values' graph."""
    from .ops import graph_of

    g = graph_of(values or [])
    if name is None and default_name is not None:
        name = default_name
    return g.name_scope(name)


def control_dependencies(control_inputs: Sequence[Any] | None):
    return get_default_graph().control_dependencies(control_inputs)


def device(device_name_or_function: Any):
    return get_default_graph().device(device_name_or_function)


def add_to_collection(name: str, value: Any) -> None:
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names: Any, value: Any) -> None:
    get_default_graph().add_to_collections(names, value)


def get_collection(key: str, scope: str | None = None) -> list[Any]:
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key: str) -> list[Any]:
    return get_default_graph().get_collection_ref(key)


def set_random_seed(seed: int | None) -> None:
    """Set the default graph's seed: random ops then get deterministic seeds (TF's rules)."""
    get_default_graph().seed = seed
