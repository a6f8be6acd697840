"""tensorkiln: TensorFlow 1.x's programming model on a real compiler (typed SSA IR → LLVM).

This top level holds the public API. ``tk.compile`` compiles DSL (``.tk``) or IR (``.tkir``) text
into native functions; every stage of the IR can be printed with ``mod.ir(entry, stage)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

from . import datasets, errors
from .errors import CompileError

__version__ = "0.1.0"


def _read_source(source: Union[str, Path]) -> tuple[str, str]:
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.endswith((".tk", ".tkir"))):
        p = Path(source)
        return p.read_text(), str(p)
    return str(source), "<string>"


def parse(source: Union[str, Path], file: str | None = None):
    """Parse DSL or IR text (or a path to a ``.tk``/``.tkir`` file) into a graph-stage IR Module."""
    text, name = _read_source(source)
    name = file or name
    if name.endswith(".tkir") or text.lstrip().startswith("func @"):
        from .ir.parser import parse_module

        return parse_module(text, name), name
    from .compiler.frontend.dsl import parse_dsl

    return parse_dsl(text, name), name


def compile(source: Union[str, Path], file: str | None = None):
    """Compile DSL or IR source to a module of native functions: ``mod.entry(*arrays)``."""
    from .runtime.compiled_module import compile_graph_module

    module, name = parse(source, file)
    return compile_graph_module(module, name)


# --------------------------------------------------------------------------- the TF-1 graph API
from .framework import nn  # noqa: E402,F401
from .framework.array_ops import (  # noqa: E402,F401
    concat, expand_dims, fill, gather, identity, one_hot, ones, ones_like, placeholder, placeholder_with_default,
    rank, reshape, shape, size, slice, squeeze, stack, transpose, unstack, where, zeros, zeros_like,
)
from .framework.constant_op import constant, convert_to_tensor  # noqa: E402,F401
from .framework.control_flow_ops import group, no_op, tuple, with_dependencies  # noqa: E402,F401
from .framework.dtypes import DType, as_dtype, bool_ as bool, double, float32, float64, int32, int64  # noqa: E402,F401
from .framework.graph import (  # noqa: E402,F401
    Graph, GraphKeys, add_to_collection, add_to_collections, control_dependencies, device, get_collection,
    get_collection_ref, get_default_graph, name_scope, reset_default_graph, set_random_seed,
)
from .framework.math_ops import (  # noqa: E402,F401
    abs, add, add_n, argmax, argmin, cast, ceil, clip_by_value, cos, div, divide, equal, erf, exp, expm1, floor,
    floordiv, floormod, greater, greater_equal, less, less_equal, log, log1p, logical_and, logical_not, logical_or,
    logical_xor, matmul, maximum, minimum, mod, multiply, negative, not_equal, pow, realdiv, reciprocal, reduce_all,
    reduce_any, reduce_max, reduce_mean, reduce_min, reduce_prod, reduce_sum, round, rsqrt, sigmoid, sign, sin, sqrt,
    square, subtract, tanh, to_double, to_float, to_int32, to_int64, truediv, truncatediv,
)
from .framework.ops import Operation, Tensor  # noqa: E402,F401
from .framework.random_ops import random_normal, random_uniform, truncated_normal  # noqa: E402,F401
from .framework.state_ops import assign, assign_add, assign_sub  # noqa: E402,F401
from .framework.tensor_operators import newaxis  # noqa: E402,F401
from .framework.tensor_shape import Dimension, TensorShape  # noqa: E402,F401
from .framework.variables import (  # noqa: E402,F401
    Variable, all_variables, global_variables, global_variables_initializer, initialize_all_variables,
    local_variables, local_variables_initializer, trainable_variables, variables_initializer,
)
from .runtime.config import ConfigProto, GPUOptions, GraphOptions, RunMetadata, RunOptions  # noqa: E402,F401
from .runtime.session import InteractiveSession, Session, get_default_session, get_ir  # noqa: E402,F401

# --------------------------------------------------------------------------- training (issue 4A)
from . import initializers, layers, losses, train  # noqa: E402,F401
from .framework.gradients_impl import gradients  # noqa: E402,F401  (tk.gradients; harmless if also exported above)
from .initializers import (  # noqa: E402,F401
    constant_initializer, glorot_normal_initializer, glorot_uniform_initializer, ones_initializer,
    random_normal_initializer, random_uniform_initializer, truncated_normal_initializer, variance_scaling_initializer,
    zeros_initializer,
)

# --------------------------------------------------------------------------- numerics checks (issue 8)
from . import debugging  # noqa: E402,F401
from .debugging import add_check_numerics_ops, check_numerics, verify_tensor_all_finite  # noqa: E402,F401

# --------------------------------------------------------------------------- lazily loaded namespaces
_LAZY = {"aot", "summary", "compat"}  # heavier imports (TensorBoard protos, C toolchain helpers)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tensorkiln' has no attribute {name!r}")
