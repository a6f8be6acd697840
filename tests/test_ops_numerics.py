"""Numerics of every graph-API op against numpy, through ``Session.run``, across dtypes and broadcast
shapes (hypothesis). Each example builds one graph that computes a whole family of ops and runs it
with a single ``Session.run`` (one compile), so the suite stays fast. Tolerances: float32 rtol 1e-5
/ atol 1e-6 (vector math is 1–2 ulp), float64 1e-10, integers and bools exact."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensorkiln as tk

SETTINGS = settings(max_examples=30, deadline=None)
FLOATS = [np.float32, np.float64]
INTS = [np.int32, np.int64]


def run(build, arrays, shapes=None):
    """Build ``build(*placeholders)`` in a fresh graph and run it once on ``arrays``."""
    g = tk.Graph()
    with g.as_default():
        phs = [tk.placeholder(tk.as_dtype(a.dtype), a.shape if shapes is None else shapes[i], name=f"in{i}")
               for i, a in enumerate(arrays)]
        fetches = build(*phs)
        with tk.Session(graph=g) as sess:
            return sess.run(fetches, dict(zip(phs, arrays)))


def close(got, want, dtype=None):
    want = np.asarray(want)
    dtype = np.dtype(dtype or want.dtype)
    got = np.asarray(got)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == dtype, (got.dtype, dtype)
    if dtype.kind == "f":
        rtol, atol = (1e-5, 1e-6) if dtype == np.float32 else (1e-10, 1e-12)
        np.testing.assert_allclose(got, want.astype(dtype), rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(got, want)


def values(dtype, shape, lo=-10, hi=10):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        # no subnormals: TF's CPU kernels flush them to zero, numpy does not
        el = st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False,
                       width=32 if dtype == np.float32 else 64)
    elif dtype.kind == "b":
        el = st.booleans()
    else:
        el = st.integers(int(lo), int(hi))
    return hnp.arrays(dtype, shape, elements=el)


def symbolic(shape, other):
    """``shape`` with its leading dim unknown when that cannot meet a different dim in broadcasting."""
    if not shape or shape[0] == 1:
        return shape
    k = len(other) - len(shape)
    if k >= 0 and other[k] not in (shape[0],):
        return shape
    return (None,) + tuple(shape[1:])


pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4)


# --------------------------------------------------------------------------- elementwise binary


@SETTINGS
@given(st.data(), st.sampled_from(FLOATS + INTS), pairs, st.booleans())
def test_binary_arithmetic_and_comparisons(data, dtype, shapes, sym):
    sx, sy = shapes.input_shapes
    x = data.draw(values(dtype, sx))
    y = data.draw(values(dtype, sy))
    decl = [symbolic(sx, sy), sy] if sym else None

    def build(a, b):
        return {
            "add": tk.add(a, b), "plus": a + b, "sub": tk.subtract(a, b), "minus": a - b, "mul": tk.multiply(a, b),
            "times": a * b, "max": tk.maximum(a, b), "min": tk.minimum(a, b), "eq": tk.equal(a, b),
            "ne": tk.not_equal(a, b), "lt": a < b, "le": tk.less_equal(a, b), "gt": tk.greater(a, b),
            "ge": a >= b, "rsub": 3 - a, "radd": 2 + b,
        }
    r = run(build, [x, y], decl)
    with np.errstate(all="ignore"):
        want = {"add": x + y, "plus": x + y, "sub": x - y, "minus": x - y, "mul": x * y, "times": x * y,
                "max": np.maximum(x, y), "min": np.minimum(x, y), "eq": x == y, "ne": x != y, "lt": x < y,
                "le": x <= y, "gt": x > y, "ge": x >= y, "rsub": (3 - x).astype(dtype), "radd": (2 + y).astype(dtype)}
    for k, w in want.items():
        close(r[k], w, np.bool_ if w.dtype == bool else dtype)


@SETTINGS
@given(st.data(), st.sampled_from(FLOATS), pairs)
def test_float_division_and_pow(data, dtype, shapes):
    sx, sy = shapes.input_shapes
    x = data.draw(values(dtype, sx))
    y = data.draw(values(dtype, sy, 0.5, 4)) * data.draw(st.sampled_from([1, -1]))
    base = np.abs(x) + np.asarray(0.5, dtype)
    r = run(lambda a, b, c: {"div": tk.divide(a, b), "truediv": tk.truediv(a, b), "slash": a / b,
                             "realdiv": tk.realdiv(a, b),
                             "floordiv": a // b, "mod": tk.floormod(a, b), "pow": tk.pow(c, b),
                             "clip": tk.clip_by_value(a, -1.5, 2.5)},
            [x, y.astype(dtype), base])
    y = y.astype(dtype)
    close(r["div"], x / y)
    close(r["truediv"], x / y)
    close(r["slash"], x / y)
    close(r["realdiv"], x / y)
    close(r["floordiv"], np.floor(x / y))  # TF's float FloorDiv is floor(x / y)
    fm = np.mod(x, y)
    got = np.asarray(r["mod"])
    # at an exact multiple the result may round to either 0 or y: compare modulo y
    ok = np.isclose(got, fm, rtol=1e-4, atol=1e-5) | np.isclose(np.abs(got - fm), np.abs(np.broadcast_to(y, fm.shape)), rtol=1e-4)
    assert ok.all()
    with np.errstate(all="ignore"):
        close(r["pow"], np.power(base, y))
    close(r["clip"], np.clip(x, -1.5, 2.5))


@SETTINGS
@given(st.data(), st.sampled_from(INTS), pairs)
def test_integer_division(data, dtype, shapes):
    sx, sy = shapes.input_shapes
    x = data.draw(values(dtype, sx, -50, 50))
    y = data.draw(values(dtype, sy, 1, 7)) * data.draw(st.sampled_from([1, -1]))
    y = y.astype(dtype)
    r = run(lambda a, b: {"floordiv": tk.floordiv(a, b), "op": a // b, "mod": a % b, "truediv": a / b,
                          "truncatediv": tk.truncatediv(a, b)}, [x, y])
    close(r["floordiv"], np.floor_divide(x, y))
    close(r["op"], np.floor_divide(x, y))
    close(r["mod"], np.mod(x, y))
    close(r["truediv"], x.astype(np.float64) / y.astype(np.float64), np.float64)
    close(r["truncatediv"], np.trunc(x / y).astype(dtype))


@SETTINGS
@given(st.data(), pairs)
def test_logical_ops(data, shapes):
    sx, sy = shapes.input_shapes
    x = data.draw(values(np.bool_, sx))
    y = data.draw(values(np.bool_, sy))
    r = run(lambda a, b: {"and": tk.logical_and(a, b), "or": a | b, "xor": tk.logical_xor(a, b),
                          "not": tk.logical_not(a), "inv": ~b, "amp": a & b}, [x, y])
    close(r["and"], x & y)
    close(r["amp"], x & y)
    close(r["or"], x | y)
    close(r["xor"], x ^ y)
    close(r["not"], ~x)
    close(r["inv"], ~y)


# --------------------------------------------------------------------------- elementwise unary


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@SETTINGS
@given(st.data(), st.sampled_from(FLOATS), hnp.array_shapes(min_dims=0, max_dims=3, max_side=5))
def test_float_unary(data, dtype, shape):
    x = data.draw(values(dtype, shape, -8, 8))
    pos = (np.abs(x) + np.asarray(0.01, dtype)).astype(dtype)

    def build(a, p):
        return {"neg": tk.negative(a), "uneg": -a, "abs": tk.abs(a), "pyabs": abs(a), "exp": tk.exp(a),
                "log": tk.log(p), "sqrt": tk.sqrt(p), "rsqrt": tk.rsqrt(p), "square": tk.square(a),
                "tanh": tk.tanh(a), "sigmoid": tk.sigmoid(a), "sign": tk.sign(a), "floor": tk.floor(a),
                "ceil": tk.ceil(a), "relu": tk.nn.relu(a), "nn_sigmoid": tk.nn.sigmoid(a), "nn_tanh": tk.nn.tanh(a),
                "reciprocal": tk.reciprocal(p), "log1p": tk.log1p(p), "expm1": tk.expm1(a)}
    r = run(build, [x, pos])
    want = {"neg": -x, "uneg": -x, "abs": np.abs(x), "pyabs": np.abs(x), "exp": np.exp(x), "log": np.log(pos),
            "sqrt": np.sqrt(pos), "rsqrt": 1 / np.sqrt(pos), "square": x * x, "tanh": np.tanh(x),
            "sigmoid": _sigmoid(x), "sign": np.sign(x), "floor": np.floor(x), "ceil": np.ceil(x),
            "relu": np.maximum(x, 0), "nn_sigmoid": _sigmoid(x), "nn_tanh": np.tanh(x), "reciprocal": 1 / pos,
            "log1p": np.log1p(pos), "expm1": np.expm1(x)}
    for k, w in want.items():
        close(r[k], np.asarray(w, dtype=dtype), dtype)


@SETTINGS
@given(st.data(), st.sampled_from(INTS), hnp.array_shapes(min_dims=0, max_dims=3, max_side=5))
def test_int_unary(data, dtype, shape):
    x = data.draw(values(dtype, shape, -1000, 1000))
    r = run(lambda a: [tk.negative(a), tk.abs(a), tk.square(a), tk.sign(a), tk.nn.relu(a)], [x])
    for got, want in zip(r, [-x, np.abs(x), x * x, np.sign(x), np.maximum(x, 0)]):
        close(got, want.astype(dtype), dtype)


# --------------------------------------------------------------------------- reductions


@SETTINGS
@given(st.data(), st.sampled_from(FLOATS + INTS), hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
       st.booleans(), st.booleans())
def test_reductions(data, dtype, shape, keep, legacy):
    x = data.draw(values(dtype, shape, -3, 3))
    rank = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-rank, rank - 1),
                               st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank, unique=True)))
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    kw = {"reduction_indices": axis, "keep_dims": keep} if legacy else {"axis": axis, "keepdims": keep}
    decl = [(None,) + tuple(shape[1:])] if data.draw(st.booleans()) else None
    r = run(lambda a: {"sum": tk.reduce_sum(a, **kw), "mean": tk.reduce_mean(a, **kw), "max": tk.reduce_max(a, **kw),
                       "min": tk.reduce_min(a, **kw), "prod": tk.reduce_prod(a, **kw)}, [x], decl)
    close(r["sum"], np.sum(x, axis=np_axis, keepdims=keep, dtype=dtype), dtype)
    close(r["max"], np.max(x, axis=np_axis, keepdims=keep), dtype)
    close(r["min"], np.min(x, axis=np_axis, keepdims=keep), dtype)
    close(r["prod"], np.prod(x, axis=np_axis, keepdims=keep, dtype=dtype), dtype)
    if np.dtype(dtype).kind == "f":
        close(r["mean"], np.mean(x, axis=np_axis, keepdims=keep, dtype=np.float64).astype(dtype), dtype)
    else:  # TF's integer mean truncates toward zero
        s = np.sum(x, axis=np_axis, keepdims=keep, dtype=np.int64)
        n = x.size // max(np.size(s), 1)
        close(r["mean"], np.trunc(s / n).astype(dtype), dtype)


@SETTINGS
@given(st.data(), hnp.array_shapes(min_dims=1, max_dims=3, max_side=5))
def test_bool_reductions(data, shape):
    x = data.draw(values(np.bool_, shape))
    rank = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(0, rank - 1)))
    r = run(lambda a: [tk.reduce_any(a, axis=axis), tk.reduce_all(a, axis=axis)], [x])
    close(r[0], np.any(x, axis=axis))
    close(r[1], np.all(x, axis=axis))


# --------------------------------------------------------------------------- matmul


@SETTINGS
@given(st.data(), st.sampled_from(FLOATS + INTS), st.integers(1, 6), st.integers(1, 6), st.integers(1, 6),
       st.booleans(), st.booleans(), st.sampled_from([(), (2,), (1,)]))
def test_matmul(data, dtype, m, k, n, ta, tb, batch):
    a = data.draw(values(dtype, batch + (m, k), -3, 3))
    b = data.draw(values(dtype, batch + (k, n), -3, 3))
    fa = np.swapaxes(a, -1, -2).copy() if ta else a
    fb = np.swapaxes(b, -1, -2).copy() if tb else b
    decl = [(None,) + fa.shape[1:], fb.shape] if not batch and not ta else None
    r = run(lambda x, y: [tk.matmul(x, y, transpose_a=ta, transpose_b=tb)] + ([x @ y] if not (ta or tb) else []),
            [fa, fb], decl)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(dtype)
    for got in r:
        if np.dtype(dtype).kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-10, atol=1e-5)
            assert got.dtype == dtype
        else:
            close(got, want, dtype)


# --------------------------------------------------------------------------- array ops


@SETTINGS
@given(st.data(), st.sampled_from(FLOATS + INTS + [np.bool_]), hnp.array_shapes(min_dims=1, max_dims=4, max_side=4))
def test_array_ops(data, dtype, shape):
    x = data.draw(values(dtype, shape, -20, 20))
    rank = len(shape)
    perm = data.draw(st.permutations(range(rank)))
    cat_axis = data.draw(st.integers(-rank, rank - 1))
    stack_axis = data.draw(st.integers(-rank - 1, rank))
    exp_axis = data.draw(st.integers(-rank - 1, rank))
    begin = [data.draw(st.integers(0, d - 1)) for d in shape]
    size = [data.draw(st.one_of(st.just(-1), st.integers(0, d - b))) for d, b in zip(shape, begin)]
    index = tuple(data.draw(st.one_of(st.integers(-d, d - 1),
                                      st.builds(slice, st.none() | st.integers(-d - 1, d + 1),
                                                st.none() | st.integers(-d - 1, d + 1),
                                                st.none() | st.sampled_from([1, 2, -1, -2, 3]))))
                  for d in shape[:data.draw(st.integers(1, rank))])
    gidx = data.draw(hnp.arrays(np.int32, data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)),
                                elements=st.integers(0, shape[0] - 1)))

    def build(a):
        return {
            "transpose": tk.transpose(a, perm), "transpose_default": tk.transpose(a),
            "reshape": tk.reshape(a, [-1]), "reshape2": tk.reshape(a, list(reversed(shape))),
            "concat": tk.concat([a, a], cat_axis), "stack": tk.stack([a, a, a], axis=stack_axis),
            "unstack": tk.unstack(a), "expand": tk.expand_dims(a, exp_axis),
            "squeeze": tk.squeeze(tk.expand_dims(a, 0), [0]), "squeeze_all": tk.squeeze(a),
            "slice": tk.slice(a, begin, size), "getitem": a[index], "gather": tk.gather(a, gidx),
            "identity": tk.identity(a), "zeros_like": tk.zeros_like(a), "ones_like": tk.ones_like(a),
            "shape": tk.shape(a), "size": tk.size(a), "rank": tk.rank(a),
        }
    r = run(build, [x])
    close(r["transpose"], np.transpose(x, perm))
    close(r["transpose_default"], np.transpose(x))
    close(r["reshape"], x.reshape(-1))
    close(r["reshape2"], x.reshape(tuple(reversed(shape))))
    close(r["concat"], np.concatenate([x, x], cat_axis))
    close(r["stack"], np.stack([x, x, x], axis=stack_axis))
    assert len(r["unstack"]) == shape[0]
    for got, want in zip(r["unstack"], list(x)):
        close(got, want)
    close(r["expand"], np.expand_dims(x, exp_axis))
    close(r["squeeze"], x)
    close(r["squeeze_all"], np.squeeze(x))
    close(r["slice"], x[tuple(slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))])
    close(r["getitem"], x[index])
    close(r["gather"], x[gidx])
    close(r["identity"], x)
    close(r["zeros_like"], np.zeros_like(x))
    close(r["ones_like"], np.ones_like(x))
    close(r["shape"], np.array(shape, np.int32))
    close(r["size"], np.int32(x.size))
    close(r["rank"], np.int32(rank))


@SETTINGS
@given(st.data(), st.sampled_from(FLOATS + INTS), hnp.array_shapes(min_dims=1, max_dims=3, max_side=5))
def test_argmax_cast_where_onehot(data, dtype, shape):
    x = data.draw(values(dtype, shape, -100, 100))
    rank = len(shape)
    axis = data.draw(st.integers(0, rank - 1))
    labels = data.draw(values(np.int32, shape, -1, 5))
    decl = [(None,) + tuple(shape[1:]), None]

    def build(a, lab):
        out = {"argmax": tk.argmax(a, axis), "argmin": tk.argmin(a, axis=axis, output_type=tk.int32),
               "where": tk.where(a > 0, a, -a), "where_rows": tk.where(tk.reduce_sum(a, axis=list(range(1, rank))) > 0 if rank > 1 else a > 0, a, a * 2),
               "one_hot": tk.one_hot(lab, 5), "one_hot_ax": tk.one_hot(lab, 4, on_value=3, off_value=-1, axis=0),
               "one_hot_bool": tk.one_hot(lab, 5, dtype=tk.bool)}
        for d in (tk.float32, tk.float64, tk.int32, tk.int64, tk.bool):
            out["cast_" + d.name] = tk.cast(a, d)
        return out
    r = run(build, [x, labels], decl)
    close(r["argmax"], np.argmax(x, axis).astype(np.int64))
    close(r["argmin"], np.argmin(x, axis).astype(np.int32))
    close(r["where"], np.where(x > 0, x, -x))
    rows = x.reshape(shape[0], -1).sum(1, dtype=dtype) > 0  # a rank-1 condition selects rows (TF 1)
    cond = rows.reshape((-1,) + (1,) * (rank - 1)) if rank > 1 else x > 0
    close(r["where_rows"], np.where(cond, x, x * 2).astype(dtype))
    # out-of-range labels (-1, 5) give rows of off_value, as TF
    close(r["one_hot"], (labels[..., None] == np.arange(5)).astype(np.float32))
    oh = np.stack([np.where(labels == k, 3, -1) for k in range(4)], axis=0).astype(np.int32)
    close(r["one_hot_ax"], oh)
    close(r["one_hot_bool"], np.stack([labels == k for k in range(5)], axis=-1))
    for name, d in (("float32", np.float32), ("float64", np.float64), ("int32", np.int32), ("int64", np.int64),
                    ("bool", np.bool_)):
        close(r["cast_" + name], x.astype(d), d)


# --------------------------------------------------------------------------- nn


def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@SETTINGS
@given(st.data(), st.sampled_from(FLOATS), st.integers(1, 6), st.integers(2, 7))
def test_nn_ops(data, dtype, n, c):
    logits = data.draw(values(dtype, (n, c), -5, 5))
    raw = data.draw(values(dtype, (n, c), 0, 1)) + np.asarray(0.01, dtype)
    soft = (raw / raw.sum(1, keepdims=True)).astype(dtype)
    labels = data.draw(values(np.int64, (n,), 0, c - 1))
    k = data.draw(st.integers(1, c))
    axis = data.draw(st.sampled_from([-1, 0, 1]))
    bias = data.draw(values(dtype, (c,), -1, 1))

    def build(lg, lb, sl, b):
        nn = tk.nn
        out = {
            "softmax": nn.softmax(lg, axis=axis), "log_softmax": nn.log_softmax(lg, axis=axis),
            "sce": nn.softmax_cross_entropy_with_logits(labels=sl, logits=lg),
            "sce2": nn.softmax_cross_entropy_with_logits_v2(labels=sl, logits=lg),
            "sparse": nn.sparse_softmax_cross_entropy_with_logits(labels=lb, logits=lg),
            "sigmoid_ce": nn.sigmoid_cross_entropy_with_logits(labels=sl, logits=lg),
            "l2": nn.l2_loss(lg), "bias": nn.bias_add(lg, b), "relu6": nn.relu6(lg * 2.0),
            "softplus": nn.softplus(lg), "elu": nn.elu(lg),
        }
        if dtype == np.float32:
            out["top"] = nn.in_top_k(lg, tk.cast(lb, tk.int32), k)
        return out
    r = run(build, [logits, labels, soft, bias], [(None, c), (None,), (None, c), (c,)])
    ls = _log_softmax(logits.astype(np.float64), axis)
    close(r["softmax"], np.exp(ls).astype(dtype), dtype)
    close(r["log_softmax"], ls.astype(dtype), dtype)
    ce = -(soft * _log_softmax(logits.astype(np.float64), -1)).sum(-1)
    close(r["sce"], ce.astype(dtype), dtype)
    close(r["sce2"], ce.astype(dtype), dtype)
    sp = -_log_softmax(logits.astype(np.float64), -1)[np.arange(n), labels]
    close(r["sparse"], sp.astype(dtype), dtype)
    x, z = logits.astype(np.float64), soft.astype(np.float64)
    close(r["sigmoid_ce"], (np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))).astype(dtype), dtype)
    close(r["l2"], np.asarray((x * x).sum() / 2, dtype), dtype)
    close(r["bias"], (logits + bias).astype(dtype), dtype)
    close(r["relu6"], np.clip(logits * 2, 0, 6).astype(dtype), dtype)
    close(r["softplus"], np.log1p(np.exp(x)).astype(dtype), dtype)
    close(r["elu"], np.where(x > 0, x, np.expm1(x)).astype(dtype), dtype)
    if dtype == np.float32:
        target = logits[np.arange(n), labels]
        close(r["top"], (logits > target[:, None]).sum(1) < k)


@SETTINGS
@given(st.data(), st.sampled_from(FLOATS + INTS), st.integers(1, 4), st.integers(1, 4))
def test_fills_and_variables(data, dtype, rows, cols):
    init = data.draw(values(dtype, (rows, cols), -5, 5))
    delta = data.draw(values(dtype, (rows, cols), -5, 5))
    g = tk.Graph()
    with g.as_default():
        v = tk.Variable(init)
        zeros = tk.zeros([rows, cols], dtype=dtype)
        ones = tk.ones([rows, cols], dtype=dtype)
        filled = tk.fill([rows, cols], np.asarray(3, dtype))
        add = v.assign_add(delta)
        sub = tk.assign_sub(v, delta)
        with tk.Session() as sess:
            sess.run(v.initializer)
            z, o, f = sess.run([zeros, ones, filled])
            a = sess.run(add)
            s = sess.run(sub)
    close(z, np.zeros((rows, cols), dtype))
    close(o, np.ones((rows, cols), dtype))
    close(f, np.full((rows, cols), 3, dtype))
    close(a, (init + delta).astype(dtype))
    close(s, init)
