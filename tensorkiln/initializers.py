"""Variable initializers with TF-1's names and semantics (``tk.initializers``).

An initializer is a callable ``init(shape, dtype=None, partition_info=None) -> Tensor`` that builds
the initial-value ops; pass it as ``Variable(lambda: init(shape))`` or as a layer's
``kernel_initializer``. Random ones draw with the graph's seed rules (``tk.set_random_seed``).
``glorot_uniform_initializer`` (the layers' default) draws from ``U(-limit, limit)`` with
``limit = sqrt(6 / (fan_in + fan_out))``; for a conv kernel ``[kh, kw, in, out]`` the fans are
``kh*kw*in`` and ``kh*kw*out``.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from .framework import dtypes as _dt
from .framework.array_ops import fill
from .framework.constant_op import constant, convert_to_tensor
from .framework.ops import Tensor
from .framework.random_ops import random_normal, random_uniform, truncated_normal


def _shape(shape: Any) -> list[int]:
    if hasattr(shape, "as_list"):
        shape = shape.as_list()
    dims = [int(d) for d in ([shape] if isinstance(shape, int) else shape)]
    if any(d < 0 for d in dims):
        raise ValueError(f"an initializer needs a fully defined shape, got {dims}")
    return dims


def compute_fans(shape: Sequence[int]) -> tuple[float, float]:
    """(fan_in, fan_out) of a weight shape, as TF computes them."""
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = math.prod(shape[:-2])
    return float(receptive * shape[-2]), float(receptive * shape[-1])


class Initializer:
    """Base class: ``__call__(shape, dtype=None, partition_info=None)``."""

    def __init__(self, dtype: Any = _dt.float32):
        self.dtype = _dt.as_dtype(dtype)

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"dtype": self.dtype.name}


class Zeros(Initializer):
    def __call__(self, shape, dtype=None, partition_info=None):
        dt = _dt.as_dtype(dtype or self.dtype)
        return fill(_shape(shape), convert_to_tensor(0, dtype=dt))


class Ones(Initializer):
    def __call__(self, shape, dtype=None, partition_info=None):
        dt = _dt.as_dtype(dtype or self.dtype)
        return fill(_shape(shape), convert_to_tensor(1, dtype=dt))


class Constant(Initializer):
    """A scalar (filled) or an array of exactly ``shape`` (reshaped when sizes agree)."""

    def __init__(self, value: Any = 0, dtype: Any = _dt.float32, verify_shape: bool = False):
        super().__init__(dtype)
        self.value = value

    def __call__(self, shape, dtype=None, partition_info=None):
        return constant(self.value, dtype=_dt.as_dtype(dtype or self.dtype), shape=_shape(shape))


class RandomUniform(Initializer):
    def __init__(self, minval: float = 0.0, maxval: float | None = None, seed: int | None = None, dtype: Any = _dt.float32):
        super().__init__(dtype)
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=None, partition_info=None):
        return random_uniform(_shape(shape), self.minval, self.maxval, dtype=dtype or self.dtype, seed=self.seed)


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 1.0, seed: int | None = None, dtype: Any = _dt.float32):
        super().__init__(dtype)
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=None, partition_info=None):
        return random_normal(_shape(shape), self.mean, self.stddev, dtype=dtype or self.dtype, seed=self.seed)


class TruncatedNormal(RandomNormal):
    def __call__(self, shape, dtype=None, partition_info=None):
        return truncated_normal(_shape(shape), self.mean, self.stddev, dtype=dtype or self.dtype, seed=self.seed)


class VarianceScaling(Initializer):
    """``scale / fan`` variance (``fan_in``, ``fan_out`` or ``fan_avg``), uniform or truncated normal."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None = None, dtype: Any = _dt.float32):
        if scale <= 0.0:
            raise ValueError("`scale` must be positive float.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid `mode` argument: {mode}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(f"Invalid `distribution` argument: {distribution}")
        super().__init__(dtype)
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def __call__(self, shape, dtype=None, partition_info=None):
        dims = _shape(shape)
        fan_in, fan_out = compute_fans(dims)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, fan)
        dt = dtype or self.dtype
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * scale)
            return random_uniform(dims, -limit, limit, dtype=dt, seed=self.seed)
        if self.distribution == "truncated_normal":
            return truncated_normal(dims, 0.0, math.sqrt(scale) / 0.87962566103423978, dtype=dt, seed=self.seed)
        return random_normal(dims, 0.0, math.sqrt(scale), dtype=dt, seed=self.seed)


class GlorotUniform(VarianceScaling):
    def __init__(self, seed: int | None = None, dtype: Any = _dt.float32):
        super().__init__(1.0, "fan_avg", "uniform", seed, dtype)


class GlorotNormal(VarianceScaling):
    def __init__(self, seed: int | None = None, dtype: Any = _dt.float32):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed, dtype)


zeros_initializer = zeros = Zeros
ones_initializer = ones = Ones
constant_initializer = constant_init = Constant
random_uniform_initializer = random_uniform_init = RandomUniform
random_normal_initializer = random_normal_init = RandomNormal
truncated_normal_initializer = truncated_normal_init = TruncatedNormal
variance_scaling_initializer = variance_scaling = VarianceScaling
glorot_uniform_initializer = glorot_uniform = GlorotUniform
glorot_normal_initializer = glorot_normal = GlorotNormal


def he_normal(seed: int | None = None) -> VarianceScaling:
    return VarianceScaling(2.0, "fan_in", "truncated_normal", seed)


def he_uniform(seed: int | None = None) -> VarianceScaling:
    return VarianceScaling(2.0, "fan_in", "uniform", seed)


def get(identifier: Any) -> Any:
    """An initializer from an instance, a class, a callable or a name (``"glorot_uniform"``, ``"zeros"``…)."""
    if identifier is None or callable(identifier) and not isinstance(identifier, type):
        return identifier
    if isinstance(identifier, type):
        return identifier()
    table = {"zeros": Zeros, "ones": Ones, "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
             "he_normal": he_normal, "he_uniform": he_uniform, "random_normal": RandomNormal,
             "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal}
    if isinstance(identifier, str) and identifier in table:
        return table[identifier]()
    raise ValueError(f"Unknown initializer: {identifier!r}")
