"""Native executables: a compiled function's signature, argument checking and the one native call.

A :class:`NativeFunction` knows its inputs' and outputs' (symbolic) shapes and dtypes. A call binds
the symbols from the input shapes, checks every dim and dtype *before* the native call (so native
code never sees a shape it was not compiled for), allocates the outputs, and makes exactly one
native call, the GIL released during it (through the generated METH_FASTCALL builtin of
``fastcall.py``, else ctypes). numpy arrays here are only buffers.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import out_buffers
from .fastcall import FastEntry
from ..ir.types import DType, Dim, SymDim, TensorType, dim_str

ERROR_CODES = {1: "a dimension is negative",
               2: "out of memory allocating a temporary buffer (or a size computed from the dims overflows int64)",
               3: "an index was out of bounds (bounds-checked build)"}
# Outputs beyond this many bytes are refused before the call (no machine holds them anyway).
MAX_BUFFER_BYTES = 1 << 48
# Native code sizes, strides and loop bounds are int64: a shape whose dims, zeros counted as 1
# (numpy's rule), times the element size exceed this is refused, even when it has no elements.
INT64_MAX = (1 << 63) - 1


class ShapeError(ValueError):
    """An argument's shape does not fit the compiled signature."""


@dataclass(frozen=True)
class ArgSpec:
    name: str
    type: TensorType

    @property
    def dtype(self) -> DType:
        return self.type.dtype


