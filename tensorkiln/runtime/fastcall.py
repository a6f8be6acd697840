"""Builtins around generated METH_FASTCALL functions (``backends/llvm/pywrappers.py``).

A compiled model function's ``NAME.fast`` entry takes the dims and the numpy arrays as a CPython
builtin's arguments; here it becomes a real builtin function object (``PyCMethod_New`` on a
``PyMethodDef`` that this module keeps alive), and LLVM learns the addresses of the C API functions
such entries call. Calling the builtin costs ~0.05 µs; the ctypes call it replaces ~0.8.
"""
from __future__ import annotations

import ctypes
from typing import Any, Callable

import llvmlite.binding as llvm

from ..backends.llvm.pywrappers import PYTHON_API

METH_FASTCALL = 0x0080


class _MethodDef(ctypes.Structure):
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p), ("ml_flags", ctypes.c_int),
                ("ml_doc", ctypes.c_char_p)]


def register_python_api() -> None:
    """Give LLVM the running interpreter's addresses of the C API functions the entries call (so
    object code, cached or fresh, links against this process's interpreter)."""
    for name in PYTHON_API:
        llvm.add_symbol(name, ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value)


_new = ctypes.pythonapi.PyCMethod_New
_new.restype = ctypes.py_object
_new.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]


class FastEntry:
    """``call``: a builtin calling the METH_FASTCALL function at ``address``. The method definition
    is the builtin's ``self`` (a reference the builtin holds), so the builtin stays valid on its
    own: a call that began just before its NativeFunction was re-pointed may outlive this object."""

    def __init__(self, address: int, name: str):
        self._def = _MethodDef(name.encode(), address, METH_FASTCALL, None)  # keeps the name's bytes
        self.call: Callable[..., Any] = _new(ctypes.addressof(self._def), id(self._def), None, None)


register_python_api()
