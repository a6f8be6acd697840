"""The graph front end: a TF-style dataflow graph → one graph-dialect Function per signature.

The compiler does not know the Python graph API; it sees a neutral description, :class:`GraphNode`:
a name, a ``kind``, data inputs ``(producer, output index)``, control inputs, static output types
(``None`` for an unknown dim; a shape of ``None`` for an unknown rank) and, for computing nodes, a
``build(ctx, inputs) -> outputs`` callback that emits graph ops with ``ctx.b``. Kinds:

``op``            computes its outputs with ``build``.
``placeholder``   must be fed.
``placeholder_with_default``  fed, or else its single input.
``variable``      a buffer owned by the caller: a function argument, read where consumed.
``assign``        inputs ``[(variable, 0), value]``; ``attrs["mode"]`` is ``set``/``add``/``sub``.
                  Its output is the variable (TF's ref): consumers read it after the assignment.
``gradients``     the hook for ``tk.gradients``: inputs are ys, xs, then the given grad_ys
                  (``attrs`` ``num_ys``, ``num_xs``, ``grad_mask``); lowered by
                  :func:`tensorkiln.compiler.autodiff.gradients`; an unconnected x gets zeros.

A build may call ``ctx.check_numerics(x)``: the status of ``x`` (``graph.check_numerics``) becomes an
extra result of the function, after the fetched tensors; so does ``ctx.check_indices(idx, limit,
kind)``, which reports an index outside ``[0, limit)`` (:mod:`.checks`), and when any such check
fails every variable assignment of the run keeps the variable's value. ``LoweredSignature.checks``
holds a ``Check`` (node, kind) for each result, ordered by where the checked tensor is produced
(the first NaN's producer first).

:func:`lower_signature` prunes the graph to what the fetches need (stopping at fed tensors,
following control inputs and assignments), makes feeds, variables and hidden state arguments, and
emits the nodes in dependency order. Variable reads follow TF's ref semantics: a read sees the
latest assignment among the reading node's ancestors (data or control), else the value on entry;
the last assignment of each variable becomes one ``graph.assign`` (which lands when the function
returns). Unknown feed dims become symbols ``N0, N1, …``; when the IR needs two dims to agree
(``ShapeMismatch.dims``), a free symbol is unified with the other dim and the function rebuilt.
:func:`infer_static_types` runs the same ``build`` on fresh symbols, so static shapes at graph
construction are exactly what the compiler will infer.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ...ir.core import Builder, Function, Value
from ...ir.diagnostics import CompileError
from ...ir.dialects.graph import ShapeMismatch
from ...ir.types import DimOverflowError, DType, Dim, SymDim, TensorType, i64
from .checks import Check, index_status

StaticShape = "tuple[int | None, ...] | None"
BuildFn = Callable[["LoweringContext", list[Value]], Sequence[Value]]
KINDS = ("op", "placeholder", "placeholder_with_default", "variable", "assign", "gradients")


@dataclass(eq=False)
class GraphNode:
    """One node of the neutral graph description (identity-hashed)."""

    name: str
    kind: str
    inputs: list[tuple["GraphNode", int]]
    output_types: list[tuple[Any, DType]]  # (static shape or None, dtype)
    control_inputs: list["GraphNode"] = field(default_factory=list)
    build: BuildFn | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    device: str = ""
    owner: Any = None  # opaque back-reference for the caller (the API's Operation)

    def __repr__(self) -> str:
        return f"<GraphNode {self.name} ({self.kind})>"


class GraphLoweringError(Exception):
    """A node cannot be compiled for this signature; ``node`` says which."""

    def __init__(self, message: str, node: GraphNode | None = None):
        super().__init__(message)
        self.node = node
        self.message = message


class MissingFeedError(GraphLoweringError):
    """A placeholder the fetches need was not fed."""


# --------------------------------------------------------------------------- symbols


class _Unifier:
    """Substitutions of free symbols found while building; ``resolve`` applies them to a dim."""

    def __init__(self, free: Sequence[str]):
        self.free = list(free)
        self.subst: dict[str, Dim] = {}

    def resolve(self, d: Dim) -> Dim:
        for _ in range(len(self.subst) + 1):
            if isinstance(d, int) or not (d.symbols & self.subst.keys()):
                return d
            d = d.substitute(self.subst)
        return d

    def _free_symbol(self, d: Dim) -> str | None:
        if isinstance(d, SymDim) and d.is_symbol and d.name in self.free and d.name not in self.subst:
            return d.name
        return None

    def unify(self, a: Dim, b: Dim) -> bool:
        """Record a == b if one side is a free symbol not occurring in the other."""
        a, b = self.resolve(a), self.resolve(b)
        if a == b:
            return False
        sa, sb = self._free_symbol(a), self._free_symbol(b)
        if sa and sb:  # keep the earlier symbol, so names stay stable
            if self.free.index(sa) < self.free.index(sb):
                sa = None
        if sa and (isinstance(b, int) or sa not in b.symbols):
            if isinstance(b, int) and b < 0:
                return False
            self.subst[sa] = b
            return True
        if sb and (isinstance(a, int) or sb not in a.symbols):
            if isinstance(a, int) and a < 0:
                return False
            self.subst[sb] = a
            return True
        return False

    def retry(self, e: ShapeMismatch) -> bool:
        return e.dims is not None and self.unify(*e.dims)


def _with_unification(free: Sequence[str], attempt: Callable[[_Unifier], Any]) -> Any:
    u = _Unifier(free)
    while True:
        try:
            return attempt(u)
        except ShapeMismatch as e:
            if not u.retry(e):
                raise
        except _Retry:
            pass


class _Retry(Exception):
    """Raised inside an attempt after it recorded a new unification itself."""


# --------------------------------------------------------------------------- contexts


class LoweringContext:
    """What a node's ``build`` may use besides its inputs: the builder, per-node RNG state, an
    index vector along any dim, and dim values as tensors."""

    def __init__(self, b: Builder, state_arg: Callable[[GraphNode], Value], iota_arg: Callable[[Dim], Value],
                 on_check: Callable[[Value, Check, Value | None], None] | None = None):
        self.b = b
        self._state_arg = state_arg
        self._iota_arg = iota_arg
        self._on_check = on_check
        self.node: GraphNode | None = None

    def check_numerics(self, x: Value) -> None:
        """Report the NaN/Inf status of ``x`` (for this node) after the call; nothing when only
        inferring static types."""
        if self._on_check is not None:
            assert self.node is not None
            self._on_check(self.b.op("graph.check_numerics", x), Check(self.node, "numerics"), None)

    def check_indices(self, idx: Value, limit: Dim, kind: str, axis: int = 0) -> None:
        """Report, after the call, an element of the integer tensor ``idx`` outside ``[0, limit)``:
        the Session then raises TF's InvalidArgumentError for ``kind`` — ``"indices"`` of a gather,
        ``"slice"`` (a tensor index of dimension ``axis`` in ``x[i]``) or ``"labels"`` (``limit``
        static); see :mod:`.checks`. Nothing when only inferring static types."""
        if self._on_check is not None:
            assert self.node is not None
            status, ok = index_status(self, idx, limit, kind)
            self._on_check(status, Check(self.node, kind, limit if kind == "labels" else axis), ok)

    def state(self) -> Value:
        """This node's run counter (scalar i64): 0 on a caller's first run, +1 after every run."""
        assert self.node is not None
        return self._state_arg(self.node)

    def iota(self, dim: Dim) -> Value:
        """``[0, 1, …, dim-1]`` as a 1-D i64 tensor."""
        if isinstance(dim, int):
            return self.b.op("graph.constant", value=np.arange(dim, dtype=np.int64))
        return self._iota_arg(dim)

    def dim_value(self, dim: Dim, dtype: DType) -> Value:
        """The value of a (symbolic) dim as a scalar tensor of ``dtype``."""
        if isinstance(dim, int):
            return self.b.op("graph.constant", value=np.array(dim, dtype=dtype.np_dtype))
        return self.b.op("graph.dim_size", dim=dim, dtype=dtype)


def _ir_type(shape: Sequence[Dim], dtype: DType) -> TensorType:
    return TensorType(tuple(shape), dtype)


def static_of(t: TensorType) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) else None for d in t.shape)


def infer_static_types(build: BuildFn, input_types: Sequence[tuple[Any, DType]]) -> list[tuple[tuple[int | None, ...], DType]]:
    """Static output types of ``build`` on inputs of the given static types (None dims become
    fresh symbols, unified where the ops require). Raises ShapeMismatch/CompileError."""
    free: list[str] = []
    arg_shapes: list[list[Dim]] = []
    for shape, _ in input_types:
        dims: list[Dim] = []
        for d in shape:
            if d is None:
                free.append(f"?s{len(free)}")
                dims.append(SymDim.sym(free[-1]))
            else:
                dims.append(int(d))
        arg_shapes.append(dims)

    def attempt(u: _Unifier):
        f = Function("infer", [_ir_type([u.resolve(d) for d in s], dt) for s, (_, dt) in zip(arg_shapes, input_types)], [])
        b = Builder(f.body)
        extra: list[Value] = []
        ctx = LoweringContext(
            b,
            lambda node: extra.append(f.body.add_arg(TensorType((), i64))) or extra[-1],
            lambda dim: f.body.add_arg(TensorType((dim,), i64)),
        )
        ctx.node = GraphNode("infer", "op", [], [])
        outs = build(ctx, list(f.args[:len(input_types)]))
        return [(static_of(v.type), v.type.dtype) for v in outs]

    return _with_unification(free, attempt)


# --------------------------------------------------------------------------- pruning


Tensor = tuple[GraphNode, int]


def prune(fetch_nodes: Sequence[GraphNode], feeds: set[Tensor]) -> list[GraphNode]:
    """The nodes the fetches need, in an execution order (inputs before consumers)."""
    order: list[GraphNode] = []
    state: dict[int, int] = {}  # id -> 1 visiting, 2 done
    for root in fetch_nodes:
        if state.get(id(root)) == 2:
            continue
        stack: list[tuple[GraphNode, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                if state.get(id(node)) == 2:
                    continue
                state[id(node)] = 1
            preds = _preds(node, feeds)
            if i < len(preds):
                stack.append((node, i + 1))
                p = preds[i]
                st = state.get(id(p))
                if st is None:
                    stack.append((p, 0))
                elif st == 1:
                    raise GraphLoweringError(f"graph has a cycle through '{p.name}'", p)
                continue
            state[id(node)] = 2
            order.append(node)
    return order


def _preds(node: GraphNode, feeds: set[Tensor]) -> list[GraphNode]:
    out = []
    for k, (p, i) in enumerate(node.inputs):
        if node.kind == "assign" and k == 0:
            out.append(p)  # the target variable is needed even if its value is fed
        elif (p, i) not in feeds:
            out.append(p)
    out.extend(node.control_inputs)
    return out


# --------------------------------------------------------------------------- lowering


@dataclass
class LoweredSignature:
    """One compiled signature's IR and how to call it.

    Arguments, in order: the feeds, the variables, then hidden arguments in ``hidden`` order:
    ``("state", node)`` (a scalar i64 counter the caller keeps per node, starting at 0) or
    ``("iota", dim)`` (``arange(dim)`` as i64, ``dim`` evaluated from ``symbol_sources``).
    """

    function: Function
    feeds: list[Tensor]
    variables: list[GraphNode]
    reads_entry: list[bool]  # per variable: its value on entry is used (it must be initialized)
    writes: list[bool]  # per variable: it is assigned
    hidden: list[tuple[str, Any]]
    results: list[int]  # per fetched tensor: index of the function result
    nodes: list[GraphNode]  # pruned nodes in execution order
    symbol_sources: dict[str, tuple[int, int]]  # symbol -> (feed index, dim index)
    # the checks whose statuses are the results after the fetched ones, in this order
    checks: list[Check] = field(default_factory=list)


def lower_signature(
    name: str,
    fetch_tensors: Sequence[Tensor],
    fetch_ops: Sequence[GraphNode],
    feeds: Sequence[Tensor],
    feed_ranks: Sequence[int | None] | None = None,
    run_checks: bool = True,
) -> LoweredSignature:
    """Build the function computing ``fetch_tensors`` (and running ``fetch_ops``) from ``feeds``.

    ``feed_ranks[i]`` gives the rank of feed i when its static shape has an unknown rank. With
    ``run_checks=False`` (an exported library, which returns only the fetched values) the builds'
    run-time checks are left out: no statuses, no guarded assignments, no index vectors.
    Raises :class:`MissingFeedError` or :class:`GraphLoweringError` naming the node."""
    feed_set = set(feeds)
    nodes = prune([n for n, i in fetch_tensors if (n, i) not in feed_set] + list(fetch_ops), feed_set)
    for n in nodes:
        if n.kind == "placeholder":
            raise MissingFeedError(f"You must feed a value for placeholder tensor '{n.name}'", n)
    free: list[str] = []
    feed_dims: list[list[Dim]] = []
    sources: dict[str, tuple[int, int]] = {}
    for fi, (node, idx) in enumerate(feeds):
        shape, _ = node.output_types[idx]
        if shape is None:
            rank = (feed_ranks or [None] * len(feeds))[fi]
            if rank is None:
                raise GraphLoweringError(f"feed '{node.name}:{idx}' has an unknown rank; give its rank", node)
            shape = (None,) * rank
        dims: list[Dim] = []
        for k, d in enumerate(shape):
            if d is None:
                free.append(f"N{len(free)}")
                sources[free[-1]] = (fi, k)
                dims.append(SymDim.sym(free[-1]))
            else:
                dims.append(int(d))
        feed_dims.append(dims)

    def attempt(u: _Unifier) -> LoweredSignature:
        return _Lowering(name, nodes, list(fetch_tensors), list(feeds), feed_dims, u, sources, run_checks).run()

    try:
        return _with_unification(free, attempt)
    except ShapeMismatch as e:
        raise GraphLoweringError(f"incompatible shapes: {e.message}", getattr(e, "node", None)) from None


def _arg_type(shape: Sequence[Dim], dtype: DType, node: GraphNode) -> TensorType:
    try:
        return _ir_type(shape, dtype)
    except DimOverflowError as e:
        raise GraphLoweringError(f"cannot compile '{node.name}': {e.message}", node) from None


def _arg_name(text: str, used: set[str]) -> str:
    base = "".join(c if c.isalnum() or c == "_" else "_" for c in text) or "arg"
    if not (base[0].isalpha() or base[0] == "_"):
        base = "_" + base
    name, k = base, 1
    while name in used:
        name, k = f"{base}_{k}", k + 1
    used.add(name)
    return name


class _Lowering:
    def __init__(self, name, nodes, fetch_tensors, feeds, feed_dims, u: _Unifier, sources, run_checks: bool = True):
        self.nodes, self.fetch_tensors, self.feeds, self.u = nodes, fetch_tensors, feeds, u
        self.sources = sources
        self.func = Function(name, [], [])
        self.b = Builder(self.func.body)
        self.used_names: set[str] = set()
        self.feed_args: dict[Tensor, Value] = {}
        for (node, idx), dims in zip(feeds, feed_dims):
            t = _arg_type([u.resolve(d) for d in dims], node.output_types[idx][1], node)
            label = node.name if idx == 0 else f"{node.name}_{idx}"
            self.feed_args[(node, idx)] = self.func.body.add_arg(t, _arg_name(label, self.used_names))
        self.variables = [n for n in nodes if n.kind == "variable"]
        self.var_args: dict[int, Value] = {}
        for v in self.variables:
            shape, dt = v.output_types[0]
            if shape is None or any(d is None for d in shape):
                raise GraphLoweringError(f"variable '{v.name}' needs a fully defined shape, got {shape}", v)
            self.var_args[id(v)] = self.func.body.add_arg(_arg_type(shape, dt, v), _arg_name(v.name, self.used_names))
        self.reads_entry = {id(v): False for v in self.variables}
        self.hidden: list[tuple[str, Any]] = []
        self.state_args: dict[int, Value] = {}
        self.iota_args: dict[Dim, Value] = {}
        self.ctx = LoweringContext(self.b, self._state_arg, self._iota_arg, self._on_check if run_checks else None)
        self.checks: list[tuple[tuple[int, int], Check, Value]] = []
        self.valid: list[Value] = []  # bool scalars: an index check passed
        self.position = {id(n): k for k, n in enumerate(nodes)}

    def _indices_valid(self) -> Value | None:
        """A bool scalar: every index check passed (None when the signature has none)."""
        valid = None
        for ok in self.valid:
            valid = ok if valid is None else self.b.op("graph.logical_and", valid, ok)
        return valid

    def _on_check(self, status: Value, check: Check, ok: Value | None) -> None:
        # Order by the checked tensor's producer (a fed tensor comes first): a producer precedes
        # its consumers, so the first failing check is at the op that made the NaN, whatever order
        # the checks themselves were pruned in.
        node = check.node
        producer = node.inputs[0][0] if node.inputs and check.kind == "numerics" else node
        self.checks.append(((self.position.get(id(producer), -1), self.position[id(node)]), check, status))
        if ok is not None:
            self.valid.append(ok)

    # hidden arguments ---------------------------------------------------------
    def _state_arg(self, node: GraphNode) -> Value:
        if id(node) not in self.state_args:
            self.state_args[id(node)] = self.func.body.add_arg(TensorType((), i64), _arg_name(node.name + "_state", self.used_names))
            self.hidden.append(("state", node))
        return self.state_args[id(node)]

    def _iota_arg(self, dim: Dim) -> Value:
        dim = self.u.resolve(dim)
        if isinstance(dim, int):
            return self.b.op("graph.constant", value=np.arange(dim, dtype=np.int64))
        if dim not in self.iota_args:
            self.iota_args[dim] = self.func.body.add_arg(TensorType((dim,), i64), _arg_name("iota", self.used_names))
            self.hidden.append(("iota", dim))
        return self.iota_args[dim]

    # variable reads ------------------------------------------------------------
    def read(self, var: GraphNode, env: dict) -> Value:
        hit = env.get(id(var))
        if hit is not None:
            return hit[1]
        self.reads_entry[id(var)] = True
        return self.var_args[id(var)]

    def value_of(self, t: Tensor, env: dict) -> Value:
        arg = self.feed_args.get(t)
        if arg is not None:
            return arg
        p, i = t
        if p.kind == "variable":
            return self.read(p, env)
        if p.kind == "assign":
            return self.read(p.inputs[0][0], env)
        vals = self.values.get(id(p))
        if vals is None or i >= len(vals):
            raise GraphLoweringError(f"'{p.name}' has no output {i}", p)
        return vals[i]

    def run(self) -> LoweredSignature:
        self.values: dict[int, list[Value]] = {}
        env_out: dict[int, dict] = {}
        empty: dict = {}
        last_assign: dict[int, tuple[int, Value, GraphNode]] = {}
        feed_set = set(self.feeds)
        for pos, node in enumerate(self.nodes):
            envs = [env_out[id(p)] for p in _preds(node, feed_set)]
            envs = [e for e in envs if e]
            if not envs:
                env = empty
            elif len(envs) == 1:
                env = envs[0]
            else:
                env = {}
                for e in envs:
                    for k, v in e.items():
                        if k not in env or env[k][0] < v[0]:
                            env[k] = v
            env_out[id(node)] = env
            self.b.loc = None
            try:
                self._lower_node(pos, node, env, env_out, last_assign)
            except (GraphLoweringError, ShapeMismatch, _Retry):
                raise
            except CompileError as e:
                raise GraphLoweringError(f"cannot compile '{node.name}': {e.message}", node) from None
            except ValueError as e:  # a build's own check, e.g. on a rank only known now
                raise GraphLoweringError(f"cannot compile '{node.name}': {e}", node) from None
        # A failed index check means the run raises: its variable updates (computed from clamped
        # indices) must not land, so each assigns its old value then (a select in the update loop).
        valid = self._indices_valid()
        for var in self.variables:
            hit = last_assign.get(id(var))
            if hit is not None:
                arg, value = self.var_args[id(var)], hit[1]
                if valid is not None:
                    value = self.b.op("graph.where", valid, value, arg)
                self.b.create("graph.assign", [arg, value])
        for node_id, arg in self.state_args.items():
            one = self.b.op("graph.constant", value=np.array(1, dtype=np.int64))
            self.b.create("graph.assign", [arg, self.b.op("graph.add", arg, one)])
        results: list[Value] = []
        index: list[int] = []
        for t in self.fetch_tensors:
            v = self.value_of(t, env_out.get(id(t[0]), empty)) if t not in feed_set else self.feed_args[t]
            index.append(len(results))
            results.append(v)
        self.checks.sort(key=lambda c: c[0])
        results += [status for _, _, status in self.checks]
        self.b.create("return", results)
        self.func.result_types = [v.type for v in results]
        return LoweredSignature(
            function=self.func, feeds=self.feeds, variables=self.variables,
            reads_entry=[self.reads_entry[id(v)] for v in self.variables],
            writes=[id(v) in last_assign for v in self.variables], hidden=self.hidden,
            results=index, nodes=self.nodes, symbol_sources={s: self.sources[s] for s in self.sources if s not in self.u.subst},
            checks=[check for _, check, _ in self.checks])

    def _lower_node(self, pos, node, env, env_out, last_assign) -> None:
        kind = node.kind
        if kind in ("variable",):
            return
        inputs = [self.value_of(t, env) for t in (node.inputs[1:] if kind == "assign" else node.inputs)]
        if kind == "assign":
            var = node.inputs[0][0]
            value = inputs[0]
            mode = node.attrs.get("mode", "set")
            if mode != "set":
                value = self.b.op("graph.add" if mode == "add" else "graph.sub", self.read(var, env), value)
            value = self._conform(value, self.var_args[id(var)].type, node)
            new_env = dict(env)
            new_env[id(var)] = (pos, value)
            env_out[id(node)] = new_env
            last_assign[id(var)] = (pos, value, node)
            return
        if kind == "placeholder_with_default":
            outs = inputs[:1]
        elif kind == "gradients":
            outs = self._gradients(node, inputs)
        elif kind == "op":
            if node.build is None:
                outs = []
            else:
                self.ctx.node = node
                outs = list(node.build(self.ctx, inputs))
        else:
            raise GraphLoweringError(f"cannot compile node '{node.name}' of kind '{kind}'", node)
        if len(outs) != len(node.output_types):
            raise GraphLoweringError(f"'{node.name}' built {len(outs)} outputs, expected {len(node.output_types)}", node)
        for v, (shape, _) in zip(outs, node.output_types):
            self._check_static(v, shape, node)
        self.values[id(node)] = outs

    def _check_static(self, v: Value, shape, node: GraphNode) -> None:
        """The IR type must agree with the node's static shape; free symbols take its known dims."""
        if shape is None:
            return
        t = v.type
        if len(t.shape) != len(shape):
            raise GraphLoweringError(f"'{node.name}' has rank {len(t.shape)} in the IR but static shape {list(shape)}", node)
        for d, s in zip(t.shape, shape):
            if s is not None and d != s:
                if self.u.unify(d, s):
                    raise _Retry()
                raise GraphLoweringError(f"'{node.name}' has shape {t} in the IR but static shape {list(shape)}", node)

    def _conform(self, value: Value, target: TensorType, node: GraphNode) -> Value:
        t = value.type
        if t.dtype != target.dtype:
            raise GraphLoweringError(f"'{node.name}' assigns {t.dtype} to a {target.dtype} variable", node)
        if t.shape != target.shape:
            if len(t.shape) == len(target.shape):
                changed = False
                for a, b in zip(t.shape, target.shape):
                    changed |= self.u.unify(a, b)
                if changed:
                    raise _Retry()
            raise GraphLoweringError(f"'{node.name}' assigns a value of type {t} to a variable of type {target}", node)
        return value

    def _gradients(self, node: GraphNode, inputs: list[Value]) -> list[Value]:
        ny, nx = node.attrs["num_ys"], node.attrs["num_xs"]
        ys, xs, rest = inputs[:ny], inputs[ny:ny + nx], iter(inputs[ny + nx:])
        mask = node.attrs.get("grad_mask") or [False] * ny
        grad_ys = [next(rest) if m else None for m in mask]
        autodiff = importlib.import_module("tensorkiln.compiler.autodiff")
        grads = autodiff.gradients(self.b, ys, xs, grad_ys if any(mask) else None)
        out = []
        for g, x in zip(grads, xs):
            if g is None:
                zero = self.b.op("graph.constant", value=np.array(0, dtype=x.type.dtype.np_dtype))
                g = zero if x.type.rank == 0 else self.b.op("graph.broadcast_to", zero, shape=x.type.shape)
            out.append(g)
        return out
