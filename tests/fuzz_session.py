"""A hypothesis strategy for random TF-1 graphs built with the public API, for fuzzing Session.run.

Each drawn :class:`SessionCase` is a fresh ``tk.Graph`` built from leaves — placeholders (a ``None``
batch dim, sometimes other ``None`` dims or no shape at all), ``tk.Variable``\\ s, ``tk.constant``\\ s,
``placeholder_with_default`` — in float32, float64 and int32, then 2–``max_ops`` random ops drawn
from the API (:mod:`fuzz_session_ops`, :mod:`fuzz_session_nn`). Alongside every tensor the
generator keeps a plain numpy function of the leaf values (:mod:`fuzz_numpy_ops` for the nn ops),
so every fetch has an independent expected value. Some graphs also fetch ``tk.gradients`` of a scalar loss. The checker in
tests/test_fuzz_session.py runs each case through ``Session.run`` at two batch sizes (one compile),
and compares with numpy and with the reference interpreter on the Session's own IR.

Shapes are tracked symbolically: a dim is ``(c, p)``, meaning ``c * N**p`` for the batch size
``N``. Ops that would make a dim that is not such a monomial (concat or offset slices along a batch
dim) are not drawn, so two dims are equal for every batch size exactly when their pairs are equal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

import tensorkiln as tk

from fuzz_session_layout import LayoutOpsMixin  # type: ignore[import-not-found]
from fuzz_session_nn import NnOpsMixin  # type: ignore[import-not-found]
from fuzz_session_ops import MAX_BATCH, OpsMixin  # type: ignore[import-not-found]

Dim = tuple[int, int]  # (c, p): c * N**p; p == 0 is a static dim
STATIC1: Dim = (1, 0)
BATCH: Dim = (1, 1)
LR = 0.25  # learning rate of the fuzzed training steps
F32, F64, I32 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int32)
TK_DTYPE = {F32: tk.float32, F64: tk.float64, I32: tk.int32, np.dtype(np.int64): tk.int64, np.dtype(bool): tk.bool}


def dim_at(d: Dim, batch: int) -> int:
    return d[0] * batch ** d[1]


def dim_mul(a: Dim, b: Dim) -> Dim:
    return (a[0] * b[0], a[1] + b[1])


@dataclass
class Node:
    """One tensor of the graph with its numpy meaning and what the generator knows about it."""

    index: int
    tensor: Any  # tk.Tensor
    np_fn: Callable[..., np.ndarray] | None  # of the input nodes' values; None for a leaf
    inputs: list[int]
    leaf: int | None  # index into SessionCase.leaves for leaves
    shape: tuple[Dim, ...]
    dtype: np.dtype
    bound: float  # |value| <= bound for every batch size drawn
    exact: bool  # bit-identical in every correct implementation (data movement, min/max, ints)
    smooth: bool  # continuous in the float leaves, in full f64 precision (finite differences apply)
    text: str
    lowp: bool = False  # float32 arithmetic upstream: an f64 result only has f32 accuracy


@dataclass
class Leaf:
    node: int
    kind: str  # placeholder | variable | constant | default
    values: list[np.ndarray]  # per batch variant
    fed: bool = True


@dataclass
class SessionCase:
    graph: Any
    nodes: list[Node]
    leaves: list[Leaf]
    batches: list[int]
    fetches: Any  # the structure passed to Session.run
    fetch_nodes: list[Node]  # its leaves, in order
    grad_xs: list[Node] = field(default_factory=list)
    grads: list[Any] = field(default_factory=list)  # tk tensors (None: unconnected)
    loss: Node | None = None
    lines: list[str] = field(default_factory=list)
    train: Any = None  # a one-step optimizer op on some variables of the loss (learning rate LR)
    train_vars: list[Node] = field(default_factory=list)
    needed: set[int] | None = None  # feed only these leaves (None: every placeholder, needed or not)
    fed_nodes: dict[int, list[np.ndarray]] = field(default_factory=dict)  # intermediate tensors fed

    def feed(self, variant: int) -> dict:
        """The feed dict: placeholders (all, or only those the fetches need) and fed intermediates."""
        feed = {self.nodes[lf.node].tensor: lf.values[variant] for lf in self.leaves
                if lf.kind in ("placeholder", "default") and lf.fed and (self.needed is None or lf.node in self.needed)}
        for i, vals in self.fed_nodes.items():
            feed[self.nodes[i].tensor] = vals[variant]
        return feed

    def has_variables(self) -> bool:
        return any(lf.kind == "variable" for lf in self.leaves)

    def evaluate(self, variant: int, override: dict[int, np.ndarray] | None = None) -> list[np.ndarray]:
        """numpy values of every node for one batch variant; fed intermediates and ``override``
        (node index -> value) replace what the graph would compute."""
        given = {i: vals[variant] for i, vals in self.fed_nodes.items()}
        given.update(override or {})
        vals: list[np.ndarray] = []
        for n in self.nodes:
            if n.index in given:
                vals.append(given[n.index])
            elif n.leaf is not None:
                vals.append(self.leaves[n.leaf].values[variant])
            else:
                with np.errstate(all="ignore"):
                    vals.append(np.asarray(n.np_fn(*[vals[i] for i in n.inputs])))
        return vals

    def __repr__(self) -> str:
        fetched = ", ".join(f"v{n.index}" for n in self.fetch_nodes)
        grads = f"\ngradients of v{self.loss.index} wrt {[f'v{x.index}' for x in self.grad_xs]}" if self.loss else ""
        return (f"SessionCase(batches={self.batches}, fetches=[{fetched}]){grads}\n  " + "\n  ".join(self.lines))


class _Gen(OpsMixin, LayoutOpsMixin, NnOpsMixin):
    def __init__(self, draw: Callable[[Any], Any]):
        self.draw = draw
        self.rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        # mostly small, sometimes past a vector width or a GEMM tile, so loop remainders are hit
        sizes = st.one_of(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.integers(6, MAX_BATCH))
        b1 = draw(sizes)
        self.batches = [b1, draw(sizes.filter(lambda b: b != b1))]
        self.fdt = draw(st.sampled_from([F32, F32, F64]))
        self.graph = tk.Graph()
        self.nodes: list[Node] = []
        self.leaves: list[Leaf] = []
        self.vals: list[list[np.ndarray]] = [[], []]  # per variant, aligned with nodes
        self.pool: list[Node] = []  # numeric nodes ops may use
        self.conds: list[Node] = []  # bool nodes (fetchable)
        self.lines_extra: list[str] = []

    # draws -----------------------------------------------------------------------
    def i(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def choice(self, xs: list) -> Any:
        return self.draw(st.sampled_from(xs))

    def chance(self, percent: int) -> bool:
        return self.draw(st.integers(0, 99)) < percent

    def size(self, small: int = 5) -> int:
        """A static dim: mostly 1..small, one time in eight up to 33 (past vector widths and tiles)."""
        return self.i(small + 1, 33) if self.chance(12) else self.i(1, small)

    # nodes -----------------------------------------------------------------------
    def name(self) -> str:
        return f"v{len(self.nodes)}"

    def emit(self, tensor: Any, np_fn: Callable[..., np.ndarray], inputs: list[Node], shape: tuple[Dim, ...],
             dtype: np.dtype, bound: float, text: str, exact: bool | None = None, smooth: bool | None = None,
             moves: bool = False, pool: bool = True) -> Node:
        """Record a tensor built from ``inputs``; its numpy value is computed now for both variants
        and checked against the tracked shape and dtype (a generator bug fails here, at build).
        By default a result is exact when its inputs are and it is not float arithmetic
        (``moves``: the op only moves or selects elements), and smooth when its inputs are."""
        dtype = np.dtype(dtype)
        if exact is None:
            exact = all(n.exact for n in inputs) and (moves or dtype.kind != "f")
        smooth = all(n.smooth for n in inputs) if smooth is None else smooth
        lowp = any(n.lowp for n in inputs) or (dtype == F32 and not exact)
        node = Node(len(self.nodes), tensor, np_fn, [n.index for n in inputs], None, tuple(shape), dtype,
                    float(bound), exact, smooth, f"{self.name()} = {text}", lowp)
        static = tensor.shape.as_tuple() if tensor.shape.ndims is not None else None
        assert static is None or (len(static) == len(node.shape) and all(
            s is None or (d[1] == 0 and s == d[0]) for s, d in zip(static, node.shape))), \
            f"{node.text}: the graph's static shape {static} contradicts {node.shape} (c * N**p)"
        if static is None or any(s is None and d[1] == 0 for s, d in zip(static, node.shape)):
            # The graph does not know a dim (downstream of a placeholder spelled with unknown
            # dims): it stays symbolic in the compiled function, where some ops need it known
            # (int indices, pools, concat gradients: refused with a clear error), so not reused.
            pool = False
        for v, b in enumerate(self.batches):
            with np.errstate(all="ignore"):
                val = np.asarray(np_fn(*[self.vals[v][n.index] for n in inputs]))
            want = tuple(dim_at(d, b) for d in node.shape)
            assert val.shape == want and val.dtype == dtype, (node.text, val.shape, want, val.dtype, dtype)
            self.vals[v].append(val)
        return self._record(node, pool)

    def _record(self, node: Node, pool: bool) -> Node:
        self.nodes.append(node)
        if not pool:
            return node
        if node.dtype == np.dtype(bool):
            if node.exact:  # an inexact comparison may flip on a 1-ulp difference: never fetched
                self.conds.append(node)
        elif node.dtype != np.dtype(np.int64):
            self.pool.append(node)
        return node

    def values(self, shape: tuple[Dim, ...], dtype: np.dtype, per_variant: bool) -> list[np.ndarray]:
        def one(b: int) -> np.ndarray:
            s = tuple(dim_at(d, b) for d in shape)
            if dtype.kind == "f":
                return self.rng.uniform(-1, 1, size=s).astype(dtype)
            return self.rng.integers(-4, 5, size=s).astype(dtype)
        first = one(self.batches[0])
        return [first, one(self.batches[1])] if per_variant else [first, first]

    def leaf(self, shape: tuple[Dim, ...], dtype: np.dtype, kind: str | None = None,
             values: list[np.ndarray] | None = None, unknown: bool = False) -> Node:
        """A new input of this (symbolic) shape. Only the batch itself can be a symbolic dim of a
        leaf; every placeholder with a ``None`` dim is fed the same batch size in one run, so
        unknown dims that the compiler unifies are always equal (its documented assumption).
        ``unknown``: spell static dims (or the rank) as unknown too; such a leaf is not pooled."""
        shape = tuple(shape)
        assert all(d[1] == 0 or d == BATCH for d in shape), shape
        symbolic = any(d[1] for d in shape)
        if kind is None:
            kind = "placeholder" if symbolic else self.choice(["placeholder", "placeholder", "variable", "constant",
                                                                "default"])
        vals = values if values is not None else self.values(shape, dtype, symbolic)
        k = len(self.leaves)
        name = self.name()
        tkdt = TK_DTYPE[dtype]
        if kind == "placeholder":
            if unknown and self.chance(40):
                static, spelled = None, "None"  # unknown rank: compiled per fed rank
            else:
                static = [None if (d[1] or (unknown and self.chance(50))) else d[0] for d in shape]
                spelled = str(static)
            tensor = tk.placeholder(tkdt, static, name=name)
            text = f"{name} = tk.placeholder(tk.{tkdt.name}, {spelled})"
        elif kind == "variable":
            tensor = tk.Variable(vals[0], name=name)
            text = f"{name} = tk.Variable(<{dtype} {vals[0].shape}>)"
        elif kind == "constant":
            tensor = tk.constant(vals[0], name=name)
            text = f"{name} = tk.constant(<{dtype} {vals[0].shape}>)"
        else:
            # the default is what runs when it is not fed: values the caller chose (indices in range) stay
            default = vals if values is not None else self.values(shape, dtype, False)
            fed = self.chance(50)
            if not fed:
                vals = default
            tensor = tk.placeholder_with_default(tk.constant(default[0]), [d[0] for d in shape], name=name)
            text = f"{name} = tk.placeholder_with_default(<{dtype} {default[0].shape}>)  # fed: {fed}"
        self.leaves.append(Leaf(len(self.nodes), kind, vals, fed=kind != "default" or fed))
        bound = max(float(np.abs(x).max(initial=0)) for x in vals) if dtype.kind == "i" else 1.0
        node = Node(len(self.nodes), tensor, None, [], k, shape, dtype, bound, True, True, text)
        for v in range(2):
            self.vals[v].append(vals[v])
        return self._record(node, not unknown)

    def pick(self, pred: Callable[[Node], bool] = lambda n: True) -> Node | None:
        cands = [n for n in self.pool if pred(n)]
        if not cands:
            return None
        # later values are likelier: graphs grow deep rather than wide
        k = self.draw(st.integers(0, len(cands) - 1))
        if self.chance(70):
            k = max(k, len(cands) - 1 - self.i(0, 2))
        return cands[min(k, len(cands) - 1)]

    def squash(self, n: Node) -> Node:
        """Keep magnitudes moderate: tanh for floats, floormod for ints (no int32 overflow)."""
        if n.dtype.kind == "f" and n.bound > 8.0:
            return self.emit(tk.tanh(n.tensor), np.tanh, [n], n.shape, n.dtype, 1.0, f"tk.tanh(v{n.index})")
        if n.dtype.kind == "i" and n.bound > 1000:
            return self.emit(tk.floormod(n.tensor, 97), lambda a: np.mod(a, a.dtype.type(97)), [n], n.shape, n.dtype,
                             96, f"tk.floormod(v{n.index}, 97)")
        return n

    def spelled_exactly(self, n: Node) -> bool:
        """The graph's static shape of n has its static dims known and only the batch unknown. A fed
        tensor's static shape is all the compiler knows of it (an unknown dim stays symbolic,
        where some ops need it known: a slice of it with a stop is refused)."""
        static = n.tensor.shape.as_tuple() if n.tensor.shape.ndims is not None else None
        return static is not None and len(static) == len(n.shape) and all(
            (s is None) if d == BATCH else (s == d[0] and d[1] == 0) for s, d in zip(static, n.shape))

    def add(self, n: Node) -> Node:
        return self.squash(n)

    def finish(self, grad: bool) -> SessionCase:
        """Choose the fetches (the last value, a few others, maybe an exact bool, maybe the same
        tensor twice) and, for some graphs, ``tk.gradients`` of a scalar loss of a float value."""
        ancestors: list[set[int]] = []
        for n in self.nodes:
            ancestors.append(set().union(*[ancestors[i] | {i} for i in n.inputs]) if n.inputs else set())
        deepest = max(self.pool, key=lambda n: len(ancestors[n.index]))  # the most of the graph in one fetch
        fetch = [deepest, self.pool[-1]] + [self.choice(self.pool) for _ in range(self.i(0, 2))]
        if self.conds and self.chance(20):
            fetch.append(self.choice(self.conds))
        floats = [n for n in self.pool if n.dtype.kind == "f"]
        loss, xs, grads, train, train_vars = None, [], [], None, []
        fed: dict[int, list[np.ndarray]] = {}
        inner = [n for n in self.pool if n.leaf is None and self.spelled_exactly(n)]
        if inner and self.chance(12):
            # TF lets any tensor be fed: it replaces what the graph computes (no gradients then:
            # the backward pass of a fed tensor's producer is not defined by its fed value)
            m = self.choice(inner)
            fed[m.index] = self.values(m.shape, m.dtype, any(d[1] for d in m.shape))
            self.lines_extra.append(f"feed v{m.index} (an intermediate) with <{m.dtype} per batch>")
            grad = False
        if grad and floats:
            y = max(floats, key=lambda n: len(ancestors[n.index])) if self.chance(60) else self.choice(floats)
            t = tk.reduce_sum(tk.sin(y.tensor) + 0.5 * tk.square(y.tensor))
            loss = self.emit(t, lambda a: np.asarray((np.sin(a) + 0.5 * np.square(a)).sum(dtype=a.dtype)), [y], (),
                             y.dtype, 0.0, f"tk.reduce_sum(tk.sin(v{y.index}) + 0.5 * tk.square(v{y.index}))", pool=False)
            deps, stack = set(), [loss.index]
            while stack:
                i = stack.pop()
                if i not in deps:
                    deps.add(i)
                    stack += self.nodes[i].inputs
            cands = [self.nodes[lf.node] for lf in self.leaves
                     if lf.kind in ("placeholder", "variable", "default") and self.nodes[lf.node].dtype.kind == "f"]
            connected = [n for n in cands if n.index in deps]
            if connected:
                xs = [self.choice(connected) for _ in range(self.i(1, 3))]
                xs = list({n.index: n for n in xs}.values())
                loose = [n for n in cands if n.index not in deps]
                if loose and self.chance(20):
                    xs.append(self.choice(loose))  # unconnected: tk.gradients gives None
                grads = tk.gradients(loss.tensor, [n.tensor for n in xs])
                train_vars = [n for n, g in zip(xs, grads) if g is not None and self.leaves[n.leaf].kind == "variable"]
                if train_vars and self.chance(40):
                    # one step from zero slots: both optimizers move each variable by -LR * gradient
                    opt = (tk.train.GradientDescentOptimizer(LR) if self.chance(50)
                           else tk.train.MomentumOptimizer(LR, momentum=0.9))
                    train = opt.minimize(loss.tensor, var_list=[n.tensor for n in train_vars])
            else:
                loss = None
        fwd = fetch + ([loss] if loss is not None else [])
        tensors = [n.tensor for n in fwd] + [g for g in grads if g is not None]
        style = self.choice(["list", "list", "list", "dict", "single"])
        if style == "single" and len(tensors) == 1:
            fetches: Any = tensors[0]
        elif style == "dict":
            fetches = {f"f{k}": t for k, t in enumerate(tensors)}
        else:
            fetches = tensors
        needed = None
        if self.chance(30):
            needed, stack = set(), [n.index for n in fwd] + [n.index for n in xs]
            while stack:
                i = stack.pop()
                if i not in needed and i not in fed:
                    needed.add(i)
                    stack += self.nodes[i].inputs
        lines = [n.text for n in self.nodes] + self.lines_extra + ([] if needed is None else ["feed only what is needed"])
        if train is not None:
            lines.append(f"train = {type(opt).__name__}({LR}).minimize(v{loss.index}, var_list="
                         f"{[f'v{n.index}' for n in train_vars]})")
        return SessionCase(self.graph, self.nodes, self.leaves, self.batches, fetches, fwd, xs, grads, loss, lines,
                           train, train_vars, needed, fed)


@dataclass
class BrokenCase:
    """Building a drawn graph raised: a bug in the API (or in the generator). Checking it re-raises."""

    lines: list[str]
    error: BaseException

    def __repr__(self) -> str:
        return "BrokenCase(" + repr(self.error) + ")\n  " + "\n  ".join(self.lines)


@st.composite
def session_graphs(draw: Callable[[Any], Any], max_ops: int = 14, gradients: bool = True) -> SessionCase | BrokenCase:
    g = _Gen(draw)
    try:
        with g.graph.as_default():
            for _ in range(draw(st.integers(1, 3))):
                rank = draw(st.integers(0, 3))
                shape = tuple(BATCH if (k == 0 and draw(st.booleans())) else (g.size(), 0)
                              for k in range(rank))
                g.leaf(shape, g.fdt if draw(st.integers(0, 4)) else I32)
            # the length from the case's own generator: hypothesis favours its smallest values
            for _ in range(int(g.rng.integers(max(2, max_ops // 3), max_ops + 1))):
                g.step()
            return g.finish(gradients and draw(st.integers(0, 2)) == 0)
    except HypothesisException:  # hypothesis' own control flow
        raise
    except Exception as e:
        return BrokenCase([n.text for n in g.nodes], e)
