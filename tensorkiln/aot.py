"""Ahead-of-time compilation (``tk.aot``): models become a shared object and a C header.

* :func:`export` — from a Session: the pruned subgraph from ``feeds`` to ``fetches``, with every
  variable frozen into a constant, becomes ``{output_dir}/{name}.so`` and ``{name}.h``.
* :func:`compile_module_to_library` — from a graph-stage Module (DSL or IR text): one C function per
  entry. ``tensorkiln compile FILE -o DIR`` is this function on the command line.
* :func:`export_graph` — a graph-stage function plus a dict of variable values (what :func:`export`
  does once it has the Session's graph); :func:`freeze` is its first half.
* :func:`load` — opens a ``.so`` from Python: takes numpy arrays, checks their shapes against the
  metadata embedded in the library, allocates the outputs, returns numpy arrays.

The C ABI (DESIGN.md) of an entry ``NAME`` is
``int32_t NAME(int64_t d0, …, const T *in0, …, T *out0, …)``: symbolic dims in order of first
appearance, inputs in feed order, caller-allocated outputs in fetch order; 0 is success,
``TENSORKILN_ERR_BAD_DIM`` (1) a negative dim, ``TENSORKILN_ERR_ALLOC`` (2) a failed malloc.
Loading compiles nothing: this module imports the compiler (and llvmlite) only when it builds.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence, Union

import numpy as np

from .errors import InvalidArgumentError, ResourceExhaustedError
from .ir.types import DTYPES, Dim, SymDim, TensorType, dim_add
from .runtime.executable import ArgSpec, NativeFunction, ShapeError

if TYPE_CHECKING:
    from .backends.llvm.aot_build import BuildResult
    from .ir.core import Function, Module

__all__ = ["export", "export_graph", "freeze", "compile_module_to_library", "build", "load", "AotLibrary", "AotFunction"]

PathLike = Union[str, os.PathLike]
ABI_VERSION = 1  # the metadata/calling-convention version; aot_build.ABI_VERSION writes it


# --------------------------------------------------------------------------- building


def _version() -> str:
    from . import __version__

    return __version__


def build(graph: "Module", output_dir: PathLike, name: str, entries: Sequence[str] | None = None,
          target: str | None = None, cpu: str | None = None,
          input_names: Mapping[str, Sequence[str]] | None = None,
          output_names: Mapping[str, Sequence[str]] | None = None,
          docs: Mapping[str, str] | None = None, features: str | None = None,
          threads: int | None = None) -> "BuildResult":
    """Compile the ``entries`` of a graph-stage Module into ``name.o``, ``name.h`` and ``name.so``.

    ``input_names``/``output_names`` (per entry) name the C parameters; by default inputs keep their
    IR names and outputs are ``out0``, ``out1``, … . ``features`` (an LLVM feature string such as
    ``"+avx2,+fma"``) goes with an explicit ``cpu``; by default a native build uses this machine's
    CPU and features, a cross build the target's generic CPU. ``threads`` caps the threads of
    parallel loops in the library (default: the code generator's default). The ``.so`` is missing from the result
    (``library is None``) only for a foreign ``target`` with no cross linker installed.
    """
    from .backends.llvm.aot_build import AotError, build_library, check_c_identifier, entry_spec
    from .backends.reference.interpreter import evaluate_op
    from .compiler.pipeline import run_to_stages
    from .ir.core import Module

    check_c_identifier(name, "library name")
    chosen = list(entries) if entries else list(graph.functions)
    missing = [e for e in chosen if e not in graph.functions]
    if missing:
        raise AotError(f"no function {', '.join(map(repr, missing))}; the module has: {', '.join(graph.functions)}")
    if not chosen:
        raise AotError("the module has no functions to compile")
    for e in chosen:
        check_c_identifier(e, "entry name")
    stages = run_to_stages(Module([graph[e] for e in chosen]), evaluate=evaluate_op)
    specs = []
    for e in chosen:
        gf = stages["graph"][e]
        specs.append(entry_spec(stages["loops"][e], len(gf.args),
                                (input_names or {}).get(e), (output_names or {}).get(e), (docs or {}).get(e, "")))
    return build_library(stages["loops"], specs, name, output_dir, target, cpu, _version(), features, threads)


def compile_module_to_library(graph_module: "Module", output_dir: PathLike, name: str, entries: Sequence[str] | None = None,
                              target: str | None = None, cpu: str | None = None) -> tuple[Path, Path]:
    """``(library path, header path)`` for the entries (default: all) of a graph-stage Module.

    The library path is ``name.so``; for a foreign target without a cross linker it is the
    position-independent object ``name.o`` (link it with that target's ``cc -shared``).
    """
    r = build(graph_module, output_dir, name, entries, target, cpu)
    return (r.library or r.object), r.header


def freeze(func: "Function", variables: Mapping[str, Any], name: str | None = None) -> "Function":
    """A copy of graph-stage ``func`` whose arguments named in ``variables`` are constants.

    Assignments to frozen arguments (training updates) are dropped: an exported model is the
    inference function. The remaining arguments keep their order.
    """
    from .backends.llvm.aot_build import AotError
    from .compiler.pipeline import clone_module
    from .ir.core import Builder, Function, Module

    src = clone_module(Module([func]))[func.name]
    unknown = set(variables) - {a.name_hint for a in src.args}
    if unknown:
        raise AotError(f"@{func.name} has no argument {', '.join(sorted(unknown))}")
    keep = [a for a in src.args if a.name_hint not in variables]
    out = Function(name or func.name, [a.type for a in keep], src.result_types, [a.name_hint for a in keep], src.loc)
    b = Builder(out.body)
    for a in src.args:
        if a.name_hint not in variables:
            continue
        t: TensorType = a.type  # type: ignore[assignment]
        value = np.array(variables[a.name_hint], dtype=t.dtype.np_dtype, order="C")
        if value.shape != t.shape:
            raise AotError(f"variable '{a.name_hint}' has shape {value.shape}; @{func.name} expects {t}")
        for op, _ in list(a.uses):
            if op.name == "graph.assign" and op.operands[0] is a:
                op.erase()
        a.replace_all_uses_with(b.op("graph.constant", value=value))
    for old, new in zip(keep, out.args):
        old.replace_all_uses_with(new)
    for op in list(src.body.ops):
        src.body.ops.remove(op)
        out.body.append(op)
    return out


def export_graph(graph: Union["Module", "Function"], variables: Mapping[str, Any], name: str, output_dir: PathLike,
                 entry: str | None = None, target: str | None = None, cpu: str | None = None,
                 input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None) -> tuple[Path, Path]:
    """Freeze ``variables`` into one graph-stage function and compile it as entry ``name``."""
    from .backends.llvm.aot_build import check_c_identifier
    from .ir.core import Module

    check_c_identifier(name, "library name")
    func = graph if not isinstance(graph, Module) else graph[entry or next(iter(graph.functions))]
    frozen = freeze(func, variables, name)
    r = build(Module([frozen]), output_dir, name, [name], target, cpu,
              {name: input_names} if input_names is not None else None,
              {name: output_names} if output_names is not None else None)
    return (r.library or r.object), r.header


def export(sess: Any, feeds: Sequence[Any], fetches: Union[Any, Sequence[Any]], name: str, output_dir: PathLike,
           target: str | None = None, cpu: str | None = None) -> tuple[Path, Path]:
    """Export the subgraph of ``sess``'s graph from ``feeds`` to ``fetches`` with variables frozen.

    ``feeds`` are placeholders (their order is the C parameter order); ``fetches`` one tensor or a
    list (the order of the output parameters); tensor names (``"probs:0"``) work too. Variables
    are read with ``sess.run`` and become constants. Returns ``(so_path, header_path)``.
    """
    fetch_list = list(fetches) if isinstance(fetches, (list, tuple)) else [fetches]
    func, variables, in_names, out_names = session_function(sess, list(feeds), fetch_list, name)
    return export_graph(func, variables, name, output_dir, target=target, cpu=cpu, input_names=in_names, output_names=out_names)


def _as_tensor(sess: Any, t: Any) -> Any:
    if isinstance(t, str):
        graph = getattr(sess, "graph", None)
        if graph is None:
            raise TypeError(f"cannot look up {t!r}: the session has no graph")
        return graph.get_tensor_by_name(t if ":" in t else t + ":0")
    return t


def session_function(sess: Any, feeds: Sequence[Any], fetches: Sequence[Any], name: str) -> tuple["Function", dict[str, np.ndarray], list[str], list[str]]:
    """The graph-stage function from ``feeds`` to ``fetches`` and the current variable values.

    Uses the graph front end's ``lower_signature`` (the same lowering ``Session.run`` compiles);
    arguments are the feeds, then the variables (read with ``sess.run``), then hidden state (the
    counters of random ops, frozen at the Session's current value). Results are in fetch order."""
    from .backends.llvm.aot_build import AotError, check_c_identifier
    from .compiler.frontend.graph import lower_signature

    check_c_identifier(name, "library name")
    feeds = [_as_tensor(sess, t) for t in feeds]
    fetches = [_as_tensor(sess, t) for t in fetches]
    if not fetches:
        raise AotError("export needs at least one fetch")
    # an exported library returns only the fetched values: no run-time checks (a gather clamps)
    sig = lower_signature(name, [t._node_output() for t in fetches], [], [t._node_output() for t in feeds], run_checks=False)
    func = sig.function
    n_feeds, n_vars = len(feeds), len(sig.variables)
    args = func.args
    variables: dict[str, np.ndarray] = {}
    if n_vars:  # one Session.run reads them all (FailedPreconditionError if one is uninitialized)
        values = sess.run([node.owner.outputs[0] for node in sig.variables])
        for arg, value in zip(args[n_feeds:n_feeds + n_vars], values):
            variables[arg.name_hint] = np.asarray(value)
    states = getattr(sess, "_states", {})
    for (kind, what), arg in zip(sig.hidden, args[n_feeds + n_vars:]):
        if kind != "state":
            raise AotError(f"cannot export: the subgraph needs a hidden '{kind}' argument ({what}) that only a Session supplies")
        variables[arg.name_hint] = np.array(states.get(what, 0), dtype=np.int64)
    ret = func.return_op
    if list(sig.results) != list(range(len(ret.operands))):
        from .ir.core import Operation

        values = [ret.operands[i] for i in sig.results]
        ret.erase()
        func.body.append(Operation("return", values, loc=ret.loc))
        func.result_types = [v.type for v in values]
    in_names = [a.name_hint or f"in{i}" for i, a in enumerate(args[:n_feeds])]
    out_names = [t.op.name if t.value_index == 0 else f"{t.op.name}_{t.value_index}" for t in fetches]
    return func, variables, in_names, out_names


# --------------------------------------------------------------------------- loading


def parse_dim(d: Union[int, str]) -> Dim:
    """A shape entry of the metadata back to a dim: ``784``, ``"N"``, ``"784*N"``, ``"N-1"``."""
    if isinstance(d, int):
        return d
    total: Dim = 0
    for sign, term in re.findall(r"([+-]?)([^+-]+)", d.replace(" ", "")):
        coef, syms = -1 if sign == "-" else 1, []
        for f in term.split("*"):
            if f.isdigit():
                coef *= int(f)
            else:
                syms.append(f)
        total = dim_add(total, SymDim({tuple(sorted(syms)): coef}) if syms else coef)
    return total


def _spec(t: Mapping[str, Any]) -> ArgSpec:
    return ArgSpec(t["name"], TensorType(tuple(parse_dim(d) for d in t["shape"]), DTYPES[t["dtype"]]))


class AotFunction:
    """One entry of a loaded library: ``f(*arrays)`` returns an array, or a tuple of them."""

    def __init__(self, lib: ctypes.CDLL, entry: Mapping[str, Any]):
        self.name: str = entry["name"]
        self.doc: str = entry.get("doc", "")
        self.metadata = dict(entry)
        address = ctypes.cast(getattr(lib, self.name), ctypes.c_void_p).value
        self._fn = NativeFunction(self.name, [_spec(t) for t in entry["inputs"]], [_spec(t) for t in entry["outputs"]],
                                  entry["symbols"], address, lib)

    @property
    def inputs(self) -> list[ArgSpec]:
        return self._fn.inputs

    @property
    def outputs(self) -> list[ArgSpec]:
        return self._fn.outputs

    @property
    def symbols(self) -> list[str]:
        return self._fn.symbols

    def __call__(self, *args: Any) -> Any:
        if len(args) != len(self.inputs):
            raise TypeError(f"{self.name}() takes {len(self.inputs)} argument(s) ({', '.join(s.name for s in self.inputs)}), got {len(args)}")
        # Python scalars and lists become arrays here (0-d stays 0-d); ndarrays pass through.
        converted = []
        for a, spec in zip(args, self.inputs):
            if not isinstance(a, np.ndarray):
                try:
                    a = np.asarray(a, dtype=spec.dtype.np_dtype, order="C")
                except (TypeError, ValueError) as e:
                    raise InvalidArgumentError(None, None, f"{self.name}: argument '{spec.name}' cannot be converted to {spec.dtype.name}: {e}") from None
            converted.append(a)
        try:
            arrays = self._fn.prepare(converted)
        except TypeError as e:
            raise InvalidArgumentError(None, None, f"{self.name}: {e}") from None
        try:
            outs = self._fn.call(arrays)
        except ShapeError as e:
            raise InvalidArgumentError(None, None, f"{self.name}: {e}") from None
        except RuntimeError as e:
            raise ResourceExhaustedError(None, None, str(e)) from None
        return outs[0] if len(outs) == 1 else tuple(outs)

    def __repr__(self) -> str:
        ins = ", ".join(f"{s.name}: {s.type}" for s in self.inputs)
        return f"<AotFunction {self.name}({ins})>"


class AotLibrary:
    """A loaded tensorkiln ``.so``: entries by attribute or ``lib["name"]``; callable if it has one."""

    def __init__(self, path: PathLike):
        self.path = Path(path).resolve()
        self._lib = ctypes.CDLL(str(self.path))
        self.metadata: dict[str, Any] = json.loads(_read_metadata(self._lib, self.path))
        if self.metadata.get("format") != "tensorkiln-aot":
            raise ValueError(f"{self.path} does not carry tensorkiln metadata")
        if self.metadata.get("abi_version") != ABI_VERSION:
            raise ValueError(f"{self.path} uses tensorkiln AOT ABI {self.metadata.get('abi_version')}; this tensorkiln reads {ABI_VERSION}")
        self.functions = {e["name"]: AotFunction(self._lib, e) for e in self.metadata["entries"]}

    @property
    def entries(self) -> list[str]:
        return list(self.functions)

    def __getitem__(self, name: str) -> AotFunction:
        try:
            return self.functions[name]
        except KeyError:
            raise KeyError(f"{self.path.name} has no entry {name!r}; entries: {', '.join(self.functions)}") from None

    def __getattr__(self, name: str) -> AotFunction:
        functions = self.__dict__.get("functions", {})
        if name in functions:
            return functions[name]
        raise AttributeError(name)

    def __call__(self, *args: Any) -> Any:
        if len(self.functions) != 1:
            raise TypeError(f"{self.path.name} has {len(self.functions)} entries ({', '.join(self.functions)}); call lib.NAME(...)")
        return next(iter(self.functions.values()))(*args)

    def __repr__(self) -> str:
        return f"<AotLibrary {self.path.name}: {', '.join(self.functions)}>"


def _read_metadata(lib: ctypes.CDLL, path: Path) -> str:
    names = [path.stem, path.stem[3:] if path.stem.startswith("lib") else None]
    names += [m.decode() for m in re.findall(rb"tensorkiln_metadata_([A-Za-z0-9_]+)\x00", path.read_bytes())]
    for n in names:
        if not n:
            continue
        try:
            acc = getattr(lib, f"tensorkiln_metadata_{n}")
        except AttributeError:
            continue
        acc.restype, acc.argtypes = ctypes.c_char_p, []
        return acc().decode()
    raise ValueError(f"{path} exports no tensorkiln_metadata_* function: not a tensorkiln library")


def load(path: PathLike, entry: str | None = None) -> Union[AotLibrary, AotFunction]:
    """Load a tensorkiln ``.so``: the library (callable when it has one entry), or one ``entry``."""
    lib = AotLibrary(path)
    return lib[entry] if entry is not None else lib