def shape_text(shape: Sequence[Dim]) -> str:
    return "(" + ", ".join("?" if isinstance(d, SymDim) and d.is_symbol and d.name.startswith("?") else dim_str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


def bind_symbols(specs: Sequence[ArgSpec], shapes: Sequence[tuple[int, ...]], symbols: Sequence[str]) -> dict[str, int]:
    """Bind symbolic dims from concrete shapes; raise ShapeError naming the argument on mismatch."""
    env: dict[str, int] = {}
    for spec, shape in zip(specs, shapes):
        want = spec.type.shape
        if len(shape) != len(want):
            raise ShapeError(f"argument '{spec.name}' expects shape {shape_text(want)} (rank {len(want)}), got {tuple(shape)}")
        for d, n in zip(want, shape):
            if isinstance(d, SymDim) and d.is_symbol:
                prev = env.setdefault(d.name, n)
                if prev != n:
                    raise ShapeError(
                        f"argument '{spec.name}' has shape {tuple(shape)} but dim {dim_str(d)} was bound to {prev} by an earlier argument (expected {shape_text(want)})")
    for spec, shape in zip(specs, shapes):
        for d, n in zip(spec.type.shape, shape):
            if isinstance(d, int) or not d.is_symbol:
                expect = d if isinstance(d, int) else d.evaluate(env)
                if expect != n:
                    raise ShapeError(f"argument '{spec.name}' expects shape {shape_text(spec.type.shape)}, got {tuple(shape)}")
    missing = [s for s in symbols if s not in env]
    if missing:
        raise ShapeError(f"symbolic dims {missing} cannot be bound from the inputs")
    return env


def _numpy_layout_ok() -> bool:
    """Whether numpy arrays keep their data pointer where the generated wrappers read it."""
    from ..backends.llvm.pywrappers import NUMPY_DATA_OFFSET

    probe = np.arange(3, dtype=np.float32)
    return ctypes.c_void_p.from_address(id(probe) + NUMPY_DATA_OFFSET).value == probe.ctypes.data


_LAYOUT_OK: bool | None = None
_PLAN_CACHE_SIZE = 64


class NativeFunction:
    """One compiled entry point with the ABI ``i32 f(i64 dims…, ptr inputs…, ptr outputs…)``.

    Calls are planned per tuple of input shapes: binding the symbols, checking every dim and
    computing the output shapes happens once per shape tuple; later calls with the same shapes look
    the plan up. With ``py_address`` (a generated wrapper that takes the arrays themselves) a call
    passes the numpy objects straight to native code; with ``fast_address`` too, through a builtin
    rather than ctypes.
    """

    def __init__(self, name: str, inputs: Sequence[ArgSpec], outputs: Sequence[ArgSpec], symbols: Sequence[str],
                 address: int, keepalive: Any, py_address: int | None = None, fast_address: int | None = None):
        self.name = name
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.symbols = list(symbols)
        self._keepalive = [keepalive]  # the JIT engines that own the code (each tier's)
        self.tier = 1  # 0 while it runs quickly compiled code (backends/llvm/tiering.py)
        self._cfunc, self._pyfunc, self._fast = self._entry_points(address, py_address, fast_address)
        self._np_dtypes = [s.dtype.np_dtype for s in self.inputs]
        self._out_dtypes = [s.dtype.np_dtype for s in self.outputs]
        self._plans: dict[tuple, tuple[tuple[int, ...], list[tuple[int, ...]], list[int] | None]] = {}

    def _entry_points(self, address: int, py_address: int | None, fast_address: int | None) -> tuple[Any, Any, Any]:
        """(the ctypes function of the plain entry, of the ``.py`` wrapper or None, the ``.fast``
        builtin's holder or None): the wrappers only where numpy's layout is the one they read."""
        global _LAYOUT_OK
        nbuf = len(self.inputs) + len(self.outputs)
        proto = ctypes.CFUNCTYPE(ctypes.c_int32, *([ctypes.c_int64] * len(self.symbols)), *([ctypes.c_void_p] * nbuf))
        pyfunc = fast = None
        if py_address:
            if _LAYOUT_OK is None:
                _LAYOUT_OK = _numpy_layout_ok()
            if _LAYOUT_OK:
                pyproto = ctypes.CFUNCTYPE(ctypes.c_int32, *([ctypes.c_int64] * len(self.symbols)), *([ctypes.py_object] * nbuf))
                pyfunc = pyproto(py_address)
                if fast_address:
                    fast = FastEntry(fast_address, self.name)
        return proto(address), pyfunc, fast

    def retarget(self, address: int, py_address: int | None, keepalive: Any, fast_address: int | None = None) -> None:
        """Call the same function's code at a new address from now on (tiered compilation's
        optimized code). The old code stays loaded for as long as this object lives: a call on
        another thread may be running it."""
        self._keepalive.append(keepalive)
        self._cfunc, self._pyfunc, self._fast = self._entry_points(address, py_address, fast_address)
        self.tier = 1

    def prepare(self, args: Sequence[Any]) -> list[np.ndarray]:
        if len(args) != len(self.inputs):
            raise TypeError(f"{self.name}() takes {len(self.inputs)} argument(s) ({', '.join(s.name for s in self.inputs)}), got {len(args)}")
        arrays = []
        for spec, a, dt in zip(self.inputs, args, self._np_dtypes):
            if type(a) is np.ndarray:
                if a.dtype != dt:
                    raise TypeError(f"argument '{spec.name}' expects dtype {spec.dtype.name} ({dt}), got {a.dtype}")
                if not a.flags.c_contiguous:
                    a = np.ascontiguousarray(a)  # layout only; strided views are copied, not computed on
            else:
                try:
                    a = np.asarray(a, dtype=dt, order="C")  # keeps 0-d scalars 0-d
                except (TypeError, ValueError) as e:
                    raise TypeError(f"argument '{spec.name}' cannot be converted to {spec.dtype.name}: {e}") from None
            arrays.append(a)
        return arrays

    def __call__(self, *args: Any) -> Any:
        outs = self.call(self.prepare(args))
        return outs[0] if len(outs) == 1 else tuple(outs)

    def plan(self, shapes: tuple) -> tuple[tuple[int, ...], list[tuple[int, ...]], list[int] | None]:
        """(dim arguments, output shapes, output sizes in bytes when any is large — else None) for
        these input shapes; raises ShapeError if they don't fit."""
        got = self._plans.get(shapes)
        if got is None:
            env = bind_symbols(self.inputs, shapes, self.symbols)
            for n in env.values():
                if n < 0:
                    raise ShapeError("negative dimension")
            out_shapes = [tuple(d if isinstance(d, int) else d.evaluate(env) for d in s.type.shape) for s in self.outputs]
            sizes = []
            for spec, shape in zip(self.outputs, out_shapes):
                # Python ints: the products here cannot wrap, so they are checked exactly, once per shape
                n, bound = 1, spec.dtype.np_dtype.itemsize
                for d in shape:
                    if d < 0:
                        raise ShapeError(f"output '{spec.name}' would have a negative dim {shape}")
                    n *= d
                    bound *= d or 1
                if bound > INT64_MAX:
                    raise ShapeError(f"output '{spec.name}' of shape {shape} is too large: its size overflows int64 "
                                     "(out of memory)")
                if n * spec.dtype.np_dtype.itemsize > MAX_BUFFER_BYTES:
                    raise ShapeError(f"output '{spec.name}' of shape {shape} is too large to allocate (out of memory)")
                sizes.append(n * spec.dtype.np_dtype.itemsize)
            got = (tuple(env[s] for s in self.symbols), out_shapes,
                   sizes if max(sizes, default=0) >= out_buffers.LARGE_OUTPUT_BYTES else None)
            if len(self._plans) >= _PLAN_CACHE_SIZE:
                self._plans.clear()
            self._plans[shapes] = got
        return got

    def call(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One native call on prepared (contiguous, right-dtype) arrays; returns the outputs."""
        for a, dt in zip(arrays, self._np_dtypes):
            # the gate before native code: exact ndarray, dtype and layout, or the slow path fixes it
            if type(a) is not np.ndarray or a.dtype != dt or not a.flags.c_contiguous:
                arrays = self.prepare(arrays)
                break
        if len(arrays) != len(self.inputs):
            arrays = self.prepare(arrays)
        return self.call_prepared(arrays)

    def call_prepared(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``call`` for arrays the caller guarantees are the inputs exactly as native code takes
        them — one per input, each a C-contiguous ndarray of the input's dtype (a Session's
        converted feeds and its own variable buffers) — so the per-array gate is skipped."""
        dims, out_shapes, sizes = self.plan(tuple([a.shape for a in arrays]))
        if sizes is None:
            outs = [np.empty(s, dt) for s, dt in zip(out_shapes, self._out_dtypes)]
        else:  # large outputs reuse the scratch allocator's mapped blocks (no fresh page faults)
            outs = [out_buffers.empty(s, dt, n) for s, dt, n in zip(out_shapes, self._out_dtypes, sizes)]
        if self._fast is not None:
            rc = self._fast.call(*dims, *arrays, *outs)
        elif self._pyfunc is not None:
            rc = self._pyfunc(*dims, *arrays, *outs)
        else:
            rc = self._cfunc(*dims, *[a.ctypes.data for a in arrays], *[o.ctypes.data for o in outs])
        if rc != 0:
            raise RuntimeError(f"{self.name}: native code returned {rc} ({ERROR_CODES.get(rc, 'unknown error')})")
        return outs
