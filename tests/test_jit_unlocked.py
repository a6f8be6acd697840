"""Quick (tier-0) compiles outside llvmlite's process-wide lock (``jit.compile_object`` at level 0):
they run while another thread holds that lock, give the same object code as the locked path,
several at once on threads stay correct beside locked optimizing compiles that flip the LSR option,
and such an option change waits for them. Also: code that calls neither the runtime library nor a
kernel does not wait for the runtime library (``kernels.ensure_kernels(runtime=False)``)."""
from __future__ import annotations

import ctypes
import threading

import llvmlite.binding as llvm
from llvmlite.binding import ffi

from tensorkiln.backends.llvm import jit, kernels, tiering
from tensorkiln.backends.llvm.jit import JitModule, compile_object, with_lsr
from tensorkiln.backends.llvm.target import host_target_machine, new_host_target_machine, parse_and_optimize

FN = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)


def _ir(name: str, k: int) -> str:
    """``i64 name(i64 n)``: sum of (i * k) for i < n, with a vector loop so fast isel falls back to
    the selection DAG (as tier-0 model code does)."""
    return f"""
define i64 @"{name}"(i64 %n) {{
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi <4 x i64> [ zeroinitializer, %entry ], [ %acc1, %loop ]
  %s = mul i64 %i, {k}
  %v0 = insertelement <4 x i64> zeroinitializer, i64 %s, i32 0
  %acc1 = add <4 x i64> %acc, %v0
  %i1 = add i64 %i, 1
  %more = icmp slt i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  %r = extractelement <4 x i64> %acc1, i32 0
  ret i64 %r
}}
"""


def _expect(k: int, n: int) -> int:
    return k * n * (n - 1) // 2


def _no_background_compiles() -> None:
    """Let earlier tests' background compiles (tier 1, tier 0, the runtime prefetch) end first: one
    that turns loop strength reduction on or off holds jit's option lock while it waits for
    llvmlite's lock, and a quick compile waits for that option lock, so with llvmlite's lock held
    here it would wait for this test's timeout (seen once in a full ``make test``)."""
    tiering.wait(60)
    for t in threading.enumerate():
        if t.name.startswith("tensorkiln-") and t is not threading.current_thread():
            t.join(60)


def test_a_quick_compile_finishes_while_another_thread_holds_llvmlites_lock():
    _no_background_compiles()
    mod = parse_and_optimize(_ir("held", 3), host_target_machine(), 0, False, context=llvm.create_context())
    tm = new_host_target_machine(0)
    got: list = []
    with ffi.lib._lock:  # what every locked llvmlite call takes
        t = threading.Thread(target=lambda: got.append(jit._emit_outside_lock(tm, mod)))
        t.start()
        t.join(timeout=60)
        finished_under_lock = not t.is_alive()
    t.join()
    assert finished_under_lock
    assert got[0] == tm.emit_object(mod)  # the locked path makes the same object
    assert FN(JitModule(object_code=got[0]).address("held"))(10) == _expect(3, 10)


def test_quick_compiles_on_threads_beside_locked_optimizing_ones_stay_correct():
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def quick(t: int) -> None:
        try:
            for j in range(6):
                name, k = f"q{t}_{j}", 7 * t + j + 1
                lib = JitModule(object_code=compile_object(_ir(name, k), opt_level=0, unroll=False, codegen_level=0))
                results[name] = FN(lib.address(name))(1000) - _expect(k, 1000)
        except BaseException as e:  # reported below
            errors.append(e)

    def optimizing() -> None:
        try:
            for j in range(6):  # O3 with the LSR option flipped each time: the option writer
                name = f"o{j}"
                lib = JitModule(_ir(name, j + 2), opt_level=3, codegen_level=3, lsr=bool(j % 2))
                results[name] = FN(lib.address(name))(1000) - _expect(j + 2, 1000)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=quick, args=(t,)) for t in range(3)] + [threading.Thread(target=optimizing)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 3 * 6 + 6 and set(results.values()) == {0}


def test_an_option_change_waits_for_compiles_outside_the_lock():
    ran = threading.Event()
    seen: list = []

    def body() -> None:  # runs under the codegen lock: no other compile changes the option meanwhile
        seen.append(jit._lsr_now[0])
        ran.set()

    with jit._options:
        jit._unlocked_emits += 1  # as if a quick compile were running
    try:
        want = not jit._lsr_now[0]
        t = threading.Thread(target=lambda: with_lsr(want, body))
        t.start()
        assert not ran.wait(0.3)  # it waits before touching the option
    finally:
        with jit._options:
            jit._unlocked_emits -= 1
            jit._options.notify_all()
    t.join(timeout=60)
    assert ran.is_set() and seen == [want]


def test_code_calling_no_runtime_does_not_wait_for_the_runtime_library():
    done = {}

    def call(runtime: bool) -> None:
        kernels.ensure_kernels([], runtime=runtime)
        done[runtime] = True

    with kernels._lock:  # as the prefetch thread holds it while it builds the runtime library
        free = threading.Thread(target=call, args=(False,))
        needs = threading.Thread(target=call, args=(True,))
        free.start()
        needs.start()
        free.join(timeout=60)
        needs.join(timeout=0.3)
        assert done == {False: True}  # the one that needs the library is still waiting
    needs.join(timeout=60)
    assert done == {False: True, True: True}


def test_runtime_use_is_read_from_the_symbols():
    assert not kernels.runtime_used(_ir("plain", 1))
    for symbol in kernels.RUNTIME_SYMBOLS:
        assert kernels.runtime_used(f"declare ptr @{symbol}(i64)\n")
