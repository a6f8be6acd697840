"""Ahead-of-time builds: loops-stage functions → object file → shared object + C header.

The pieces, each usable alone:

* :func:`entry_spec` describes one entry in C terms (dims, inputs, outputs, C types, C names).
* :func:`build_llvm_module` emits the entries with :func:`~.codegen.emit_module`, gives every
  definition that is not an entry ``internal`` linkage, and adds the metadata accessor.
* :func:`emit_object` optimizes the module for an AOT target machine (PIC) and returns the object
  bytes; the same input gives byte-identical bytes.
* :func:`render_header` writes the C header; :func:`link_shared` links with the system C compiler.

**Metadata.** Each library carries a JSON description of its entries (names, dtypes, shapes with
their symbolic dims as text such as ``"N"`` or ``"784*N"``, the error codes, the tensorkiln version,
triple and CPU). It is a private constant string returned by one exported function,
``const char *tensorkiln_metadata_<lib>(void)``. ``tk.aot.load`` reads it through that accessor, so
the shapes it checks are the ones the loaded code was compiled for.

**Exports.** Entry functions have external linkage and default visibility; everything else the
compiler defines is internal, and the link uses a version script whose ``local: *`` hides anything
else (so only the entries and the metadata accessor are dynamic symbols).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import llvmlite.binding as llvm
import llvmlite.ir as ir

from ...ir.core import Function, Module
from ...ir.types import DType, Dim, MemRefType, SymDim, dim_product, dim_str
from .codegen import ERR_ALLOC, ERR_BAD_DIM, abi_symbols, emit_module
from .target import aot_target_machine, parse_and_optimize
from .jit import with_lsr
from .kernels import runtime_ir
from .scratch import ALLOC as SCRATCH_ALLOC, FREE as SCRATCH_FREE
from .threadpool import SYMBOL as POOL_SYMBOL

RUNTIME_PARTS = {"pool": (POOL_SYMBOL,), "scratch": (SCRATCH_ALLOC, SCRATCH_FREE)}

ABI_VERSION = 1
ERROR_CODES: dict[int, tuple[str, str]] = {
    0: ("TENSORKILN_OK", "success"),
    ERR_BAD_DIM: ("TENSORKILN_ERR_BAD_DIM", "a dimension argument is negative; nothing was written"),
    ERR_ALLOC: ("TENSORKILN_ERR_ALLOC", "allocating a temporary buffer failed, or a size computed from the dims overflows int64"),
}
C_TYPES = {"f32": "float", "f64": "double", "i32": "int32_t", "i64": "int64_t", "i1": "uint8_t"}
C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "_Bool _Complex _Imaginary bool true false NULL main".split()
)
# Names an entry may not take: they would shadow what the object itself calls.
RESERVED_SYMBOLS = frozenset({"malloc", "calloc", "realloc", "free", "aligned_alloc", "posix_memalign", "memcpy", "memset", "memmove", "abort",
                              "pthread_create", "pthread_join"})
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class AotError(Exception):
    """A library cannot be built (bad name, no C compiler, link failure, …)."""


# --------------------------------------------------------------------------- entry descriptions


@dataclass(frozen=True)
class TensorSpec:
    name: str  # as in the source (argument name, fetch name)
    c_name: str  # the C parameter name
    dtype: DType
    shape: tuple[Dim, ...]

    @property
    def c_type(self) -> str:
        return C_TYPES[self.dtype.name]

    def shape_text(self) -> str:
        return "[" + ", ".join(dim_str(d).strip("()") for d in self.shape) + "]"

    def to_json(self) -> dict:
        return {"name": self.name, "c_name": self.c_name, "dtype": self.dtype.name,
                "shape": [d if isinstance(d, int) else str(d) for d in self.shape]}


@dataclass(frozen=True)
class EntrySpec:
    name: str
    symbols: tuple[str, ...]  # C names of the dim parameters, in ABI order
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    doc: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "symbols": list(self.symbols), "doc": self.doc,
                "inputs": [t.to_json() for t in self.inputs], "outputs": [t.to_json() for t in self.outputs]}


def check_c_identifier(name: str, what: str) -> None:
    if not _IDENT.match(name) or name in C_KEYWORDS:
        raise AotError(f"{what} {name!r} is not a usable C identifier")
    if name in RESERVED_SYMBOLS:
        raise AotError(f"{what} {name!r} would shadow the C library function of that name")


def c_identifier(name: str, taken: set[str]) -> str:
    """``name`` made into a C identifier not in ``taken`` (which it is then added to)."""
    base = re.sub(r"\W", "_", name.split(":")[0]) or "arg"
    if base[0].isdigit():
        base = "_" + base
    if base in C_KEYWORDS:
        base += "_"
    out, k = base, 1
    while out in taken:
        out, k = f"{base}_{k}", k + 1
    taken.add(out)
    return out


def entry_spec(func: Function, num_inputs: int, input_names: Sequence[str] | None = None,
               output_names: Sequence[str] | None = None, doc: str = "") -> EntrySpec:
    """Describe a loops-stage function whose first ``num_inputs`` buffers are inputs.

    Symbolic dims that are not C identifiers (anonymous ``?`` dims) become ``d0``, ``d1``, … by
    their ABI position; the shapes in the spec use the same names.
    """
    types = func.arg_types
    if not all(isinstance(t, MemRefType) for t in types):
        raise AotError(f"@{func.name} is not a loops-stage function")
    n_out = len(types) - num_inputs
    if n_out < 0:
        raise AotError(f"@{func.name} has {len(types)} buffers but {num_inputs} inputs were expected")
    syms = abi_symbols(func)
    taken: set[str] = set()
    rename: dict[str, str] = {}
    for i, s in enumerate(syms):
        want = s if _IDENT.match(s) and s not in C_KEYWORDS else f"d{i}"
        rename[s] = c_identifier(want, taken)
    names_in = list(input_names) if input_names is not None else [a.name_hint or f"in{i}" for i, a in enumerate(func.args[:num_inputs])]
    names_out = list(output_names) if output_names is not None else [a.name_hint or f"out{i}" for i, a in enumerate(func.args[num_inputs:])]

    def spec(name: str, t: MemRefType) -> TensorSpec:
        shape = tuple(d if isinstance(d, int) else d.substitute({k: SymDim.sym(v) for k, v in rename.items()}) for d in t.shape)
        return TensorSpec(name, c_identifier(name, taken), t.dtype, shape)

    ins = tuple(spec(n, t) for n, t in zip(names_in, types[:num_inputs]))
    outs = tuple(spec(n, t) for n, t in zip(names_out, types[num_inputs:]))
    return EntrySpec(func.name, tuple(rename[s] for s in syms), ins, outs, doc)


def metadata(lib: str, entries: Sequence[EntrySpec], triple: str, cpu: str, version: str) -> dict:
    return {
        "format": "tensorkiln-aot",
        "abi_version": ABI_VERSION,
        "tensorkiln_version": version,
        "library": lib,
        "triple": triple,
        "cpu": cpu,
        "error_codes": {str(k): v[1] for k, v in ERROR_CODES.items()},
        "entries": [e.to_json() for e in entries],
    }


# --------------------------------------------------------------------------- LLVM module and object


def metadata_symbol(lib: str) -> str:
    return f"tensorkiln_metadata_{lib}"


def build_llvm_module(loops: Module, entries: Sequence[str], lib: str, meta: Mapping, features: str = "",
                      threads: int | None = None) -> ir.Module:
    """The entries of ``loops`` as one LLVM module, with linkage set for a shared object.

    ``features`` is the target's LLVM feature string; kernels (GEMM tiles) are shaped for it.
    ``threads`` caps the threads of parallel loops (default: the code generator's default)."""
    check_c_identifier(lib, "library name")
    for e in entries:
        check_c_identifier(e, "entry name")
    mod = emit_module(Module([loops[e] for e in entries]), features=features, threads=threads)
    mod.name = lib
    clash = [g.name for g in mod.global_values if isinstance(g, ir.Function) and g.is_declaration and g.name in entries]
    if clash:
        raise AotError(f"entry name {clash[0]!r} is a function the compiled code calls; rename the entry")
    for g in mod.global_values:
        if isinstance(g, ir.Function) and not g.is_declaration:
            if g.name in entries:
                g.linkage = ""  # external
                g.visibility = "default"
            else:
                g.linkage = "internal"
        elif isinstance(g, ir.GlobalVariable) and g.linkage in ("", "external") and g.initializer is not None:
            g.linkage = "internal"
    text = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode() + b"\0"
    arr_t = ir.ArrayType(ir.IntType(8), len(text))
    data = ir.GlobalVariable(mod, arr_t, name=metadata_symbol(lib) + ".json")
    data.global_constant = True
    data.linkage = "private"
    data.unnamed_addr = True
    data.initializer = ir.Constant(arr_t, bytearray(text))
    acc = ir.Function(mod, ir.FunctionType(ir.PointerType(), []), name=metadata_symbol(lib))
    acc.visibility = "default"
    ir.IRBuilder(acc.append_basic_block("entry")).ret(data.bitcast(ir.PointerType()))
    return mod


@dataclass(frozen=True)
class Target:
    """A resolved AOT target: the host's triple, CPU and features unless told otherwise."""

    triple: str
    cpu: str
    features: str

    @staticmethod
    def resolve(triple: str | None = None, cpu: str | None = None, features: str | None = None) -> "Target":
        import llvmlite.binding as llvm

        from .target import aot_target_machine

        aot_target_machine()  # initializes LLVM's targets
        host = llvm.get_process_triple()
        triple = triple or host
        if cpu is None and _arch_os(triple) == _arch_os(host):
            return Target(triple, llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten() if features is None else features)
        try:
            target = llvm.Target.from_triple(triple)
        except RuntimeError as e:
            raise AotError(f"unknown target triple {triple!r}: {e}") from None
        if cpu:
            # LLVM only warns on stderr about an unknown CPU (and may abort later): check first.
            complaint = _stderr_of(lambda: target.create_target_machine(cpu=cpu, features=features or ""))
            if "not a recognized" in complaint:
                raise AotError(f"{complaint.strip().splitlines()[0]} ({triple})")
        return Target(triple, cpu or "generic", features or "")


def _stderr_of(fn) -> str:
    """What ``fn`` writes to file descriptor 2 (LLVM's diagnostics bypass sys.stderr)."""
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode(errors="replace")


def emit_object(llvm_module: ir.Module, target: Target) -> bytes:
    """Optimize for the AOT target machine (PIC) and return the object file's bytes."""
    tm = aot_target_machine(target.triple, target.cpu, target.features)
    text = str(llvm_module)
    parts = tuple(part for part, syms in RUNTIME_PARTS.items() if any(sym in llvm_module.globals for sym in syms))
    if parts:
        # The shared object carries its own runtime (thread pool, scratch allocator): link it in,
        # then keep it private.
        main = llvm.parse_assembly(text)
        main.link_in(llvm.parse_assembly(runtime_ir(target.triple, str(tm.target_data), parts)))
        for part in parts:
            for sym in RUNTIME_PARTS[part]:
                main.get_function(sym).linkage = llvm.Linkage.internal
        text = str(main)
    mod = parse_and_optimize(text, tm)
    mod.name = llvm_module.name
    # LLVM's loop strength reduction switch is process-wide and the JIT sets it per compile: an
    # AOT build states its own (LLVM's default, on) so it does not inherit the last JIT compile's.
    return with_lsr(True, lambda: tm.emit_object(mod))


def object_machine(data: bytes) -> str:
    """The ELF ``e_machine`` of an object file, as a name (``x86-64``, ``aarch64``, …)."""
    if data[:4] != b"\x7fELF":
        return "not-elf"
    order = "little" if data[5] == 1 else "big"
    m = int.from_bytes(data[18:20], order)
    return {62: "x86-64", 183: "aarch64", 40: "arm", 243: "riscv", 3: "x86", 21: "ppc64"}.get(m, f"machine-{m}")


# --------------------------------------------------------------------------- header


def _guard(lib: str) -> str:
    return lib.upper()


def render_header(lib: str, entries: Sequence[EntrySpec], meta: Mapping, so_name: str) -> str:
    L = _guard(lib)
    version = str(meta["tensorkiln_version"])
    major, minor, patch = (list(map(int, re.findall(r"\d+", version))) + [0, 0, 0])[:3]
    out = [
        f"/* {lib}.h: C interface of {so_name}, generated by tensorkiln {version}. Do not edit. */",
        "/*",
        f" * Target: {meta['triple']} (cpu {meta['cpu']}). Link with: cc main.c -L<dir> -l:{so_name} -Wl,-rpath,<dir>",
        " *",
        " * Every entry is  int32_t NAME(int64_t dims..., const T *inputs..., T *outputs...);",
        " *  - dims: the symbolic dimensions, in order of first appearance in the inputs;",
        " *  - inputs: row-major, contiguous, read only; trained variables are constants inside the object;",
        " *  - outputs: allocated by the caller (sizes below), row-major, contiguous, fully overwritten.",
        " * Element types: f32 = float, f64 = double, i32 = int32_t, i64 = int64_t, i1 = uint8_t (0 or 1).",
        " * The native code cannot see buffer sizes: passing dims that do not match the buffers is undefined.",
        " * No global state is written, so entries may be called concurrently from several threads.",
        " * The return value is TENSORKILN_OK (0) or one of the TENSORKILN_ERR_* codes below.",
        " */",
        f"#ifndef TENSORKILN_{L}_H",
        f"#define TENSORKILN_{L}_H",
        "",
        "#include <stdint.h>",
        "",
        "/* Version of tensorkiln that generated this library, and of the calling convention. */",
        f'#define {L}_TENSORKILN_VERSION "{version}"',
        f"#define {L}_TENSORKILN_VERSION_MAJOR {major}",
        f"#define {L}_TENSORKILN_VERSION_MINOR {minor}",
        f"#define {L}_TENSORKILN_VERSION_PATCH {patch}",
        f"#define {L}_TENSORKILN_ABI_VERSION {ABI_VERSION}",
        "",
        "/* Return codes, shared by every tensorkiln library. */",
        "#ifndef TENSORKILN_OK",
    ]
    for code, (macro, text) in ERROR_CODES.items():
        out.append(f"#define {macro} {code} /* {text} */")
    out += [
        "static inline const char *tensorkiln_strerror(int32_t code) {",
        "    switch (code) {",
        *(f'    case {code}: return "{text}";' for code, (_, text) in ERROR_CODES.items()),
        '    default: return "unknown error";',
        "    }",
        "}",
        "#endif",
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
    ]
    for e in entries:
        out += _entry_decl(e)
    out += [
        "/* The JSON description of this library (entries, dtypes, shapes, error codes, version). */",
        f"const char *{metadata_symbol(lib)}(void);",
        "",
        "#ifdef __cplusplus",
        "}",
        "#endif",
        "",
        f"#endif /* TENSORKILN_{L}_H */",
        "",
    ]
    return "\n".join(out)


def _elements(t: TensorSpec) -> str:
    n = dim_product(t.shape)
    return f"{n} element{'s' if n != 1 else ''}" if isinstance(n, int) else f"{n} elements"


def _dim_source(e: EntrySpec, sym: str) -> str:
    for t in e.inputs:
        for k, d in enumerate(t.shape):
            if isinstance(d, SymDim) and d.is_symbol and d.name == sym:
                return f"{t.name}.shape[{k}]"
    return "size of an output"


def _entry_decl(e: EntrySpec) -> list[str]:
    rows: list[tuple[str, str, str]] = []
    for s in e.symbols:
        rows.append((s, "int64_t", f"symbolic dim, = {_dim_source(e, s)}; must be >= 0"))
    for t in e.inputs:
        rows.append((t.c_name, f"const {t.c_type} *", f"input '{t.name}': {t.dtype.name}{t.shape_text()}, {_elements(t)}"))
    for t in e.outputs:
        rows.append((t.c_name, f"{t.c_type} *", f"output '{t.name}': {t.dtype.name}{t.shape_text()}, {_elements(t)}"))
    w1 = max((len(r[0]) for r in rows), default=0)
    w2 = max((len(r[1]) for r in rows), default=0)
    lines = ["/*", f" * {e.name}({', '.join(t.name for t in e.inputs)}) -> ({', '.join(t.name for t in e.outputs)})"]
    if e.doc:
        lines += [f" *   {ln}" for ln in e.doc.splitlines()]
    lines += [f" *   {n:<{w1}}  {ty:<{w2}}  {d}" for n, ty, d in rows]
    lines += [" * Returns TENSORKILN_OK, or TENSORKILN_ERR_BAD_DIM if a dim is negative, TENSORKILN_ERR_ALLOC if out of memory or the dims are too large.", " */"]
    params = [f"int64_t {s}" for s in e.symbols] + [f"const {t.c_type} *{t.c_name}" for t in e.inputs] + [f"{t.c_type} *{t.c_name}" for t in e.outputs]
    lines.append(f"int32_t {e.name}({', '.join(params) or 'void'});")
    lines.append("")
    return lines


# --------------------------------------------------------------------------- linking


def host_triple() -> str:
    import llvmlite.binding as llvm

    return llvm.get_process_triple()


def _arch_os(triple: str) -> tuple[str, str]:
    parts = triple.split("-")
    return parts[0], ("linux" if "linux" in parts else parts[2] if len(parts) > 2 else "")


def find_linker(triple: str) -> list[str] | None:
    """The C compiler driver to link for ``triple``: ``$CC``/``cc`` for the host, else a cross gcc."""
    if _arch_os(triple) == _arch_os(host_triple()):
        cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        return [cc] if cc else None
    arch, _ = _arch_os(triple)
    parts = triple.split("-")
    candidates = [f"{triple}-gcc", f"{arch}-linux-gnu-gcc", f"{'-'.join(p for p in parts if p != 'unknown')}-gcc"]
    for c in candidates:
        path = shutil.which(c)
        if path:
            return [path]
    return None


def link_shared(obj: Path, so_path: Path, exported: Sequence[str], triple: str) -> bool:
    """Link ``obj`` into ``so_path``, exporting only ``exported``. False if no linker for ``triple``."""
    cc = find_linker(triple)
    if cc is None:
        if _arch_os(triple) == _arch_os(host_triple()):
            raise AotError("no C compiler found to link the shared object (set CC or install cc)")
        return False
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "exports.map"
        script.write_text("{\n  global:\n" + "".join(f"    {s};\n" for s in exported) + "  local: *;\n};\n")
        cmd = cc + ["-shared", "-o", str(so_path), str(obj), f"-Wl,--version-script={script}",
                    f"-Wl,-soname,{so_path.name}", "-Wl,-z,noexecstack", "-Wl,--as-needed", "-lm", "-lpthread"]
        r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AotError(f"linking {so_path.name} failed ({' '.join(cmd)}):\n{r.stderr}")
    return True


@dataclass
class BuildResult:
    """What one build wrote. ``library`` is the ``.so``, or None when no linker exists for the target."""

    object: Path
    header: Path
    library: Path | None
    triple: str
    cpu: str
    entries: list[EntrySpec] = field(default_factory=list)


def build_library(loops: Module, specs: Sequence[EntrySpec], lib: str, output_dir: str | os.PathLike,
                  triple: str | None = None, cpu: str | None = None, version: str = "0",
                  features: str | None = None, threads: int | None = None) -> BuildResult:
    """Write ``lib.o``, ``lib.h`` and (when a linker for the target exists) ``lib.so``."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = Target.resolve(triple, cpu, features)
    meta = metadata(lib, specs, target.triple, target.cpu, version)
    llvm_mod = build_llvm_module(loops, [s.name for s in specs], lib, meta, target.features, threads)
    obj = out / f"{lib}.o"
    obj.write_bytes(emit_object(llvm_mod, target))
    so = out / f"{lib}.so"
    header = out / f"{lib}.h"
    header.write_text(render_header(lib, specs, meta, so.name))
    linked = link_shared(obj, so, [s.name for s in specs] + [metadata_symbol(lib)], target.triple)
    return BuildResult(obj, header, so if linked else None, target.triple, target.cpu, list(specs))
