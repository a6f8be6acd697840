"""tk.train optimizers against hand-computed (numpy) updates, slots, global step, var_list,
learning rates as tensors, and the one-signature / one-native-call contract of a training step."""
from __future__ import annotations

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln.runtime.executable import NativeFunction

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 3)).astype(np.float32)
Y = RNG.normal(size=(8, 2)).astype(np.float32)
W0 = RNG.normal(size=(3, 2)).astype(np.float32)
B0 = RNG.normal(size=(2,)).astype(np.float32)
STEPS = 5


@pytest.fixture(autouse=True)
def fresh_graph():
    tk.reset_default_graph()
    yield


def _model():
    x = tk.placeholder(tk.float32, [None, 3], name="x")
    y = tk.placeholder(tk.float32, [None, 2], name="y")
    W = tk.Variable(W0, name="W")
    b = tk.Variable(B0, name="b")
    loss = 0.5 * tk.reduce_mean(tk.reduce_sum(tk.square(tk.matmul(x, W) + b - y), axis=1))
    return x, y, W, b, loss


def _grads(params):
    """d loss / d (W, b) in float64, loss = mean_i 0.5 * |x_i W + b - y_i|^2."""
    W, b = (p.astype(np.float64) for p in params)
    r = X.astype(np.float64) @ W + b - Y
    return [X.T.astype(np.float64) @ r / len(X), r.mean(axis=0)]


# numpy reference steps: (params, grads, state, t) -> new params (state updated in place)
def ref_sgd(lr):
    def step(p, g, s, t):
        return p - lr * g
    return step


def ref_momentum(lr, m, nesterov=False):
    def step(p, g, s, t):
        a = s["accum"] = m * s.get("accum", 0.0) + g
        return p - (lr * (g + m * a) if nesterov else lr * a)
    return step


def ref_adam(lr=0.001, b1=0.9, b2=0.999, eps=1e-8):
    def step(p, g, s, t):
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return p - lr_t * s["m"] / (np.sqrt(s["v"]) + eps)
    return step


def ref_adagrad(lr, init=0.1):
    def step(p, g, s, t):
        s["acc"] = s.get("acc", init) + g * g
        return p - lr * g / np.sqrt(s["acc"])
    return step


def ref_rmsprop(lr, decay=0.9, momentum=0.0, eps=1e-10, centered=False):
    def step(p, g, s, t):
        s["ms"] = decay * s.get("ms", 1.0) + (1 - decay) * g * g
        denom = s["ms"] + eps
        if centered:
            s["mg"] = decay * s.get("mg", 0.0) + (1 - decay) * g
            denom = denom - s["mg"] ** 2
        s["mom"] = momentum * s.get("mom", 0.0) + lr * g / np.sqrt(denom)
        return p - s["mom"]
    return step


