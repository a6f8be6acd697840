"""Ahead-of-time compilation: a trained model becomes a ``.so`` + C header that runs without Python.

Two trained models: a small image classifier (8x8 line images, 4 classes) trained with numpy and
frozen by :func:`tk.aot.export_graph`, and the same network trained through ``Session.run`` and
exported by :func:`tk.aot.export` (variables frozen into constants). A C program compiled with
``cc`` against the generated header must print what ``Session.run`` and the JIT compute; the
library must load with ``tk.aot.load`` in a fresh Python process, depend on no Python, export only
its entries, return the documented code for a negative dim, come out byte-identical from identical
input, and cross-compile to AArch64 (run under qemu when the cross tools are installed).
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tensorkiln as tk
from tensorkiln import aot
from tensorkiln.backends.llvm.aot_build import AotError, object_machine
from tensorkiln.ir.core import Module
from tensorkiln.ir.types import SymDim
from tensorkiln.runtime.compiled_module import compile_graph_module

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "aot"
CC = shutil.which("cc") or shutil.which("gcc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler")
WEIGHTS = ("W1", "b1", "W2", "b2")


# --------------------------------------------------------------------------- a trained model


def line_images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """8x8 images of a horizontal (0), vertical (1), diagonal (2) or anti-diagonal (3) line."""
    labels = rng.integers(0, 4, n)
    imgs = rng.normal(0.0, 0.25, (n, 8, 8)).astype(np.float32)
    for i, (c, k) in enumerate(zip(labels, rng.integers(0, 8, n))):
        if c == 0:
            imgs[i, k, :] += 1
        elif c == 1:
            imgs[i, :, k] += 1
        else:
            idx = np.arange(8)
            imgs[i, idx, (idx + k - 3) % 8 if c == 2 else (7 - idx + k - 3) % 8] += 1
    return imgs.reshape(n, 64), labels


def train(x: np.ndarray, y: np.ndarray, steps: int = 300, lr: float = 0.5, seed: int = 0) -> dict[str, np.ndarray]:
    """One-hidden-layer MLP, softmax cross-entropy, full-batch gradient descent (numpy, f32)."""
    rng = np.random.default_rng(seed)
    w = {"W1": rng.normal(0, 0.2, (64, 32)), "b1": np.zeros(32), "W2": rng.normal(0, 0.2, (32, 4)), "b2": np.zeros(4)}
    w = {k: v.astype(np.float32) for k, v in w.items()}
    onehot = np.eye(4, dtype=np.float32)[y]
    for _ in range(steps):
        h = np.maximum(x @ w["W1"] + w["b1"], 0)
        z = h @ w["W2"] + w["b2"]
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        dz = (p - onehot) / len(x)
        dh = (dz @ w["W2"].T) * (h > 0)
        grads = {"W2": h.T @ dz, "b2": dz.sum(0), "W1": x.T @ dh, "b1": dh.sum(0)}
        w = {k: (w[k] - lr * grads[k]).astype(np.float32) for k in w}
    return w


@pytest.fixture(scope="module")
def model() -> dict:
    rng = np.random.default_rng(42)
    x, y = line_images(600, rng)
    weights = train(x, y)
    test_x, test_y = line_images(25, rng)
    graph, _ = tk.parse(FIXTURES / "classifier.tkir")
    jit = tk.compile(FIXTURES / "classifier.tkir")
    jit_probs, jit_labels = jit.classify(test_x, *(weights[k] for k in WEIGHTS))
    assert (jit_labels == test_y).mean() > 0.9, "the classifier did not learn"
    return {"graph": graph, "weights": weights, "x": test_x, "y": test_y, "jit_probs": jit_probs, "jit_labels": jit_labels}


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("aot")
    so, header = aot.export_graph(model["graph"], model["weights"], "classifier", out,
                                  output_names=["probs", "label"])
    return {"dir": out, "so": so, "header": header}


def run_c(exported: dict, *args: str, stdin: str = "") -> str:
    exe = exported["dir"] / "run_classifier"
    if not exe.exists():
        subprocess.run([CC, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", str(FIXTURES / "run_classifier.c"),
                        f"-I{exported['dir']}", f"-L{exported['dir']}", "-l:classifier.so",
                        f"-Wl,-rpath,{exported['dir']}", "-o", str(exe)], check=True, capture_output=True, text=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    r = subprocess.run([str(exe), *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


# --------------------------------------------------------------------------- the C program


@needs_cc
def test_c_program_matches_jit(model, exported):
    x = model["x"]
    stdin = f"{len(x)}\n" + "\n".join(" ".join(f"{v:.9g}" for v in row) for row in x) + "\n"
    rows = [line.split() for line in run_c(exported, stdin=stdin).splitlines()]
    labels = np.array([int(r[0]) for r in rows])
    probs = np.array([[float(v) for v in r[1:]] for r in rows], dtype=np.float32)
    np.testing.assert_array_equal(labels, model["jit_labels"])
    np.testing.assert_allclose(probs, model["jit_probs"], rtol=1e-5, atol=1e-6)
    assert (labels == model["y"]).mean() > 0.9
    # and the frozen function run by the JIT agrees too
    frozen = compile_graph_module(Module([aot.freeze(model["graph"]["classify"], model["weights"])]))
    p, lab = frozen.classify(x)
    np.testing.assert_array_equal(lab, labels)
    np.testing.assert_allclose(p, probs, rtol=1e-5, atol=1e-6)


@needs_cc
def test_bad_dim_returns_documented_code(exported):
    header = exported["header"].read_text()
    assert "#define TENSORKILN_ERR_BAD_DIM 1" in header
    assert "#define TENSORKILN_OK 0" in header
    assert run_c(exported, "--bad-dim").split()[:2] == ["1", "1"]
    lib = ctypes.CDLL(str(exported["so"]))
    out = (ctypes.c_float * 4)()
    assert lib.classifier(ctypes.c_int64(-3), None, out, None) == 1


@needs_cc
def test_header_documents_and_compiles_as_c_and_cpp(exported, tmp_path):
    header = exported["header"].read_text()
    assert "int32_t classifier(int64_t N, const float *x, float *probs, int64_t *label);" in header
    assert "input 'x': f32[N, 64]" in header and "output 'probs': f32[N, 4]" in header and "output 'label': i64[N]" in header
    assert '#define CLASSIFIER_TENSORKILN_VERSION "' + tk.__version__ + '"' in header
    src = tmp_path / "use.c"
    src.write_text('#include "classifier.h"\nint main(void) { return TENSORKILN_OK; }\n')
    subprocess.run([CC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", f"-I{exported['dir']}", str(src)], check=True)
    cxx = shutil.which("c++")
    if cxx:
        subprocess.run([cxx, "-x", "c++", "-Wall", "-Werror", "-fsyntax-only", f"-I{exported['dir']}", str(src)], check=True)


# --------------------------------------------------------------------------- the shared object


def test_no_python_in_dependencies(exported):
    if shutil.which("ldd"):
        ldd = subprocess.run(["ldd", str(exported["so"])], capture_output=True, text=True, check=True).stdout
        assert "python" not in ldd.lower() and "llvm" not in ldd.lower(), ldd
    if shutil.which("readelf"):
        dyn = subprocess.run(["readelf", "-d", str(exported["so"])], capture_output=True, text=True, check=True).stdout
        needed = {line.split("[")[1].rstrip("]") for line in dyn.splitlines() if "(NEEDED)" in line}
        assert needed <= {"libc.so.6", "libm.so.6", "libpthread.so.0"}, needed


def test_only_entries_are_exported(exported):
    if not shutil.which("nm"):
        pytest.skip("no nm")
    out = subprocess.run(["nm", "-D", "--defined-only", str(exported["so"])], capture_output=True, text=True, check=True).stdout
    assert {line.split()[-1] for line in out.splitlines()} == {"classifier", "tensorkiln_metadata_classifier"}
    undefined = subprocess.run(["nm", "-u", str(exported["dir"] / "classifier.o")], capture_output=True, text=True, check=True).stdout
    assert {line.split()[-1] for line in undefined.splitlines()} <= LIBC_IMPORTS


# What a shared object may import: memory functions, and the pthread/sched calls of its thread pool.
LIBC_IMPORTS = {"malloc", "free", "aligned_alloc", "memset", "memcpy", "memmove", "pthread_create", "pthread_detach",
                "pthread_mutex_init", "pthread_mutex_lock", "pthread_mutex_unlock", "pthread_cond_init",
                "pthread_cond_wait", "pthread_cond_broadcast", "getpid", "sched_yield"}


def test_object_file_is_byte_identical(model, exported, tmp_path):
    again, _ = aot.export_graph(model["graph"], model["weights"], "classifier", tmp_path, output_names=["probs", "label"])
    assert (tmp_path / "classifier.o").read_bytes() == (exported["dir"] / "classifier.o").read_bytes()
    assert (tmp_path / "classifier.h").read_text() == exported["header"].read_text()
    # and across processes (fresh counters, fresh LLVM): the same file compiles to the same bytes
    for d in ("p1", "p2"):
        subprocess.run([sys.executable, "-m", "tensorkiln.aot_cli", str(FIXTURES / "classifier.tkir"), "-o", str(tmp_path / d)],
                       check=True, capture_output=True, timeout=300)
    for f in ("classifier.o", "classifier.so", "classifier.h"):
        assert (tmp_path / "p1" / f).read_bytes() == (tmp_path / "p2" / f).read_bytes(), f


def test_metadata_is_embedded(exported):
    lib = ctypes.CDLL(str(exported["so"]))
    lib.tensorkiln_metadata_classifier.restype = ctypes.c_char_p
    meta = json.loads(lib.tensorkiln_metadata_classifier())
    assert meta["format"] == "tensorkiln-aot" and meta["tensorkiln_version"] == tk.__version__
    from tensorkiln.backends.llvm.aot_build import ABI_VERSION

    assert meta["abi_version"] == ABI_VERSION == aot.ABI_VERSION
    (entry,) = meta["entries"]
    assert entry["symbols"] == ["N"]
    assert [(t["name"], t["dtype"], t["shape"]) for t in entry["inputs"]] == [("x", "f32", ["N", 64])]
    assert [(t["name"], t["dtype"], t["shape"]) for t in entry["outputs"]] == [("probs", "f32", ["N", 4]), ("label", "i64", ["N"])]
    assert meta["error_codes"]["1"].startswith("a dimension")


@pytest.mark.parametrize("text", ["784*N", "N+1", "N-1", "2*B*K-3", "N*N"])
def test_metadata_dims_round_trip(text):
    d = aot.parse_dim(text)
    assert isinstance(d, SymDim) and aot.parse_dim(str(d)) == d
    env = {"N": 5, "B": 2, "K": 7}
    assert d.evaluate(env) == eval(text, {}, env)


def test_aarch64_object(model, tmp_path):
    lib, header = aot.export_graph(model["graph"], model["weights"], "classifier", tmp_path,
                                   target="aarch64-unknown-linux-gnu", output_names=["probs", "label"])
    obj = (tmp_path / "classifier.o").read_bytes()
    assert object_machine(obj) == "aarch64"
    assert obj[4] == 2 and obj[16] == 1  # ELFCLASS64, ET_REL
    if shutil.which("file"):
        assert "aarch64" in subprocess.run(["file", str(tmp_path / "classifier.o")], capture_output=True, text=True).stdout
    assert "int32_t classifier(int64_t N, const float *x, float *probs, int64_t *label);" in header.read_text()
    cross_cc = shutil.which("aarch64-linux-gnu-gcc")
    if lib.suffix != ".so":  # no cross linker: the object is the result
        assert lib == tmp_path / "classifier.o" and cross_cc is None
        return
    assert object_machine(lib.read_bytes()) == "aarch64"
    qemu, sysroot = shutil.which("qemu-aarch64"), Path("/usr/aarch64-linux-gnu")
    if not (cross_cc and qemu and sysroot.is_dir()):
        return
    # Run the C driver under user-mode emulation: the aarch64 code computes what the JIT does.
    exe = tmp_path / "run_classifier"
    subprocess.run([cross_cc, "-std=c99", "-O2", str(FIXTURES / "run_classifier.c"), f"-I{tmp_path}", f"-L{tmp_path}",
                    "-l:classifier.so", f"-Wl,-rpath,{tmp_path}", "-o", str(exe)], check=True)
    x = model["x"][:8]
    stdin = f"{len(x)}\n" + "\n".join(" ".join(f"{v:.9g}" for v in row) for row in x) + "\n"
    r = subprocess.run([qemu, "-L", str(sysroot), str(exe)], input=stdin, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    np.testing.assert_array_equal([int(row[0]) for row in rows], model["jit_labels"][:8])
    np.testing.assert_allclose([[float(v) for v in row[1:]] for row in rows], model["jit_probs"][:8], rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- loading from Python


def test_load_in_fresh_process(model, exported, tmp_path):
    np.save(tmp_path / "x.npy", model["x"])
    script = (
        "import sys, numpy as np, tensorkiln as tk, tensorkiln.aot\n"
        "before = set(sys.modules)\n"
        f"f = tk.aot.load({str(exported['so'])!r})\n"
        f"p, lab = f(np.load({str(tmp_path / 'x.npy')!r}))\n"
        f"np.save({str(tmp_path / 'p.npy')!r}, p); np.save({str(tmp_path / 'lab.npy')!r}, lab)\n"
        "print(sorted(m for m in set(sys.modules) - before if 'llvm' in m or 'compiler' in m))\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", "loading a library must not import the compiler"
    np.testing.assert_array_equal(np.load(tmp_path / "lab.npy"), model["jit_labels"])
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), model["jit_probs"], rtol=1e-5, atol=1e-6)


def test_load_checks_shapes_and_dtypes(model, exported):
    f = aot.load(exported["so"])
    assert f.entries == ["classifier"]
    probs, labels = f(model["x"][:3])
    assert probs.shape == (3, 4) and labels.dtype == np.int64
    assert f(model["x"][:0])[0].shape == (0, 4)
    with pytest.raises(tk.errors.InvalidArgumentError, match="'x'.*64"):
        f(np.zeros((2, 63), np.float32))
    with pytest.raises(tk.errors.InvalidArgumentError, match="rank"):
        f(np.zeros(64, np.float32))
    with pytest.raises(tk.errors.InvalidArgumentError, match="dtype"):
        f(np.zeros((2, 64), np.float64))
    with pytest.raises(TypeError):
        f()


# --------------------------------------------------------------------------- from the DSL and the CLI


def test_compile_dsl_file_entries(tmp_path):
    src = ROOT / "examples" / "softmax.tk"
    so, header = aot.compile_module_to_library(tk.parse(src)[0], tmp_path, "softmax", entries=["stats", "axpy"])
    lib = aot.load(so)
    assert lib.entries == ["stats", "axpy"]
    jit = tk.compile(src)
    x = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32)
    for got, want in zip(lib.stats(x), jit.stats(x)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    a, y = np.array(2.5, np.float32), np.arange(9, dtype=np.float32)
    np.testing.assert_allclose(lib.axpy(a, y, y), jit.axpy(a, y, y))
    np.testing.assert_allclose(lib.axpy(2.5, y, list(y)), jit.axpy(a, y, y))  # Python values convert
    text = header.read_text()
    assert "int32_t stats(int64_t B, int64_t K, const float *x, float *out0, int64_t *out1);" in text
    assert "int32_t axpy(int64_t N, const float *a, const float *x, const float *y, float *out0);" in text
    with pytest.raises(TypeError, match="2 entries"):
        lib(x)


def test_cli_compile(tmp_path):
    from tensorkiln import aot_cli

    src = FIXTURES / "classifier.tkir"
    assert aot_cli.main([str(src), "-o", str(tmp_path), "--entry", "classify", "--name", "mlp", "--cpu", "generic"]) == 0
    assert (tmp_path / "mlp.so").exists() and (tmp_path / "mlp.h").exists()
    rng = np.random.default_rng(1)
    args = [rng.normal(size=s).astype(np.float32) for s in [(3, 64), (64, 32), (32,), (32, 4), (4,)]]
    for got, want in zip(aot.load(tmp_path / "mlp.so")(*args), tk.compile(src).classify(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # the module runs as a program; errors are reported with an exit status
    r = subprocess.run([sys.executable, "-m", "tensorkiln.aot_cli", str(ROOT / "examples" / "softmax.tk"), "-o", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert aot.load(tmp_path / "softmax.so").entries == ["predict", "axpy", "chain", "stats"]
    assert aot_cli.main([str(src), "-o", str(tmp_path), "--entry", "nope"]) == 2
    bad = tmp_path / "bad.tkir"
    bad.write_text("func @f(%x: tensor<4xf32>) -> tensor<4xf32> {\n  return %y : tensor<4xf32>\n}\n")
    assert aot_cli.main([str(bad), "-o", str(tmp_path)]) == 1


def test_cli_hooked_into_tensorkiln_command(tmp_path):
    from tensorkiln import cli

    try:
        rc = cli.main(["compile", str(FIXTURES / "classifier.tkir"), "-o", str(tmp_path)])
    except SystemExit:
        pytest.skip("the compile subcommand is not hooked into tensorkiln's CLI yet")
    assert rc == 0 and (tmp_path / "classifier.so").exists()


# --------------------------------------------------------------------------- freezing and names


def test_freeze_replaces_variables_and_drops_assigns(model):
    src = ("func @step(%x: tensor<Nxf32>, %v: tensor<Nxf32>, %w: tensor<f32>) -> tensor<Nxf32> {\n"
           "  %0 = graph.mul %x, %w : tensor<Nxf32>\n  graph.assign %v, %0\n  return %0 : tensor<Nxf32>\n}\n")
    graph, _ = tk.parse(src)
    with pytest.raises(AotError, match="shape"):
        aot.freeze(graph["step"], {"w": np.ones(3, np.float32)})
    with pytest.raises(AotError, match="no argument"):
        aot.freeze(graph["step"], {"q": 1.0})
    frozen = aot.freeze(graph["step"], {"w": np.float32(3.0)})
    assert [a.name_hint for a in frozen.args] == ["x", "v"]
    assert [op.name for op in frozen.walk()].count("graph.assign") == 1, "an assign to a kept argument stays"
    assert [a.name_hint for a in graph["step"].args] == ["x", "v", "w"], "the original is not modified"
    graph, _ = tk.parse(src.replace("Nxf32", "4xf32"))
    frozen = aot.freeze(graph["step"], {"w": np.float32(3.0), "v": np.zeros(4, np.float32)})
    assert [a.name_hint for a in frozen.args] == ["x"]
    assert "graph.assign" not in [op.name for op in frozen.walk()], "updates of frozen variables are dropped"
    out = compile_graph_module(Module([frozen])).step(np.arange(4, dtype=np.float32))
    np.testing.assert_allclose(out, np.arange(4) * 3.0)


@pytest.mark.parametrize("name", ["my-lib", "int", "3d", "malloc"])
def test_bad_library_names_are_rejected(model, tmp_path, name):
    with pytest.raises(AotError):
        aot.export_graph(model["graph"], model["weights"], name, tmp_path)


# --------------------------------------------------------------------------- the example


@needs_cc
@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_example_makefile(tmp_path):
    build = tmp_path / "build"
    r = subprocess.run(["make", "-s", "-C", str(ROOT / "examples" / "aot_c"), "run", f"BUILD={build}", "STEPS=200",
                        f"PYTHON={sys.executable}"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    accuracy = float(re.search(r"^accuracy on \d+ test images: ([\d.]+)", r.stdout, re.M).group(1))
    assert accuracy > 0.6, r.stdout
    assert "returns 1 (TENSORKILN_ERR_BAD_DIM)" in r.stdout
    py_accuracy = float(re.search(r"accuracy from Python on \d+ test images: ([\d.]+)", r.stdout).group(1))
    assert py_accuracy == accuracy, "C and tk.aot.load disagree"


@pytest.mark.parametrize("kw", [{"target": "bogus-xx-linux"}, {"cpu": "no-such-cpu"}])
def test_bad_target_or_cpu_is_an_error_not_a_crash(tmp_path, kw):
    graph, _ = tk.parse(FIXTURES / "classifier.tkir")
    with pytest.raises(AotError, match="bogus|no-such-cpu"):
        aot.compile_module_to_library(graph, tmp_path, "m", **kw)


# --------------------------------------------------------------------------- from a Session


def _session_api() -> bool:
    return all(hasattr(tk, n) for n in ("Session", "placeholder", "Variable", "global_variables_initializer", "assign_sub"))


def _train_op(loss, logits, h, x, y, variables, n_train):
    """``tk.train`` when it exists; else the same gradient step written with graph ops."""
    if hasattr(tk, "train") and hasattr(tk.train, "GradientDescentOptimizer"):
        return tk.train.GradientDescentOptimizer(0.5).minimize(loss)
    W1, b1, W2, b2 = variables
    dz = (tk.nn.softmax(logits) - tk.one_hot(y, 4)) / float(n_train)
    dh = tk.matmul(dz, W2, transpose_b=True) * tk.cast(tk.greater(h, 0.0), tk.float32)
    grads = [tk.matmul(x, dh, transpose_a=True), tk.reduce_sum(dh, axis=0), tk.matmul(h, dz, transpose_a=True), tk.reduce_sum(dz, axis=0)]
    return tk.group(*[tk.assign_sub(v, 0.5 * g) for v, g in zip(variables, grads)])


@needs_cc
@pytest.mark.skipif(not _session_api(), reason="the graph API / Session is not available yet")
def test_export_from_trained_session(tmp_path):
    rng = np.random.default_rng(7)
    x_train, y_train = line_images(400, rng)
    test_x, test_y = line_images(25, rng)
    g = tk.Graph()
    with g.as_default():
        x = tk.placeholder(tk.float32, [None, 64], name="x")
        y = tk.placeholder(tk.int64, [None], name="y")
        W1 = tk.Variable(rng.normal(0, 0.2, (64, 32)).astype(np.float32), name="W1")
        b1 = tk.Variable(np.zeros(32, np.float32), name="b1")
        W2 = tk.Variable(rng.normal(0, 0.2, (32, 4)).astype(np.float32), name="W2")
        b2 = tk.Variable(np.zeros(4, np.float32), name="b2")
        h = tk.nn.relu(tk.matmul(x, W1) + b1)
        logits = tk.matmul(h, W2) + b2
        probs = tk.nn.softmax(logits, name="probs")
        label = tk.argmax(logits, axis=1, name="label")
        loss = tk.reduce_mean(tk.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        step = _train_op(loss, logits, h, x, y, [W1, b1, W2, b2], len(x_train))
        with tk.Session(graph=g) as sess:
            sess.run(tk.global_variables_initializer())
            for _ in range(200):
                sess.run(step, {x: x_train, y: y_train})
            want_p, want_l = sess.run([probs, label], {x: test_x})
            so, header = aot.export(sess, [x], [probs, label], "classifier", tmp_path)
            weights = sess.run([W1, b1, W2, b2])
    assert (want_l == test_y).mean() > 0.9, "the Session did not train the model"
    decl = [line for line in header.read_text().splitlines() if line.startswith("int32_t classifier(")]
    assert decl == ["int32_t classifier(int64_t N0, const float *x, float *probs, int64_t *label);"]
    exported = {"dir": tmp_path, "so": so, "header": header}
    stdin = f"{len(test_x)}\n" + "\n".join(" ".join(f"{v:.9g}" for v in row) for row in test_x) + "\n"
    rows = [line.split() for line in run_c(exported, stdin=stdin).splitlines()]
    np.testing.assert_array_equal([int(r[0]) for r in rows], want_l)
    np.testing.assert_allclose([[float(v) for v in r[1:]] for r in rows], want_p, rtol=1e-5, atol=1e-6)
    jit_p, jit_l = tk.compile(FIXTURES / "classifier.tkir").classify(test_x, *weights)
    np.testing.assert_array_equal(jit_l, want_l)
    np.testing.assert_allclose(jit_p, want_p, rtol=1e-5, atol=1e-6)
    loaded_p, loaded_l = aot.load(so)(test_x)
    np.testing.assert_array_equal(loaded_l, want_l)
    np.testing.assert_allclose(loaded_p, want_p, rtol=1e-5, atol=1e-6)
    assert run_c(exported, "--bad-dim").split()[:2] == ["1", "1"]
    meta = aot.load(so).metadata
    assert [t["name"] for t in meta["entries"][0]["outputs"]] == ["probs", "label"]
