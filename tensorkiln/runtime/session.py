"""``Session``: runs fetches of a graph, each distinct (fetches, feeds) signature as ONE native call.

``run`` looks the call up in a per-Session plan cache (keyed by the fetch structure and the feed
keys, so a repeated call does no graph walk), converts feeds to the placeholders' dtypes (any
layout; made contiguous), checks their static shapes (TF's ``ValueError``), gathers the Session's
variable buffers and hidden RNG counters, and makes the native call — which checks every dim
before running and releases the GIL while it runs. Variable updates happen in place in that call.
A signature with checks (``CheckNumerics``, index ranges) also returns their statuses; after the
call the first failing one (in the order its tensor was produced) raises ``InvalidArgumentError``.

Concurrency: calls that only read variables share a readers-writer lock; calls that assign
(or advance a random op's counter) take it exclusively, so concurrent ``run``\\ s give serial results.
Graph-level pieces are reached by duck typing (see :mod:`.signature`); ``tensorkiln.framework``
registers the default-graph provider at import.

``RunOptions``/``RunMetadata`` are accepted. When ``run_metadata`` is given it records: ``signature``
(the compiled function's name), ``compiled`` (whether this call compiled it), ``compile_seconds``,
``run_seconds``, ``step_stats.dev_stats[0].node_stats`` (one entry for the native call, named after
the signature, with start/end micros) and, when ``options.output_partition_graphs`` is set,
``partition_graphs`` (the graph-stage IR text).
"""
from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Any, Callable, Iterator

import numpy as np

from .. import errors
from ..compiler.frontend.graph import GraphLoweringError, MissingFeedError
from ..ir.diagnostics import CompileError
from ..ir.types import SymDim
from .config import ConfigProto, RunMetadata, RunOptions, _NodeExecStats, is_local_cpu  # noqa: F401
from .rwlock import _RWLock
from .executable import ShapeError
from .numerics import split_checked
from .signature import CompiledSignature, compile_signature

LOCAL_CPU = "/job:localhost/replica:0/task:0/device:CPU:0"

_default_graph_provider: Callable[[], Any] | None = None  # set by tensorkiln.framework
_host_planner: Callable[..., Any] | None = None  # [tensorkiln.summary hook] set by tensorkiln.summary.summary_ops


# --------------------------------------------------------------------------- default session


class _SessionStack(threading.local):
    def __init__(self) -> None:
        self.stack: list["Session"] = []


_sessions = _SessionStack()


def get_default_session() -> "Session | None":
    s = _sessions.stack
    return s[-1] if s else None


def _session_for(graph: Any, session: Any, what: str) -> "Session":
    sess = session if session is not None else get_default_session()
    if sess is None:
        raise ValueError(f"Cannot {what} using `eval()`/`run()`: No default session is registered. Use "
                         "`with sess.as_default()` or pass an explicit session to `eval(session=sess)`")
    if sess.graph is not graph:
        raise ValueError(f"Cannot use the given session to {what}: the tensor's graph is different from the "
                         "session's graph. Pass an explicit session to `eval(session=sess)`.")
    return sess


# --------------------------------------------------------------------------- fetch structures

_LIST, _TUPLE, _NAMED, _DICT = object(), object(), object(), object()


def _is_leaf(f: Any) -> bool:
    return getattr(type(f), "_tk_element", None) is not None or isinstance(f, str) or hasattr(f, "_as_graph_element")


def _freeze(f: Any) -> Any:
    """A hashable key with the structure of ``fetches``; its leaves are the fetch elements."""
    if _is_leaf(f):
        return f
    t = type(f)
    if t is list:
        return (_LIST, tuple(_freeze(x) for x in f))
    if isinstance(f, tuple):
        if hasattr(f, "_fields"):
            return (_NAMED, t, tuple(_freeze(x) for x in f))
        return (_TUPLE, tuple(_freeze(x) for x in f))
    if isinstance(f, dict):
        return (_DICT, t, tuple((k, _freeze(v)) for k, v in f.items()))
    if isinstance(f, list):
        return (_LIST, tuple(_freeze(x) for x in f))
    raise TypeError(f"Fetch argument {f!r} has invalid type {type(f)}, must be a string or Tensor. (Can not "
                    f"convert a {type(f).__name__} into a Tensor or Operation.)")