CASES = {
    "sgd": (lambda: tk.train.GradientDescentOptimizer(0.1), ref_sgd(0.1)),
    "momentum": (lambda: tk.train.MomentumOptimizer(0.05, 0.9), ref_momentum(0.05, 0.9)),
    "nesterov": (lambda: tk.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True), ref_momentum(0.05, 0.9, True)),
    "adam": (lambda: tk.train.AdamOptimizer(0.01), ref_adam(0.01)),
    "adam_hyper": (lambda: tk.train.AdamOptimizer(0.1, beta1=0.5, beta2=0.8, epsilon=1e-3),
                   ref_adam(0.1, 0.5, 0.8, 1e-3)),
    "adagrad": (lambda: tk.train.AdagradOptimizer(0.1), ref_adagrad(0.1)),
    "adagrad_init": (lambda: tk.train.AdagradOptimizer(0.2, initial_accumulator_value=0.5), ref_adagrad(0.2, 0.5)),
    "rmsprop": (lambda: tk.train.RMSPropOptimizer(0.01), ref_rmsprop(0.01)),
    "rmsprop_momentum": (lambda: tk.train.RMSPropOptimizer(0.01, decay=0.8, momentum=0.5, epsilon=1e-6),
                         ref_rmsprop(0.01, 0.8, 0.5, 1e-6)),
    "rmsprop_centered": (lambda: tk.train.RMSPropOptimizer(0.01, momentum=0.3, centered=True),
                         ref_rmsprop(0.01, 0.9, 0.3, 1e-10, True)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_optimizer_matches_hand_computed_updates(case):
    make, ref = CASES[case]
    x, y, W, b, loss = _model()
    train_op = make().minimize(loss)
    params = [W0.astype(np.float64), B0.astype(np.float64)]
    states = [{}, {}]
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        for t in range(1, STEPS + 1):
            grads = _grads(params)
            params = [ref(p, g, s, t) for p, g, s in zip(params, grads, states)]
            sess.run(train_op, {x: X, y: Y})
            got = sess.run([W, b])
            for g_, want in zip(got, params):
                assert g_.dtype == np.float32
                np.testing.assert_allclose(g_, want, rtol=1e-5, atol=1e-6)


def test_adam_slots_and_bias_correction_powers():
    x, y, W, b, loss = _model()
    opt = tk.train.AdamOptimizer(0.01, beta1=0.8, beta2=0.9)
    train_op = opt.minimize(loss)
    names = sorted(v.op.name for v in tk.global_variables())
    assert names == sorted(["W", "b", "W/Adam", "W/Adam_1", "b/Adam", "b/Adam_1", "beta1_power", "beta2_power"])
    assert [v.op.name for v in tk.trainable_variables()] == ["W", "b"]
    assert opt.get_slot_names() == ["m", "v"]
    assert opt.get_slot(W, "m").op.name == "W/Adam" and opt.get_slot(W, "v").op.name == "W/Adam_1"
    assert not opt.get_slot(W, "m").trainable
    b1p, b2p = opt._get_beta_accumulators()
    ref, params, states = ref_adam(0.01, 0.8, 0.9), [W0.astype(np.float64), B0.astype(np.float64)], [{}, {}]
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        np.testing.assert_allclose(sess.run([b1p, b2p]), [0.8, 0.9], rtol=1e-7)
        for t in range(1, 4):
            params = [ref(p, g, s, t) for p, g, s in zip(params, _grads(params), states)]
            sess.run(train_op, {x: X, y: Y})
            np.testing.assert_allclose(sess.run([b1p, b2p]), [0.8 ** (t + 1), 0.9 ** (t + 1)], rtol=1e-6)
        np.testing.assert_allclose(sess.run(opt.get_slot(W, "m")), states[0]["m"], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(sess.run(opt.get_slot(b, "v")), states[1]["v"], rtol=1e-5, atol=1e-7)


def test_slot_names_follow_tf():
    x, y, W, b, loss = _model()
    m = tk.train.MomentumOptimizer(0.1, 0.9)
    m.minimize(loss)
    r = tk.train.RMSPropOptimizer(0.1, centered=True)
    r.minimize(loss)
    a = tk.train.AdagradOptimizer(0.1)
    a.minimize(loss)
    assert m.get_slot(W, "momentum").op.name == "W/Momentum"
    assert [r.get_slot(W, k).op.name for k in ("rms", "mg", "momentum")] == ["W/RMSProp", "W/RMSProp_1", "W/RMSProp_2"]
    assert a.get_slot(b, "accumulator").op.name == "b/Adagrad"
    opt_vars = set(m.variables() + r.variables() + a.variables())
    assert opt_vars <= set(tk.global_variables())
    assert not opt_vars & set(tk.trainable_variables())
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(r.get_slot(W, "rms")), np.ones((3, 2), np.float32))
        np.testing.assert_allclose(sess.run(a.get_slot(W, "accumulator")), np.full((3, 2), 0.1, np.float32))


def test_global_step_increments_in_the_same_step():
    x, y, W, b, loss = _model()
    gs = tk.train.get_or_create_global_step()
    assert gs.op.name == "global_step" and gs.dtype == tk.int64 and not gs.trainable
    assert tk.train.get_global_step() is gs and tk.train.get_or_create_global_step() is gs
    assert gs in tk.global_variables() and tk.get_collection(tk.GraphKeys.GLOBAL_STEP) == [gs]
    with pytest.raises(ValueError):
        tk.train.create_global_step()
    train_op = tk.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=gs)
    assert train_op in tk.get_collection(tk.GraphKeys.TRAIN_OP)
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        for i in range(3):
            sess.run(train_op, {x: X, y: Y})
            assert tk.train.global_step(sess, gs) == i + 1
        w_after = sess.run(W)
    params = [W0.astype(np.float64), B0.astype(np.float64)]
    for _ in range(3):
        params = [p - 0.1 * g for p, g in zip(params, _grads(params))]
    np.testing.assert_allclose(w_after, params[0], rtol=1e-5, atol=1e-6)


