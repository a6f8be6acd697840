"""``tk.layers``: TF-1's layers (``dense``, ``conv2d``, ``max_pooling2d``, ``average_pooling2d``,
``flatten``, ``dropout``) as functions and as reusable ``Layer`` objects.

A layer builds its ops and variables under a name scope named after it: the first ``dense`` layer
gets ``dense/kernel`` and ``dense/bias`` and ops ``dense/MatMul``, ``dense/BiasAdd``; the next one
``dense_1/...``. Kernels default to Glorot-uniform, biases to zeros. Calling a Layer object again
shares its variables (its ops go under a fresh scope, ``dense_2/...``). The functional forms with an
explicit ``name`` refuse a second layer of the same name unless ``reuse=True``, which shares it.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

from . import initializers as _init
from .framework import dtypes as _dt
from .framework.array_ops import reshape
from .framework.constant_op import convert_to_tensor, is_tensor_like
from .framework.graph import GraphKeys, get_default_graph, name_scope
from .framework.math_ops import add, cast, matmul, multiply, subtract
from .framework.nn_conv import avg_pool, conv2d as _conv2d_op, max_pool
from .framework.nn_ops import bias_add, dropout as _nn_dropout
from .framework.ops import Tensor
from .framework.variables import Variable


def _pair(value: Any, what: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    vals = tuple(int(v) for v in value)
    if len(vals) != 2:
        raise ValueError(f"The `{what}` argument must be a tuple of 2 integers. Received: {value}")
    return vals  # type: ignore[return-value]


def _padding(padding: str) -> str:
    p = str(padding).upper()
    if p not in ("SAME", "VALID"):
        raise ValueError(f"The `padding` argument must be one of 'valid', 'same'. Received: {padding}")
    return p


def _format(data_format: str) -> str:
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"The `data_format` argument must be one of 'channels_first', 'channels_last'. "
                         f"Received: {data_format}")
    return "NHWC" if data_format == "channels_last" else "NCHW"


class Layer:
    """Base class: ``build(input_shape)`` creates the variables once, ``call(inputs)`` the ops."""

    _default_name = "layer"

    def __init__(self, trainable: bool = True, name: str | None = None, dtype: Any = None, **_: Any):
        self.trainable = trainable
        self._given_name = name
        self.name = name or self._default_name
        self.dtype = None if dtype is None else _dt.as_dtype(dtype)
        self.built = False
        self._weights: list[Variable] = []
        self._graph: Any = None

    # variables ------------------------------------------------------------------------------------
    @property
    def weights(self) -> list[Variable]:
        return list(self._weights)

    variables = weights

    @property
    def trainable_weights(self) -> list[Variable]:
        return [v for v in self._weights if v.trainable]

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> list[Variable]:
        return [v for v in self._weights if not v.trainable]

    def add_weight(self, name: str, shape: Sequence[int], dtype: Any = None, initializer: Any = None,
                   regularizer: Callable[[Any], Any] | None = None, trainable: bool = True) -> Variable:
        """A Variable ``<layer scope>/<name>`` initialized by ``initializer(shape, dtype)``."""
        dt = _dt.as_dtype(dtype or self.dtype or _dt.float32)
        init = _init.get(initializer) or _init.GlorotUniform()
        dims = [int(d) for d in shape]
        if callable(init):
            v = Variable(lambda: init(dims, dtype=dt), name=name, dtype=dt, trainable=trainable and self.trainable)
        else:
            v = Variable(convert_to_tensor(init, dtype=dt), name=name, trainable=trainable and self.trainable)
        if regularizer is not None:
            with name_scope(name + "/Regularizer"):
                loss = regularizer(v)
            if loss is not None:
                get_default_graph().add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
        self._weights.append(v)
        return v

    # calling ----------------------------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        self.built = True

    def call(self, inputs: Tensor, **kwargs: Any) -> Tensor:
        return inputs

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Tensor:
        x = inputs if is_tensor_like(inputs) else convert_to_tensor(inputs)
        g = x.graph if hasattr(x, "graph") else get_default_graph()
        if self._graph is not None and g is not self._graph:
            raise ValueError(f"layer {self.name} was built in another graph")
        with g.as_default():
            x = convert_to_tensor(x)
            if self.dtype is None:
                self.dtype = x.dtype if x.dtype.is_floating else _dt.float32
            if x.dtype != self.dtype and not isinstance(self, Dropout):
                x = cast(x, self.dtype)
            base = self.name.rsplit("/", 1)[-1] if self.built else self.name
            with name_scope(base) as scope:
                if not self.built:
                    self.name = scope[:-1]
                    self._graph = g
                    self.build(x.shape)
                    self.built = True
                return self.call(x, *args, **kwargs)


class Dense(Layer):
    """``activation(inputs @ kernel + bias)``; inputs of rank > 2 are applied along the last axis."""

    _default_name = "dense"

    def __init__(self, units: int, activation: Callable | None = None, use_bias: bool = True,
                 kernel_initializer: Any = None, bias_initializer: Any = None, kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, trainable: bool = True, name: str | None = None, **kwargs: Any):
        super().__init__(trainable=trainable, name=name, **kwargs)
        if int(units) <= 0:
            raise ValueError(f"units must be positive, got {units}")
        self.units = int(units)
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer or _init.Zeros()
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel: Variable | None = None
        self.bias: Variable | None = None

    def build(self, input_shape: Any) -> None:
        last = input_shape[-1].value if input_shape.ndims else None
        if last is None:
            raise ValueError("The last dimension of the inputs to `Dense` should be defined. Found `None`.")
        self.kernel = self.add_weight("kernel", [last, self.units], initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", [self.units], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer)

    def call(self, inputs: Tensor) -> Tensor:
        rank = inputs.shape.ndims
        if rank is not None and rank > 2:
            inner = inputs.shape.as_list()[1:-1]
            if any(d is None for d in inner):
                raise ValueError(f"Dense on rank-{rank} inputs needs known inner dims, got {inputs.shape}")
            flat = reshape(inputs, [-1, inputs.shape[-1].value])
            out = reshape(matmul(flat, self.kernel), [-1, *inner, self.units])
        else:
            out = matmul(inputs, self.kernel)
        if self.use_bias:
            out = bias_add(out, self.bias)
        return self.activation(out) if self.activation is not None else out


class Conv2D(Layer):
    """2-D convolution with a ``[kh, kw, in, filters]`` kernel, plus bias and activation."""

    _default_name = "conv2d"

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 data_format: str = "channels_last", dilation_rate: Any = (1, 1), activation: Callable | None = None,
                 use_bias: bool = True, kernel_initializer: Any = None, bias_initializer: Any = None,
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, trainable: bool = True,
                 name: str | None = None, **kwargs: Any):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _padding(padding)
        self.data_format = _format(data_format)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        self.activation, self.use_bias = activation, use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer or _init.Zeros()
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel: Variable | None = None
        self.bias: Variable | None = None

    def build(self, input_shape: Any) -> None:
        if input_shape.ndims != 4:
            raise ValueError(f"Input 0 of layer conv2d is incompatible with the layer: expected ndim=4, "
                             f"found ndim={input_shape.ndims}. Full shape received: {input_shape}")
        channels = input_shape[-1 if self.data_format == "NHWC" else 1].value
        if channels is None:
            raise ValueError("The channel dimension of the inputs should be defined. Found `None`.")
        self.kernel = self.add_weight("kernel", [*self.kernel_size, channels, self.filters],
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight("bias", [self.filters], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer)

    def call(self, inputs: Tensor) -> Tensor:
        out = _conv2d_op(inputs, self.kernel, strides=list(self.strides), padding=self.padding,
                         dilations=list(self.dilation_rate), data_format=self.data_format)
        if self.use_bias:
            if self.data_format == "NHWC":
                out = bias_add(out, self.bias)
            else:
                out = add(out, reshape(self.bias, [1, self.filters, 1, 1]), name="BiasAdd")
        return self.activation(out) if self.activation is not None else out


class _Pooling2D(Layer):
    _op: Callable[..., Tensor] = staticmethod(max_pool)

    def __init__(self, pool_size: Any, strides: Any, padding: str = "valid", data_format: str = "channels_last",
                 name: str | None = None, **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides, "strides")
        self.padding = _padding(padding)
        self.data_format = _format(data_format)

    def call(self, inputs: Tensor) -> Tensor:
        return type(self)._op(inputs, ksize=list(self.pool_size), strides=list(self.strides), padding=self.padding,
                              data_format=self.data_format)


class MaxPooling2D(_Pooling2D):
    _default_name = "max_pooling2d"
    _op = staticmethod(max_pool)


class AveragePooling2D(_Pooling2D):
    _default_name = "average_pooling2d"
    _op = staticmethod(avg_pool)


class Flatten(Layer):
    """``[N, d1, d2, …] -> [N, d1*d2*…]`` (the non-batch dims must be known)."""

    _default_name = "flatten"

    def call(self, inputs: Tensor) -> Tensor:
        dims = inputs.shape.as_list() if inputs.shape.ndims is not None else None
        if dims is None or any(d is None for d in dims[1:]):
            raise ValueError(f"flatten needs known non-batch dims, got {inputs.shape}")
        n = 1
        for d in dims[1:]:
            n *= d
        return reshape(inputs, [-1, n])


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of the inputs (scaling the rest by ``1/(1-rate)``) when ``training``;
    ``training`` may be a Python bool or a scalar bool tensor (e.g. a placeholder)."""

    _default_name = "dropout"

    def __init__(self, rate: float = 0.5, noise_shape: Any = None, seed: int | None = None, name: str | None = None,
                 **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.rate, self.noise_shape, self.seed = rate, noise_shape, seed

    def call(self, inputs: Tensor, training: Any = False) -> Tensor:
        if not is_tensor_like(training):
            if not training or float(self.rate) == 0.0:
                return inputs
            return _nn_dropout(inputs, rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)
        t = convert_to_tensor(training)
        if not t.dtype.is_bool:
            raise TypeError(f"training must be a bool tensor, got {t.dtype.name}")
        dropped = _nn_dropout(inputs, rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)
        on = cast(t, inputs.dtype)
        return add(inputs, multiply(on, subtract(dropped, inputs)))


# --------------------------------------------------------------------------- functional forms

_registry: "weakref.WeakKeyDictionary[Any, dict[str, Layer]]" = weakref.WeakKeyDictionary()


def _apply(cls: type, inputs: Any, name: str | None, reuse: bool | None, call_kwargs: dict | None = None,
           **kwargs: Any) -> Tensor:
    g = inputs.graph if hasattr(inputs, "graph") else get_default_graph()
    layers = _registry.setdefault(g, {})
    if name is not None:
        prefix = g.get_name_scope()
        key = f"{prefix}/{name}" if prefix else name
        if key in layers:
            if not reuse:
                raise ValueError(f"Variable {key}/kernel already exists, disallowed. Did you mean to set reuse=True "
                                 "in the layer call?")
            return layers[key](inputs, **(call_kwargs or {}))
    layer = cls(name=name, **kwargs)
    out = layer(inputs, **(call_kwargs or {}))
    layers[layer.name] = layer
    return out


def dense(inputs: Any, units: int, activation: Callable | None = None, use_bias: bool = True,
          kernel_initializer: Any = None, bias_initializer: Any = None, kernel_regularizer: Any = None,
          bias_regularizer: Any = None, trainable: bool = True, name: str | None = None, reuse: bool | None = None,
          **kwargs: Any) -> Tensor:
    """A densely connected layer: ``activation(inputs @ kernel + bias)``."""
    return _apply(Dense, inputs, name, reuse, units=units, activation=activation, use_bias=use_bias,
                  kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                  kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer, trainable=trainable, **kwargs)


def conv2d(inputs: Any, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
           data_format: str = "channels_last", dilation_rate: Any = (1, 1), activation: Callable | None = None,
           use_bias: bool = True, kernel_initializer: Any = None, bias_initializer: Any = None,
           kernel_regularizer: Any = None, bias_regularizer: Any = None, trainable: bool = True,
           name: str | None = None, reuse: bool | None = None, **kwargs: Any) -> Tensor:
    """A 2-D convolution layer (kernel ``[kh, kw, in, filters]``), plus bias and activation."""
    return _apply(Conv2D, inputs, name, reuse, filters=filters, kernel_size=kernel_size, strides=strides,
                  padding=padding, data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                  use_bias=use_bias, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                  kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer, trainable=trainable,
                  **kwargs)


def max_pooling2d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid", data_format: str = "channels_last",
                  name: str | None = None) -> Tensor:
    return MaxPooling2D(pool_size, strides, padding, data_format, name=name)(inputs)


def average_pooling2d(inputs: Any, pool_size: Any, strides: Any, padding: str = "valid",
                      data_format: str = "channels_last", name: str | None = None) -> Tensor:
    return AveragePooling2D(pool_size, strides, padding, data_format, name=name)(inputs)


def flatten(inputs: Any, name: str | None = None, data_format: str = "channels_last") -> Tensor:
    return Flatten(name=name)(inputs)


def dropout(inputs: Any, rate: float = 0.5, noise_shape: Any = None, seed: int | None = None, training: Any = False,
            name: str | None = None) -> Tensor:
    """``inputs`` with a fraction ``rate`` dropped (and the rest scaled) when ``training`` is true."""
    return Dropout(rate, noise_shape, seed, name=name)(inputs, training=training)