def _leaves(key: Any, out: list) -> list:
    if isinstance(key, tuple) and key and key[0] in (_LIST, _TUPLE):
        for k in key[1]:
            _leaves(k, out)
    elif isinstance(key, tuple) and key and key[0] is _NAMED:
        for k in key[2]:
            _leaves(k, out)
    elif isinstance(key, tuple) and key and key[0] is _DICT:
        for _, k in key[2]:
            _leaves(k, out)
    else:
        out.append(key)
    return out


def _rebuilder(key: Any, counter: list[int]) -> Callable[[list], Any]:
    if isinstance(key, tuple) and key and key[0] in (_LIST, _TUPLE):
        parts = [_rebuilder(k, counter) for k in key[1]]
        kind = list if key[0] is _LIST else tuple
        return lambda vals: kind(p(vals) for p in parts)
    if isinstance(key, tuple) and key and key[0] is _NAMED:
        cls, parts = key[1], [_rebuilder(k, counter) for k in key[2]]
        return lambda vals: cls(*[p(vals) for p in parts])
    if isinstance(key, tuple) and key and key[0] is _DICT:
        cls, items = key[1], [(k, _rebuilder(v, counter)) for k, v in key[2]]
        return lambda vals: cls((k, p(vals)) for k, p in items)
    i = counter[0]
    counter[0] += 1
    return lambda vals: vals[i]


# --------------------------------------------------------------------------- plans


def _feed_converter(t: Any) -> Callable[[Any], np.ndarray]:
    np_dtype = np.dtype(t.dtype.as_numpy_dtype)
    static = t.shape.as_tuple()
    name = t.name
    shape_text = str(t.shape)

    accepted: set[tuple[int, ...]] = set()  # shapes already checked against ``static``

    def convert(value: Any) -> np.ndarray:
        if type(value) is not np.ndarray or value.dtype != np_dtype:
            if getattr(type(value), "_tk_element", None) is not None or hasattr(value, "_as_tensor"):
                raise TypeError("The value of a feed cannot be a tk.Tensor object. Acceptable feed values include "
                                "Python scalars, strings, lists, numpy ndarrays, or TensorHandles.")
            src = np.asarray(value) if not isinstance(value, np.ndarray) else value
            if src.dtype.kind == "c" and np_dtype.kind != "c":
                # numpy would drop the imaginary part with only a warning: losing data is an error here
                raise TypeError(f"Cannot feed a value of dtype {src.dtype} for Tensor {name!r}, which has dtype "
                                f"{t.dtype.name}")
            value = np.asarray(src, dtype=np_dtype)
        shp = value.shape
        if static is not None and shp not in accepted:
            if len(shp) != len(static) or any(s is not None and s != d for s, d in zip(static, shp)):
                raise ValueError(f"Cannot feed value of shape {shp} for Tensor {name!r}, which has shape '{shape_text}'")
            if len(accepted) < 64:
                accepted.add(shp)
        if not value.flags.c_contiguous:
            try:
                value = np.ascontiguousarray(value)  # layout only: strided views become contiguous
            except MemoryError:
                raise errors.ResourceExhaustedError(
                    None, None, f"OOM copying the value fed for Tensor {name!r} of shape {shp} into contiguous memory") from None
        return value
    return convert


def _scalarize(a: np.ndarray) -> Any:
    return a[()] if a.ndim == 0 else a


