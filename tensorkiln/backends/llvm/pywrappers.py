"""The Python-facing entry points of a JIT-compiled model function (never in AOT libraries).

``NAME.py`` takes the numpy arrays themselves and reads their data pointers (so a ctypes call
need not build pointer objects); ``NAME.fast`` is a CPython METH_FASTCALL function around it, which
``runtime.executable`` turns into a builtin: calling that costs ~0.05 µs where a ctypes call of the
``.py`` wrapper costs ~0.8 (a softmax-regression step is ~40 µs on one thread).
"""
from __future__ import annotations

import llvmlite.ir as ir

I8, I32, I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()

# Offset of the data pointer in numpy's PyArrayObject (after PyObject_HEAD); checked at run time
# by tensorkiln.runtime.executable before the wrappers are used.
NUMPY_DATA_OFFSET = 16


def emit_py_wrapper(m: ir.Module, fn: ir.Function, nsym: int) -> ir.Function:
    """``i32 NAME.py(i64 dims…, PyObject* arrays…)``: reads each array's data pointer from its
    object and calls NAME. JIT only: it lets the runtime pass arrays without building ctypes
    pointers, which is most of the cost of a call to a small function."""
    nbuf = len(fn.args) - nsym
    w = ir.Function(m, ir.FunctionType(I32, [I64] * nsym + [PTR] * nbuf), name=fn.name + ".py")
    b = ir.IRBuilder(w.append_basic_block("entry"))
    ptrs = [b.load(b.gep(o, [ir.Constant(I64, NUMPY_DATA_OFFSET)], inbounds=True, source_etype=I8), typ=PTR) for o in w.args[nsym:]]
    b.ret(b.call(fn, list(w.args[:nsym]) + ptrs))
    return w


# The CPython C API functions the METH_FASTCALL wrappers call (resolved in the running interpreter:
# ``runtime.fastcall.register_python_api`` gives LLVM their addresses).
PYTHON_API = {"PyEval_SaveThread": (PTR, []), "PyEval_RestoreThread": (ir.VoidType(), [PTR]),
              "PyLong_AsSsize_t": (I64, [PTR]), "PyLong_FromLong": (PTR, [I64]),
              "PyErr_Occurred": (PTR, []), "PyErr_Clear": (ir.VoidType(), [])}
# What a fast wrapper returns for a call with the wrong number of arguments or a dim that is not
# an int of the Py_ssize_t range (never a model's code).
BAD_CALL = 99


def emit_fast_wrapper(m: ir.Module, py: ir.Function, nsym: int) -> ir.Function:
    """``PyObject* NAME.fast(PyObject* self, PyObject* const* args, Py_ssize_t nargs)``: a CPython
    METH_FASTCALL function of the dims (ints) and the arrays, returning the status as an int
    (``BAD_CALL`` for a wrong argument count or a dim that is no int, before any native code). It
    releases the GIL around the native call, as ctypes does; a builtin made from it costs ~0.05 µs
    a call where a ctypes call of the ``.py`` wrapper costs ~0.8. JIT only."""
    api = {n: m.globals.get(n) or ir.Function(m, ir.FunctionType(r, a), name=n) for n, (r, a) in PYTHON_API.items()}
    w = ir.Function(m, ir.FunctionType(PTR, [PTR, PTR, I64]), name=py.name[:-3] + ".fast")
    _, args, nargs = w.args
    b = ir.IRBuilder(w.append_basic_block("entry"))
    call, bad = w.append_basic_block("call"), w.append_basic_block("bad")
    b.cbranch(b.icmp_signed("==", nargs, ir.Constant(I64, len(py.args))), call, bad)
    b.position_at_end(bad)
    b.ret(b.call(api["PyLong_FromLong"], [ir.Constant(I64, BAD_CALL)]))
    b.position_at_end(call)
    objs = [b.load(b.gep(args, [ir.Constant(I64, i)], inbounds=True, source_etype=PTR), typ=PTR) for i in range(len(py.args))]
    dims = [b.call(api["PyLong_AsSsize_t"], [o]) for o in objs[:nsym]]
    if dims:  # -1 is a dim's value or the conversion's error mark: the error indicator tells
        minus = [b.icmp_signed("==", d, ir.Constant(I64, -1)) for d in dims]
        any_minus = minus[0]
        for flag in minus[1:]:
            any_minus = b.or_(any_minus, flag)
        check, failed, convert_ok = (w.append_basic_block(n) for n in ("check", "not_an_int", "dims_ok"))
        b.cbranch(any_minus, check, convert_ok)
        b.position_at_end(check)
        b.cbranch(b.icmp_unsigned("!=", b.call(api["PyErr_Occurred"], []), ir.Constant(PTR, None)), failed, convert_ok)
        b.position_at_end(failed)
        b.call(api["PyErr_Clear"], [])
        b.ret(b.call(api["PyLong_FromLong"], [ir.Constant(I64, BAD_CALL)]))
        b.position_at_end(convert_ok)
    state = b.call(api["PyEval_SaveThread"], [])
    rc = b.call(py, dims + objs[nsym:])
    b.call(api["PyEval_RestoreThread"], [state])
    b.ret(b.call(api["PyLong_FromLong"], [b.sext(rc, I64)]))
    return w