def test_var_list_restricts_updates():
    x, y, W, b, loss = _model()
    opt = tk.train.GradientDescentOptimizer(0.1)
    gv = opt.compute_gradients(loss, var_list=[b])
    assert [v for _, v in gv] == [b]
    train_op = opt.apply_gradients(gv)
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        sess.run(train_op, {x: X, y: Y})
        np.testing.assert_array_equal(sess.run(W), W0)
        np.testing.assert_allclose(sess.run(b), B0 - 0.1 * _grads([W0, B0])[1], rtol=1e-5)


def test_compute_and_apply_modified_gradients():
    x, y, W, b, loss = _model()
    opt = tk.train.GradientDescentOptimizer(1.0)
    gv = opt.compute_gradients(loss)
    capped = [(tk.clip_by_value(g, -0.01, 0.01), v) for g, v in gv]
    train_op = opt.apply_gradients(capped, name="capped")
    assert train_op.name == "capped"
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        sess.run(train_op, {x: X, y: Y})
        want = W0 - np.clip(_grads([W0, B0])[0], -0.01, 0.01)
        np.testing.assert_allclose(sess.run(W), want, rtol=1e-5)


def test_no_gradients_and_bad_arguments():
    x, y, W, b, loss = _model()
    other = tk.Variable(1.0, name="other")
    opt = tk.train.GradientDescentOptimizer(0.1)
    assert opt.compute_gradients(loss, var_list=[W, other])[1][0] is None
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.minimize(loss, var_list=[other])
    with pytest.raises(ValueError, match="No variables to optimize"):
        opt.compute_gradients(loss, var_list=[])
    with pytest.raises(TypeError):
        opt.apply_gradients([(tk.constant(1.0), tk.constant(2.0))])
    with pytest.raises(ValueError):
        tk.train.AdagradOptimizer(0.1, initial_accumulator_value=0.0)


@pytest.mark.parametrize("kind", ["placeholder", "tensor", "callable"])
def test_learning_rate_as_tensor(kind):
    x, y, W, b, loss = _model()
    lr_ph = tk.placeholder(tk.float32, [], name="lr")
    lr = {"placeholder": lr_ph, "tensor": tk.constant(0.5) * 0.2, "callable": lambda: tk.constant(0.1)}[kind]
    train_op = tk.train.MomentumOptimizer(lr, 0.5).minimize(loss)
    feeds = {x: X, y: Y}
    ref, params, states = ref_momentum(0.1, 0.5), [W0.astype(np.float64), B0.astype(np.float64)], [{}, {}]
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        for t in range(1, 4):
            lr_value = 0.1 if kind != "placeholder" else 0.1 * t
            if kind == "placeholder":
                feeds[lr_ph] = lr_value
                ref = ref_momentum(lr_value, 0.5)
            params = [ref(p, g, s, t) for p, g, s in zip(params, _grads(params), states)]
            sess.run(train_op, feeds)
        assert sess.compile_count == 2  # the initializer and the step
        np.testing.assert_allclose(sess.run(W), params[0], rtol=1e-5, atol=1e-6)


