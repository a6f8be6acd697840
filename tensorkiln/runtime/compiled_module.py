"""Compiling a graph-stage Module into callable native functions, keeping every stage printable.

:func:`compile_graph_module` runs the pipeline (graph → optimized → loops), emits one LLVM module for
all entries, JIT-compiles it, and returns a :class:`CompiledModule` whose attributes are the entries.
The machine code is kept in the disk cache (:mod:`.cache`) under a key of the graph IR text, the
versions and the CPU; a later compile of the same module — in this process or another — loads the
object code and skips the pipeline, which then runs only if someone asks to see a stage. A miss
is compiled in tiers (``backends/llvm/tiering.py``): quickly compiled code first, the optimized
code from a background thread, which is what reaches the disk cache.
``TENSORKILN_DUMP_DIR`` makes every compile write each stage of each entry to files there.
"""
from __future__ import annotations

import os
import re
import threading
import weakref
from pathlib import Path
from typing import Optional

import llvmlite

from ..backends.llvm import tiering
from ..backends.llvm.codegen import abi_symbols, bounds_check_enabled, default_threads
from ..backends.llvm.jit import JitModule, compile_object
from ..backends.llvm.kernels import ensure_libraries_for, join_prefetch, prefetch_runtime, warm_up
from ..backends.llvm.target import MODEL_LSR, MODEL_UNROLL, host_features_key
from ..compiler.passes.base import AfterPassHook
from ..ir.core import Function, Module
from ..ir.printer import print_function, print_module
from ..ir.types import MemRefType, TensorType
from .cache import DiskCache, cache_dir, cache_enabled, make_key
from .executable import ArgSpec, NativeFunction


def _evaluator():
    from ..backends.reference.interpreter import evaluate_op

    return evaluate_op


class _Build:
    """The pipeline's products for one compile, made on demand after a cache hit."""

    def __init__(self, graph: Module, fold: bool, threads: int, after_pass: AfterPassHook | None = None):
        self.graph = graph
        self.fold = fold
        self.threads = threads
        self.after_pass = after_pass
        self._stages: dict[str, Module] | None = None
        self._jit: JitModule | None = None
        self.tier1: tiering._Job | None = None  # the optimized code's compile, while tiered

    @property
    def stages(self) -> dict[str, Module]:
        if self._stages is None:
            # Imported here: a process that only loads cached code never needs the passes.
            from ..compiler.pipeline import run_to_stages

            self._stages = run_to_stages(self.graph, evaluate=_evaluator() if self.fold else None, after_pass=self.after_pass)
        return self._stages

    def llvm_ir(self) -> str:
        from ..backends.llvm.codegen import emit_module

        return str(emit_module(self.stages["loops"], threads=self.threads, py_wrappers=True, extern_kernels=True))

    @property
    def jit(self) -> JitModule:
        """A JIT module compiled from IR (so its optimized IR and assembly can be shown): the
        optimized one, waited for if it is still being compiled."""
        if self.tier1 is not None:
            tiering.wait_for(self.tier1)
        if self._jit is None:
            self._jit = self.jit_from(self.llvm_ir())
        return self._jit

    def jit_from(self, llvm_ir: str, cache: DiskCache | None = None) -> JitModule:
        if self._jit is None:
            ensure_libraries_for(llvm_ir, cache, optimized=True)
            self._jit = JitModule(llvm_ir, unroll=MODEL_UNROLL, lsr=MODEL_LSR)
        return self._jit

    def tier0_from(self, llvm_ir: str, cache: DiskCache | None) -> JitModule:
        """Quickly compiled code for the first calls: no IR passes, the fast instruction selector.
        LLVM compiles it on a thread of its own while this one builds the kernel libraries' IR in
        Python (LLVM releases the GIL; the object is linked to the kernels once both are done):
        the cold softmax step, median of ten alternating runs, 66.0 -> 62.4 ms. Both quick
        compiles run outside llvmlite's lock (``jit.compile_object``), so the kernels' LLVM work
        no longer waits for the model's: 59.2 -> 48.6 ms (medians of 14 alternating processes)."""
        got: list = []

        def compile_() -> None:
            try:
                got.append(compile_object(llvm_ir, opt_level=0, unroll=False, codegen_level=0, lsr=MODEL_LSR))
            except BaseException as e:  # raised below, on the compiling thread
                got.append(e)

        worker = threading.Thread(target=compile_, name="tensorkiln-tier0")
        worker.start()
        try:
            ensure_libraries_for(llvm_ir, cache)
        finally:
            worker.join()
        if isinstance(got[0], BaseException):
            raise got[0]
        return JitModule(object_code=got[0], exports=exports(self.graph))


