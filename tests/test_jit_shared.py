"""Object files loaded into shared MCJIT engines (``jit.EnginePool``): several objects per engine,
never two exporting one name, each function still the one its object defined, and an engine freed
once no module loaded into it is alive and its pool has moved on."""
from __future__ import annotations

import ctypes
import gc
import weakref

from tensorkiln.backends.llvm.jit import EnginePool, JitModule, compile_object

FN = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)


def _object(name: str, k: int) -> bytes:
    """An object defining ``i64 name(i64 x) = x * k + 1``."""
    return compile_object(f'define i64 @"{name}"(i64 %x) {{\n  %y = mul i64 %x, {k}\n  %z = add i64 %y, 1\n  ret i64 %z\n}}\n')


def _call(jit: JitModule, name: str, x: int) -> int:
    return FN(jit.address(name))(x)


def test_distinct_names_share_an_engine_and_keep_their_code():
    pool = EnginePool()
    mods = [JitModule(object_code=_object(f"f{i}", i), exports=[f"f{i}"], pool=pool) for i in range(5)]
    assert len({id(m.shared) for m in mods}) == 1
    for i, m in enumerate(mods):
        assert _call(m, f"f{i}", 10) == 10 * i + 1


def test_a_name_already_in_the_engine_starts_a_new_one():
    pool = EnginePool()
    a = JitModule(object_code=_object("f", 2), exports=["f"], pool=pool)
    b = JitModule(object_code=_object("g", 3), exports=["g"], pool=pool)
    c = JitModule(object_code=_object("f", 5), exports=["f"], pool=pool)
    assert a.shared is b.shared and c.shared is not a.shared
    # each module finds its own "f", not the other's
    assert (_call(a, "f", 7), _call(b, "g", 7), _call(c, "f", 7)) == (15, 22, 36)


def test_an_engine_holds_at_most_per_engine_objects():
    pool = EnginePool(per_engine=3)
    mods = [JitModule(object_code=_object(f"h{i}", 1), exports=[f"h{i}"], pool=pool) for i in range(7)]
    sizes = {}
    for m in mods:
        sizes[id(m.shared)] = sizes.get(id(m.shared), 0) + 1
    assert sorted(sizes.values()) == [1, 3, 3]


def test_an_engine_is_freed_with_its_last_module_once_the_pool_moved_on():
    pool = EnginePool(per_engine=2)
    a = JitModule(object_code=_object("p", 1), exports=["p"], pool=pool)
    b = JitModule(object_code=_object("q", 1), exports=["q"], pool=pool)
    first = weakref.ref(a.shared)
    c = JitModule(object_code=_object("r", 4), exports=["r"], pool=pool)  # the pool moves on
    assert c.shared is not first()
    del a
    gc.collect()
    assert first() is not None and _call(b, "q", 3) == 4  # b still holds the engine
    del b
    gc.collect()
    assert first() is None
    assert _call(c, "r", 3) == 13


def test_without_exports_an_object_gets_an_engine_of_its_own():
    m = JitModule(object_code=_object("solo", 6))
    assert m.shared is None and _call(m, "solo", 2) == 13