class _Plan:
    """A prepared ``run`` call: element lookup, feed conversion and result structure, done once."""

    def __init__(self, sess: "Session", fetches: Any, fkey: Any, feed_keys: tuple):
        g = sess.graph
        self.tensors: list[Any] = []
        self.ops: list[Any] = []
        slots: list[tuple[int, int]] = []  # (0: tensor / 1: op, index)
        for leaf in _leaves(fkey, []):
            try:
                el = g.as_graph_element(leaf, allow_tensor=True, allow_operation=True)
            except TypeError as e:
                raise TypeError(f"Fetch argument {leaf!r} has invalid type {type(leaf)}, must be a string or Tensor. "
                                f"({e})") from None
            except (ValueError, KeyError) as e:
                msg = e.args[0] if e.args else str(e)
                raise ValueError(f"Fetch argument {leaf!r} cannot be interpreted as a Tensor. ({msg})") from None
            if el._tk_element == "tensor":
                if el not in self.tensors:
                    self.tensors.append(el)
                slots.append((0, self.tensors.index(el)))
            else:
                if el not in self.ops:
                    self.ops.append(el)
                slots.append((1, 0))
        feeds = []
        for k in feed_keys:
            try:
                t = g.as_graph_element(k, allow_tensor=True, allow_operation=False)
            except (TypeError, ValueError, KeyError) as e:
                msg = e.args[0] if e.args else str(e)
                raise TypeError(f"Cannot interpret feed_dict key as Tensor: {msg}") from None
            feeds.append(t)
        order = sorted(range(len(feeds)), key=lambda i: (feeds[i].op._id, feeds[i].value_index))
        self.feeds = []  # canonical order, unique
        position = {}
        for i in order:
            if feeds[i] not in position:
                position[feeds[i]] = len(self.feeds)
                self.feeds.append(feeds[i])
        self.feed_pos = [position[t] for t in feeds]
        # [tensorkiln.summary hook] summary ops are host ops: the native call computes the tensors they
        # read, and ``host.finish`` packs those into serialized Summary protos after the call.
        self.host = _host_planner(self.tensors, self.ops, self.feeds) if _host_planner is not None else None
        if self.host is not None:
            self.tensors, self.ops = self.host.native_tensors, self.host.native_ops
        self.convert = [_feed_converter(t) for t in feeds]
        self.unknown_rank = [k for k, t in enumerate(self.feeds) if t.shape.ndims is None]
        self.runners: dict[tuple, _Runner] = {}
        self.slots = slots
        self.fixed: _Runner | None = None  # the runner, once known, when no feed has an unknown rank
        # a single fetched tensor is the common case: its value is the one result (see ``run``)
        self.single_tensor = _is_leaf(fetches) and slots == [(0, 0)] and self.host is None
        # a single fetched op (a train op) is the other common case: its result is None
        self.single_op = _is_leaf(fetches) and slots == [(1, 0)] and self.host is None
        self.rebuild = (lambda vals: vals[0]) if _is_leaf(fetches) else _rebuilder(fkey, [0])

    def runner(self, sess: "Session", arrays: list) -> "_Runner":
        ranks = tuple(arrays[k].ndim for k in self.unknown_rank)
        r = self.runners.get(ranks)
        if r is None:
            feed_ranks = [None] * len(self.feeds)
            for k, n in zip(self.unknown_rank, ranks):
                feed_ranks[k] = n
            r = self.runners[ranks] = sess._runner(self.tensors, self.ops, self.feeds, feed_ranks)
            if not self.unknown_rank:
                self.fixed = r
        return r

    def run(self, sess: "Session", feed_dict: Any, run_metadata: Any, options: Any) -> Any:
        arrays: list = [None] * len(self.feeds)
        if feed_dict:
            for pos, conv, value in zip(self.feed_pos, self.convert, feed_dict.values()):
                arrays[pos] = conv(value)
        runner = self.fixed or self.runner(sess, arrays)
        outs = runner.call(sess, arrays, run_metadata, options)
        if self.single_tensor:
            out = outs[0]
            return out[()] if out.ndim == 0 else out
        if self.single_op:
            return None
        if self.host is not None:  # [tensorkiln.summary hook]
            outs = self.host.finish(outs, arrays)
        vals = [None if kind else _scalarize(outs[i]) for kind, i in self.slots]
        return self.rebuild(vals)


