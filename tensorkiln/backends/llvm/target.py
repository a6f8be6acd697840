"""Target machines: the host CPU for the JIT, PIC and a chosen CPU/triple for ahead-of-time objects.

JIT and AOT differ only in target-machine options (as in numba's codegen): the JIT uses the host
CPU's name and feature string so LLVM picks AVX-512 on Zen 4 and AVX2 elsewhere; AOT uses PIC
relocation and the CPU the user asks for. ``optimize`` runs LLVM's default pipeline (O3 unless
asked otherwise) with loop and SLP vectorization through the new pass builder, or a light one for
hand-vectorized kernels (``kernels.OPT``). JIT-compiled model modules run O3 without the loop
unroller (``MODEL_UNROLL``), which makes their code 2-3x smaller and their compiles 2-3x faster,
and without loop strength reduction (``MODEL_LSR``), at no cost in run time (docs/performance.md,
"compile time").
"""
from __future__ import annotations

import functools

import llvmlite.binding as llvm


@functools.lru_cache(maxsize=None)
def _init() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


@functools.lru_cache(maxsize=None)
def _init_all() -> None:
    """Every target LLVM was built with: only ahead-of-time builds for another triple need them
    (~1 ms, so the JIT does not pay for it)."""
    _init()
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()


@functools.lru_cache(maxsize=None)
def host_target_machine() -> "llvm.TargetMachine":
    """The shared host target machine for optimization and assembly (never given to an engine)."""
    return new_host_target_machine()


@functools.lru_cache(maxsize=None)
def _host_cpu() -> tuple[str, str]:
    """(CPU name, feature string), asked of LLVM once: each query costs ~1 ms."""
    _init()
    return llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


def new_host_target_machine(opt: int = 3) -> "llvm.TargetMachine":
    """A fresh host target machine: an MCJIT engine takes ownership of the one it is given.
    ``opt`` is the machine code generator's level (0: fast instruction selection and register
    allocation, for code where neither matters, see ``kernels.OPT``)."""
    _init()
    cpu, features = _host_cpu()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(cpu=cpu, features=features, opt=opt, jit=True)


def aot_target_machine(triple: str | None = None, cpu: str | None = None, features: str = "") -> "llvm.TargetMachine":
    _init_all()
    triple = triple or llvm.get_process_triple()
    target = llvm.Target.from_triple(triple)
    if cpu is None and triple == llvm.get_process_triple():
        cpu, features = _host_cpu()
    return target.create_target_machine(cpu=cpu or "", features=features, opt=3, reloc="pic", codemodel="default")


def host_features() -> str:
    return _host_cpu()[1]


def host_features_key() -> str:
    """Identifies the host CPU for cache keys."""
    cpu, features = _host_cpu()
    return cpu + ";" + features


# Whether JIT model modules run LLVM's loop unroller. Their loops are already vectorized and
# interleaved by the loop vectorizer; unrolling on top mostly multiplies remainder and epilogue
# code (the softmax train step: 236K -> 78K characters of optimized IR, 270 -> 90 ms of LLVM time)
# and measured no faster. Hand-blocked kernels (GEMM) keep it: their K loop gains from it.
MODEL_UNROLL = False

# Whether the machine code generator runs loop strength reduction on JIT model modules. Their loops
# index buffers with the induction variables codegen gives them, which LSR did not improve: without
# it the softmax train step's machine code takes 35 instead of 45 ms CPU, and the softmax, MLP and
# convnet steps measured the same (1 thread: 51.7-53.0 vs 52.3-52.4 us, 927-929 vs 927-928 us,
# 105.2-105.4 vs 105.1-106.4 ms). Kernel libraries keep it.
MODEL_LSR = False


# A pipeline for kernels written already vectorized and unrolled (gemm_skinny.py): SROA turns their
# stack accumulators into registers, instcombine and simplifycfg clean up what the generator
# left; nothing else in LLVM's default pipelines finds work there, so they cost compile time only.
LIGHT = -1


def optimize(mod: "llvm.ModuleRef", tm: "llvm.TargetMachine", level: int = 3, unroll: bool = True) -> None:
    """LLVM's default pipeline at ``level`` with loop and SLP vectorization, or the ``LIGHT`` one."""
    pto = llvm.create_pipeline_tuning_options(speed_level=max(level, 1))
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pto.loop_unrolling = unroll
    pb = llvm.create_pass_builder(tm, pto)
    if level == LIGHT:
        pm = llvm.create_new_module_pass_manager()
        pm.add_sroa_pass()
        pm.add_instruction_combine_pass()
        pm.add_simplify_cfg_pass()
    else:
        pm = pb.getModulePassManager()
    pm.run(mod, pb)


def parse_and_optimize(ir_text: str, tm: "llvm.TargetMachine", level: int = 3, unroll: bool = True,
                       context: "llvm.ContextRef | None" = None) -> "llvm.ModuleRef":
    """Parse and verify ``ir_text`` (into ``context``, default LLVM's global one) and optimize it;
    level 0 runs no IR passes (for IR written by hand in SSA form, see ``kernels.OPT``: the
    machine code generator still optimizes)."""
    mod = llvm.parse_assembly(ir_text, context)
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    mod.verify()
    if level != 0:
        optimize(mod, tm, level, unroll)
    return mod