class CompiledEntry:
    def __init__(self, name: str, build: _Build, fn: NativeFunction):
        self.name = name
        self.build = build
        self.fn = fn

    def ir(self, stage: str) -> str:
        from ..compiler.pipeline import IR_STAGES, STAGES

        if stage in IR_STAGES:
            return print_function(self.build.stages[stage][self.name])
        if stage == "llvm":
            return self.build.jit.llvm_ir or ""
        if stage == "llvm-opt":
            return self.build.jit.optimized_ir
        if stage == "asm":
            return self.build.jit.asm
        raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")


class CompiledModule:
    """The result of ``tk.compile``: each DSL/IR function is an attribute taking numpy arrays."""

    def __init__(self, entries: dict[str, CompiledEntry], source_name: str, from_cache: bool = False):
        self._entries = entries
        self.source_name = source_name
        self.from_cache = from_cache
        for name, e in entries.items():
            if not hasattr(type(self), name):
                setattr(self, name, e.fn)

    @property
    def entries(self) -> list[str]:
        return list(self._entries)

    def __getitem__(self, name: str) -> NativeFunction:
        return self._entries[name].fn

    def ir(self, entry: str, stage: str = "graph") -> str:
        if entry not in self._entries:
            raise KeyError(f"no entry {entry!r}; entries are {', '.join(self._entries)}")
        return self._entries[entry].ir(stage)

    def __repr__(self) -> str:
        return f"<CompiledModule {self.source_name}: {', '.join(self._entries)}>"


def _dump(dump_dir: str, stem: str, entries: dict[str, CompiledEntry]) -> None:
    from ..compiler.pipeline import STAGES

    d = Path(dump_dir)
    d.mkdir(parents=True, exist_ok=True)
    ext = {"graph": "tkir", "optimized": "tkir", "loops": "tkir", "llvm": "ll", "llvm-opt": "ll", "asm": "s"}
    for name, e in entries.items():
        for stage in STAGES:
            (d / f"{stem}.{name}.{stage}.{ext[stage]}").write_text(e.ir(stage))


_FINGERPRINT: str | None = None


def _source_files(directory: str, out: list[str], stats: list[str] | None = None) -> None:
    # os.scandir, not Path.rglob: this runs in every process that compiles, and rglob costs more
    # than reading and hashing the files.
    with os.scandir(directory) as entries:
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                if e.name != "__pycache__":
                    _source_files(e.path, out, stats)
            elif e.name.endswith((".py", ".lark")):
                out.append(e.path)
                if stats is not None:
                    st = e.stat()
                    stats.append(f"{e.path} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}")


_SOURCE_DIRS = ("ir", "compiler", "backends/llvm", "runtime")