class _Runner:
    """A compiled signature bound to one Session: argument assembly and the locked native call."""

    def __init__(self, sess: "Session", sig: CompiledSignature, compiled_now: bool):
        self.sig = sig
        self.fn = sig.fn
        self.var_nodes = list(sig.variables)
        self.reads_entry = list(sig.reads_entry)
        self.writes = any(sig.writes) or any(kind == "state" for kind, _ in sig.hidden)
        self.touches = bool(self.var_nodes) or self.writes
        self.hidden = sig.hidden
        self.sources = sig.lowered.symbol_sources
        self.compiled_now = compiled_now
        self.checks = list(sig.lowered.checks)
        self._dim_source = {d: self.sources[d.name] for kind, d in self.hidden  # an index vector as long as a fed dim
                            if kind == "iota" and isinstance(d, SymDim) and d.is_symbol and d.name in self.sources}
        # (the Session's variable version, this runner's variable buffers read at it): buffers are
        # updated in place, so the list only changes when the Session's set of variable buffers
        # does (``Session._var_version``). One attribute, replaced whole: runs on other threads
        # (readers share the lock) see either the old pair or the new one.
        self._var_cache: tuple[int, list] = (-1, [])
        if self.checks:  # only runners with checks pay for reading their statuses
            self.call = self._checked_call  # type: ignore[method-assign]

    def _checked_call(self, sess: "Session", feeds: list, run_metadata: Any, options: Any) -> list:
        """``call``, then raise for the first failed check (a NaN or Inf, an index out of range)."""
        return split_checked(_Runner.call(self, sess, feeds, run_metadata, options), self.checks)

    def _var_args(self, sess: "Session") -> tuple[list, dict]:
        args, pending = [], {}
        store = sess._variables
        for node, reads in zip(self.var_nodes, self.reads_entry):
            buf = store.get(node)
            if buf is None:
                if reads:
                    raise errors.FailedPreconditionError(
                        getattr(node.owner, "node_def", None), node.owner,
                        f"Attempting to use uninitialized value {node.name}")
                shape, dt = node.output_types[0]
                try:
                    buf = pending[node] = np.empty(shape, dtype=dt.np_dtype)
                except MemoryError:
                    raise errors.ResourceExhaustedError(
                        getattr(node.owner, "node_def", None), node.owner,
                        f"OOM allocating variable {node.name} of shape {tuple(shape)}") from None
            args.append(buf)
        return args, pending

    def _hidden_args(self, sess: "Session", feeds: list) -> list:
        out = []
        for kind, what in self.hidden:
            if kind == "state":
                st = sess._states.get(what)
                if st is None:
                    st = sess._states[what] = np.zeros((), dtype=np.int64)
                out.append(st)
            else:
                dim = what
                src = self._dim_source.get(dim)
                if src is not None:  # a feed's dim itself (a batch size): no polynomial to evaluate
                    dim = feeds[src[0]].shape[src[1]]
                elif not isinstance(dim, int):
                    env = {s: feeds[i].shape[k] for s, (i, k) in self.sources.items()}
                    dim = dim.evaluate(env)
                out.append(sess._iota(dim))
        return out

    def call(self, sess: "Session", feeds: list, run_metadata: Any, options: Any) -> list:
        if self.fn is None:
            return []
        lock = sess._rwlock
        if self.writes:
            lock.acquire_write()
        elif self.touches:
            lock.acquire_read()
        try:
            version, var_args = self._var_cache
            pending = None
            if version != sess._var_version:
                var_args, pending = self._var_args(sess) if self.var_nodes else ([], None)
                if not pending:
                    self._var_cache = (sess._var_version, var_args)
            args = feeds + var_args + (self._hidden_args(sess, feeds) if self.hidden else [])
            start = time.perf_counter() if run_metadata is not None else 0.0
            try:
                # feeds were converted by their plan, variables and states are the Session's own
                # C-contiguous buffers of the right dtype: no per-array gate needed
                outs = self.fn.call_prepared(args)
            except ShapeError as e:
                cls = errors.ResourceExhaustedError if "out of memory" in str(e) else errors.InvalidArgumentError
                raise cls(None, None, f"{self.sig.name}: {e}") from None
            except MemoryError as e:  # numpy could not allocate an output
                raise errors.ResourceExhaustedError(None, None, f"{self.sig.name}: OOM allocating an output: {e}") from None
            except (ValueError, RuntimeError) as e:
                cls = errors.ResourceExhaustedError if "memory" in str(e) else errors.InvalidArgumentError
                text = str(e)  # the native function's errors already start with its name
                raise cls(None, None, text if text.startswith(self.sig.name) else f"{self.sig.name}: {text}") from None
            if pending:
                sess._variables.update(pending)
                sess._var_version += 1
        finally:
            if self.writes:
                lock.release_write()
            elif self.touches:
                lock.release_read()
        if run_metadata is not None:
            _record(run_metadata, self, start, time.perf_counter(), options)
        return outs


def _record(md: Any, runner: _Runner, start: float, end: float, options: Any) -> None:
    sig = runner.sig
    md.signature = sig.name
    md.compiled = runner.compiled_now
    runner.compiled_now = False
    md.compile_seconds = sig.compile_seconds
    md.run_seconds = end - start
    md.step_stats.record(LOCAL_CPU, _NodeExecStats(sig.name, int(start * 1e6), int(end * 1e6)))
    if options is not None and getattr(options, "output_partition_graphs", False):
        md.partition_graphs = [sig.ir("graph")]


# --------------------------------------------------------------------------- Session