def test_exponential_decay_follows_the_global_step():
    gs = tk.train.get_or_create_global_step()
    lr = tk.train.exponential_decay(0.1, gs, decay_steps=10, decay_rate=0.5)
    lr_stair = tk.train.exponential_decay(0.1, gs, 10, 0.5, staircase=True)
    v = tk.Variable(1.0, name="v")
    train_op = tk.train.GradientDescentOptimizer(lr).minimize(tk.square(v) * 0.5, global_step=gs)
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        want = 1.0
        for step in range(15):
            got_lr, got_stair = sess.run([lr, lr_stair])
            np.testing.assert_allclose(got_lr, 0.1 * 0.5 ** (step / 10), rtol=1e-6)
            np.testing.assert_allclose(got_stair, 0.1 * 0.5 ** (step // 10), rtol=1e-6)
            sess.run(train_op)
            want -= 0.1 * 0.5 ** (step / 10) * want
        np.testing.assert_allclose(sess.run(v), want, rtol=1e-5)
        assert sess.run(gs) == 15


def test_other_schedules():
    step = tk.placeholder(tk.int64, [])
    pw = tk.train.piecewise_constant(step, [5, 10], [1.0, 0.5, 0.1])
    poly = tk.train.polynomial_decay(1.0, step, 10, end_learning_rate=0.0, power=2.0)
    inv = tk.train.inverse_time_decay(1.0, step, 1, 0.5)
    cos = tk.train.cosine_decay(1.0, step, 10)
    with tk.Session() as sess:
        for s, want_pw in ((0, 1.0), (5, 1.0), (6, 0.5), (10, 0.5), (11, 0.1)):
            got = sess.run([pw, poly, inv, cos], {step: s})
            frac = min(s, 10) / 10
            np.testing.assert_allclose(got, [want_pw, (1 - frac) ** 2, 1 / (1 + 0.5 * s),
                                             0.5 * (1 + np.cos(np.pi * frac))], rtol=1e-5, atol=1e-7)


def test_polynomial_decay_with_cycle():
    """TF's formula: decay_steps * ceil(step / decay_steps) (1 at step 0) when cycling."""
    step = tk.placeholder(tk.int64, [])
    poly = tk.train.polynomial_decay(0.1, step, 10, end_learning_rate=0.01, power=0.5, cycle=True)
    with tk.Session() as sess:
        for s in (0, 1, 9, 10, 11, 20, 25, 31):
            span = 10 * max(np.ceil(s / 10), 1)
            want = (0.1 - 0.01) * (1 - s / span) ** 0.5 + 0.01
            np.testing.assert_allclose(sess.run(poly, {step: s}), want, rtol=1e-6)


def test_training_step_is_one_signature_and_one_native_call(monkeypatch):
    x, y, W, b, loss = _model()
    gs = tk.train.get_or_create_global_step()
    train_op = tk.train.AdamOptimizer(0.01).minimize(loss, global_step=gs)
    calls = []
    real = NativeFunction.call_prepared

    def counting(self, arrays):
        calls.append(self)
        return real(self, arrays)
    monkeypatch.setattr(NativeFunction, "call_prepared", counting)
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        assert sess.compile_count == 1
        calls.clear()
        for _ in range(4):
            md = tk.RunMetadata()
            sess.run(train_op, {x: X, y: Y}, run_metadata=md)
            assert len(md.step_stats.dev_stats) == 1 and len(md.step_stats.dev_stats[0].node_stats) == 1
        assert len(calls) == 4 and len(set(map(id, calls))) == 1
        assert sess.compile_count == 2
        sess.run([train_op, loss], {x: X, y: Y})  # another fetch structure: one more signature
        assert sess.compile_count == 3
    ir = tk.get_ir(train_op, [x, y])
    assert ir.count("func @") == 1
    assert ir.count("graph.assign") == 2 * 3 + 2 + 1  # (W, b) x (var, m, v), beta powers, global_step


def test_float64_variables_get_float64_hyperparameters():
    v = tk.Variable(np.array([1.0, -2.0]), name="v")
    assert v.dtype == tk.float64
    train_op = tk.train.MomentumOptimizer(0.1, 0.9).minimize(tk.reduce_sum(tk.square(v)))
    want, accum = np.array([1.0, -2.0]), 0.0
    with tk.Session() as sess:
        sess.run(tk.global_variables_initializer())
        for _ in range(4):
            accum = 0.9 * accum + 2 * want
            want = want - 0.1 * accum
            sess.run(train_op)
        np.testing.assert_allclose(sess.run(v), want, rtol=1e-13)