def compiler_fingerprint() -> str:
    """A hash of the compiler's own source (names and contents), so a changed compiler never
    reuses stale cached code; memoized in the disk cache's directory (``memoized_fingerprint``)."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        root = str(Path(__file__).resolve().parents[1])
        memo = cache_dir() / "fingerprint.memo" if cache_enabled() else None
        _FINGERPRINT = memoized_fingerprint(root, _SOURCE_DIRS, memo)
    return _FINGERPRINT


def memoized_fingerprint(root: str, subdirs: tuple[str, ...], memo: Path | None) -> str:
    """``source_fingerprint``, remembered in the file ``memo`` under a stamp of the files' paths,
    sizes, modification and change times and inodes: a process that finds the stamp unchanged
    skips reading and hashing the sources (76 files: 2.9 -> 0.8 ms, measured in a slow phase
    of this VM). Any write to a source changes its ctime, so the stamp, and the hash is
    computed again; so does adding, removing or renaming one."""
    if memo is None:
        return source_fingerprint(root, subdirs)
    import hashlib

    stats: list[str] = []
    for sub in subdirs:
        _source_files(os.path.join(root, sub), [], stats)
    stamp = hashlib.sha256("\n".join(sorted(stats)).encode()).hexdigest()
    try:
        got_stamp, got = memo.read_text().split()
        if got_stamp == stamp and re.fullmatch(r"[0-9a-f]{64}", got):
            return got
    except (OSError, ValueError):
        pass
    fp = source_fingerprint(root, subdirs)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f"{memo.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(f"{stamp} {fp}\n")
        os.replace(tmp, memo)  # whole or not at all, for processes reading it meanwhile
    except OSError:
        pass  # a read-only cache: hash again next time
    return fp


def source_fingerprint(root: str, subdirs: tuple[str, ...]) -> str:
    """SHA-256 over the relative names and contents of the ``.py``/``.lark`` files under
    ``root/subdir`` for each subdir (``__pycache__`` skipped)."""
    import hashlib

    h = hashlib.sha256()
    for sub in subdirs:
        files: list[str] = []
        _source_files(os.path.join(root, sub), files)
        for path in sorted(files):
            h.update(os.path.relpath(path, root).encode() + b"\0")
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def _signature(gf: Function) -> tuple[list[ArgSpec], list[ArgSpec], list[str]]:
    inputs = [ArgSpec(a.name_hint or f"arg{i}", a.type) for i, a in enumerate(gf.args)]
    outputs = [ArgSpec(f"result{i}", t) for i, t in enumerate(gf.result_types)]
    assert all(isinstance(s.type, TensorType) for s in inputs + outputs)
    # The ABI's dims are those of the lowered function's buffers: inputs, then outputs.
    buffers = Function(gf.name, [MemRefType(s.type.shape, s.type.dtype) for s in inputs + outputs], [])
    return inputs, outputs, abi_symbols(buffers)


def _store(cache: DiskCache | None, key: str, jit: JitModule) -> None:
    """Optimized object code into the disk cache (tier-0 code never goes there)."""
    if cache is not None and jit.object_code:
        cache.put(key, jit.object_code)


def _optimize_later(build: _Build, llvm_ir: str, key: str, cache: DiskCache | None, fns: list[NativeFunction]) -> None:
    """Queue the tier-1 compile of a module now running tier-0 code (``tiering``): it becomes the
    build's JIT module (for the ``llvm-opt`` and ``asm`` stages), goes to the disk cache, and
    every function still alive is re-pointed at it. Without a disk cache the job is dropped if
    the functions are all gone by its turn; with one it runs regardless (a module run once — an
    initializer, an evaluation — is otherwise recompiled at tier 0 by every later process)."""
    refs = [weakref.ref(f) for f in fns]

    def install(jit: JitModule) -> None:
        _store(cache, key, jit)
        for r in refs:
            fn = r()
            if fn is not None:
                fn.retarget(jit.address(fn.name), jit.address(fn.name + ".py"), jit, jit.address(fn.name + ".fast"))

    alive = tiering.any_alive(fns) if cache is None else (lambda: True)
    build.tier1 = tiering.submit(lambda: build.jit_from(llvm_ir, cache), install, alive)


def compile_graph_module(
    graph: Module,
    source_name: str = "<string>",
    after_pass: AfterPassHook | None = None,
    fold: bool = True,
    threads: Optional[int] = None,
    use_cache: Optional[bool] = None,
) -> CompiledModule:
    with tiering.foreground():
        return _compile_graph_module(graph, source_name, after_pass, fold, threads, use_cache)


def exports(graph: Module) -> list[str]:
    """The names a model's object code defines for the outside: each entry and its wrapper
    (``pywrappers``); everything else in it is internal or private."""
    return [n for gf in graph for n in (gf.name, gf.name + ".py", gf.name + ".fast")]


def _compile_graph_module(graph: Module, source_name: str, after_pass: AfterPassHook | None, fold: bool,
                          threads: Optional[int], use_cache: Optional[bool]) -> CompiledModule:
    from .. import __version__

    threads = default_threads() if threads is None else threads
    build = _Build(graph, fold, threads, after_pass)
    use_cache = cache_enabled() and after_pass is None if use_cache is None else use_cache
    key = make_key(__version__, compiler_fingerprint(), llvmlite.__version__, host_features_key(), str(threads), str(fold),
                   f"bounds={bounds_check_enabled()}", print_module(graph))
    cache = DiskCache() if use_cache else None
    obj = cache.get(key) if cache is not None else None
    from_cache = obj is not None
    tiered = False
    if obj is not None:
        # Only the kernel libraries the object refers to: their names are in its symbol table.
        # (Loading every dtype's library made a cache hit compile the f64 GEMM when only f32
        # was cached: ~0.7 s.)
        ensure_libraries_for(obj.decode("latin-1"), cache, optimized=True)
        jit = JitModule(object_code=obj, exports=exports(graph))
    else:
        prefetch_runtime(cache)  # compiled by LLVM while the pipeline and codegen run in Python
        try:
            build.stages  # run the pipeline (and the after-pass hook) now, so errors surface here
            llvm_ir = build.llvm_ir()
        except BaseException:
            join_prefetch()  # no LLVM work of a failed compile goes on behind the caller's back
            raise
        tiered = tiering.wanted(llvm_ir)
        if tiered:
            jit = build.tier0_from(llvm_ir, cache)
        else:
            jit = build.jit_from(llvm_ir, cache)
            _store(cache, key, jit)
    entries: dict[str, CompiledEntry] = {}
    for gf in graph:
        inputs, outputs, symbols = _signature(gf)
        fn = NativeFunction(gf.name, inputs, outputs, symbols, jit.address(gf.name), jit, jit.address(gf.name + ".py"),
                            jit.address(gf.name + ".fast"))
        fn.tier = 0 if tiered else 1
        entries[gf.name] = CompiledEntry(gf.name, build, fn)
    if tiered:
        _optimize_later(build, llvm_ir, key, cache, [e.fn for e in entries.values()])
    dump_dir = os.environ.get("TENSORKILN_DUMP_DIR")
    if dump_dir:
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(source_name).stem or "module")
        _dump(dump_dir, stem, entries)
    return CompiledModule(entries, source_name, from_cache)


# Every process that imports the runtime goes on to compile or to load cached code: the LLVM set-up
# for that starts now, beside the rest of the import (kernels.warm_up).
warm_up()