class Session:
    """Runs ops of one graph (default: the default graph when the Session is made)."""

    def __init__(self, target: str = "", graph: Any = None, config: ConfigProto | None = None):
        if graph is None:
            if _default_graph_provider is None:
                raise RuntimeError("no graph given and the graph API (tensorkiln.framework) is not loaded")
            graph = _default_graph_provider()
        if target not in ("", None, "local"):
            raise errors.UnimplementedError(None, None, f"Session target {target!r} is not supported (only local)")
        if config is not None and not isinstance(config, ConfigProto):
            raise TypeError(f"config must be a tk.ConfigProto. Got {type(config)}")
        self._graph = graph
        self._config = config or ConfigProto()
        self._target = target or ""
        self._closed = False
        self._variables: dict[Any, np.ndarray] = {}
        self._var_version = 0  # bumped whenever ``_variables`` changes (see ``_Runner``)
        self._states: dict[Any, np.ndarray] = {}
        self._plans: dict[Any, _Plan] = {}
        self._runners: dict[int, _Runner] = {}
        self._plan_lock = threading.Lock()
        self._rwlock = _RWLock()
        self._iota_buf = np.arange(64, dtype=np.int64)
        self._contexts: list[Any] = []
        self.compile_count = 0  # signatures this Session compiled (others may come from the graph's cache)

    graph = property(lambda self: self._graph)
    sess_str = property(lambda self: self._target)

    @property
    def graph_def(self) -> Any:
        return [op.node_def for op in self._graph.get_operations()]

    def list_devices(self) -> list[Any]:
        from .config import DeviceAttributes

        return [DeviceAttributes(LOCAL_CPU, "CPU")]

    # -- running -------------------------------------------------------------------
    def run(self, fetches: Any, feed_dict: Any = None, options: Any = None, run_metadata: Any = None) -> Any:
        """Compute ``fetches`` (same nesting in the result); ``feed_dict`` maps tensors/names to values."""
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        fkey = _freeze(fetches)
        feed_keys = tuple(feed_dict) if feed_dict else ()
        try:
            plan = self._plans.get((fkey, feed_keys))
        except TypeError:
            raise TypeError(f"Fetch and feed_dict keys must be hashable, got {fetches!r}") from None
        if plan is None:
            with self._plan_lock:
                plan = self._plans.get((fkey, feed_keys))
                if plan is None:
                    plan = _Plan(self, fetches, fkey, feed_keys)
                    self._plans[(fkey, feed_keys)] = plan
        return plan.run(self, feed_dict, run_metadata, options)

    def make_callable(self, fetches: Any, feed_list: Any = None, accept_options: bool = False) -> Callable[..., Any]:
        """A function of the ``feed_list`` values that runs ``fetches`` (TF's ``make_callable``)."""
        feed_list = list(feed_list or [])

        def call(*args: Any, **kwargs: Any) -> Any:
            if len(args) != len(feed_list):
                raise TypeError(f"expected {len(feed_list)} feed values, got {len(args)}")
            opts = kwargs.pop("options", None) if accept_options else None
            md = kwargs.pop("run_metadata", None) if accept_options else None
            return self.run(fetches, dict(zip(feed_list, args)), opts, md)
        return call

    def _runner(self, tensors: list, ops: list, feeds: list, feed_ranks: list) -> _Runner:
        try:
            threads = self._config.intra_op_parallelism_threads or None
            sig, compiled_now = compile_signature(self._graph, tensors, ops, feeds, feed_ranks, threads)
        except MissingFeedError as e:
            raise errors.InvalidArgumentError(getattr(e.node.owner, "node_def", None), e.node.owner,
                                              _missing_feed_message(e.node)) from None
        except GraphLoweringError as e:
            owner = getattr(e.node, "owner", None)
            raise errors.InvalidArgumentError(getattr(owner, "node_def", None), owner, e.message) from None
        except CompileError as e:
            raise errors.InternalError(None, None, f"compiling the signature failed: {e}") from None
        self.compile_count += int(compiled_now)
        runner = self._runners.get(id(sig))
        if runner is None:
            self._check_devices(sig)
            runner = self._runners[id(sig)] = _Runner(self, sig, compiled_now)
        return runner

    def _check_devices(self, sig: CompiledSignature) -> None:
        soft = self._config.allow_soft_placement
        for node in sig.lowered.nodes:
            if node.device and not is_local_cpu(node.device) and not soft:
                raise errors.InvalidArgumentError(
                    getattr(node.owner, "node_def", None), node.owner,
                    f"Cannot assign a device for operation '{node.name}': Operation was explicitly assigned to "
                    f"{node.device} but available devices are [ {LOCAL_CPU} ]. Make sure the device specification "
                    "refers to a valid device.")
        if self._config.log_device_placement:
            for node in sig.lowered.nodes:
                op_type = getattr(node.owner, "type", node.kind)
                print(f"{node.name}: ({op_type}): {LOCAL_CPU}", file=sys.stderr)

    def _iota(self, n: int) -> np.ndarray:
        if n < 0:
            raise errors.InvalidArgumentError(None, None, f"negative dimension {n}")
        if n > len(self._iota_buf):
            with self._plan_lock:
                if n > len(self._iota_buf):
                    try:
                        self._iota_buf = np.arange(max(n, 2 * len(self._iota_buf)), dtype=np.int64)
                    except MemoryError:
                        raise errors.ResourceExhaustedError(None, None, f"OOM allocating an index vector of {n} elements") from None
        return self._iota_buf[:n]

    # -- lifetime -------------------------------------------------------------------
    def close(self) -> None:
        self._closed = True
        self._variables.clear()
        self._var_version += 1
        self._states.clear()
        self._plans.clear()
        self._runners.clear()

    @contextlib.contextmanager
    def as_default(self) -> Iterator["Session"]:
        _sessions.stack.append(self)
        try:
            yield self
        finally:
            _sessions.stack.remove(self) if self in _sessions.stack else None

    def __enter__(self) -> "Session":
        if self._closed:
            raise RuntimeError("Session is closed.")
        ctx_graph = self._graph.as_default()
        ctx_sess = self.as_default()
        ctx_graph.__enter__()
        ctx_sess.__enter__()
        self._contexts.append((ctx_graph, ctx_sess))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        ctx_graph, ctx_sess = self._contexts.pop()
        ctx_sess.__exit__(exc_type, exc, tb)
        ctx_graph.__exit__(exc_type, exc, tb)
        self.close()

    def __del__(self) -> None:
        try:
            self._closed = True
        except Exception:
            pass


class InteractiveSession(Session):
    """A Session that installs itself as the default session (and its graph as default) at once."""

    def __init__(self, target: str = "", graph: Any = None, config: ConfigProto | None = None):
        super().__init__(target, graph, config)
        self._interactive = (self._graph.as_default(), self.as_default())
        for ctx in self._interactive:
            ctx.__enter__()

    def close(self) -> None:
        ctxs = getattr(self, "_interactive", None)
        if ctxs is not None:
            self._interactive = None
            for ctx in reversed(ctxs):
                try:
                    ctx.__exit__(None, None, None)
                except Exception:  # a context entered on another thread: nothing to undo here
                    pass
        super().close()


def _missing_feed_message(node: Any) -> str:
    op = node.owner
    msg = f"You must feed a value for placeholder tensor '{node.name}'"
    try:
        dt = op.get_attr("dtype").name
        msg += f" with dtype {dict(float32='float', float64='double').get(dt, dt)}"
        shape = op.get_attr("shape")
        if shape.ndims is not None:
            msg += f" and shape {shape.tf_list_str()}"
    except Exception:
        pass
    return msg


def get_ir(fetches: Any, feeds: Any = None, stage: str = "graph", graph: Any = None) -> str:
    """The IR text (``graph``, ``optimized``, ``loops``, ``llvm``, ``llvm-opt`` or ``asm``) of the
    function ``Session.run(fetches, feeds)`` runs. ``feeds`` is a list of tensors, or a feed dict
    (whose values give the ranks of unknown-rank placeholders)."""
    if graph is None:
        leaves = _leaves(_freeze(fetches), [])
        graph = next((getattr(x, "graph", None) for x in leaves if getattr(x, "graph", None) is not None), None)
        graph = graph or (_default_graph_provider() if _default_graph_provider else None)
    feed_keys = tuple(feeds) if feeds else ()
    sess = Session(graph=graph)
    plan = _Plan(sess, fetches, _freeze(fetches), feed_keys)
    values = list(feeds.values()) if isinstance(feeds, dict) else [None] * len(feed_keys)
    arrays: list = [None] * len(plan.feeds)
    for pos, v in zip(plan.feed_pos, values):
        arrays[pos] = np.asarray(v) if v is not None else None
    ranks = [None] * len(plan.feeds)
    for k in plan.unknown_rank:
        if arrays[k] is None:
            raise ValueError(f"feed {plan.feeds[k].name} has an unknown rank: pass a feed dict with a value for it")
        ranks[k] = arrays[k].ndim
    runner = sess._runner(plan.tensors, plan.ops, plan.feeds, ranks)
    return runner.sig.ir(stage)
