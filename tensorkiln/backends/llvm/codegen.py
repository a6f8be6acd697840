"""Lowering of the loops dialect to LLVM IR with ``llvmlite.ir``.

Each loops function becomes ``i32 NAME(i64 d0, …, ptr in0, …, ptr out0, …)`` — the C ABI of
DESIGN.md: symbolic dims first (in order of first appearance in the arguments), then the buffers.
It returns 0 on success, 1 for a negative dim and 2 when a temporary cannot be allocated (malloc fails,
or its size computed from the dims overflows int64, checked before calling malloc). Buffers are
row-major; a load or store linearises its index with strides derived from the (symbolic) dims.
Scalar ops map onto LLVM instructions and intrinsics that vectorize; transcendental functions come
from :mod:`.vecmath` (polynomials, no libm calls), so LLVM's loop vectorizer turns the inner loops
into packed SIMD code.
"""
from __future__ import annotations

from typing import Sequence

import llvmlite.ir as ir

from ...ir.core import Block, Function, Module, Operation, Value
from ...ir.diagnostics import CompileError
from ...ir.types import DType, Dim, IndexType, MemRefType, ScalarType, SymDim, Type
from .conv_kernel import conv_image_function, filter_grad_function, tile_for
from .gemm import config_for, declare_gemm, gemm_function
from .gemm_skinny import declare_skinny, skinny_function
from .codegen_parallel import ParallelLoops
from .intops import emit_int_binary, emit_int_unary, is_const, wrap64
from .scratch import declare_scratch
from .vecmath import emit_math
from .pywrappers import emit_fast_wrapper, emit_py_wrapper

I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()
# reassoc lets reductions vectorize; contract allows FMA. No nnan/ninf: NaN and Inf stay exact.
FAST = ("reassoc", "nsz", "contract")


ERR_BAD_DIM = 1
ERR_ALLOC = 2
ERR_OUT_OF_BOUNDS = 3  # only with bounds checks compiled in (TENSORKILN_BOUNDS_CHECK=1)


def bounds_check_enabled() -> bool:
    import os

    return os.environ.get("TENSORKILN_BOUNDS_CHECK", "") not in ("", "0")


def llvm_type(dt: DType) -> ir.Type:
    return {"f32": ir.FloatType(), "f64": ir.DoubleType(), "i32": I32, "i64": I64, "i1": I1}[dt.name]


def storage_type(dt: DType) -> ir.Type:
    return I8 if dt.is_bool else llvm_type(dt)


def scalar_llvm_type(t: Type) -> ir.Type:
    if isinstance(t, IndexType):
        return I64
    assert isinstance(t, ScalarType), t
    return llvm_type(t.dtype)


def abi_symbols(func: Function) -> list[str]:
    """Symbolic dims of a loops function's arguments, in order of first appearance."""
    out: list[str] = []
    for t in func.arg_types:
        for d in getattr(t, "shape", ()):
            if isinstance(d, SymDim):
                for s in sorted(d.symbols):
                    if s not in out:
                        out.append(s)
    return out


class FunctionCodegen(ParallelLoops):
    def __init__(self, module: ir.Module, func: Function, symbol_name: str | None = None, features: str = "", threads: int = 1,
                 extern_kernels: bool = False, bounds_check: bool = False):
        self.module = module
        self.extern_kernels = extern_kernels
        self.bounds_check = bounds_check
        self.dims: dict[int, list[ir.Value]] = {}
        self._oob: ir.Block | None = None
        self.features = features
        self.threads = threads
        self.func = func
        self.symbols = abi_symbols(func)
        fnty = ir.FunctionType(I32, [I64] * len(self.symbols) + [PTR] * len(func.args))
        self.fn = ir.Function(module, fnty, name=symbol_name or func.name)
        for i, a in enumerate(self.fn.args[len(self.symbols):]):
            a.add_attribute("noalias")
            a.name = func.args[i].name_hint or f"arg{i}"
        for s, a in zip(self.symbols, self.fn.args):
            a.name = "dim_" + s.replace("?", "q")
        self.sym_values = dict(zip(self.symbols, self.fn.args))
        self.values: dict[int, ir.Value] = {}
        self.strides: dict[int, list[ir.Value]] = {}
        self.allocs: list[ir.Value] = []
        entry = self.fn.append_basic_block("entry")
        self.b = ir.IRBuilder(entry)

    # helpers -----------------------------------------------------------------
    def dim(self, d: Dim) -> ir.Value:
        if isinstance(d, int):
            return ir.Constant(I64, d)
        total: ir.Value | None = None
        for mono, c in d.terms:
            term: ir.Value = ir.Constant(I64, c)
            for s in mono:
                term = self.b.mul(term, self.sym_values[s])
            total = term if total is None else self.b.add(total, term)
        return total if total is not None else ir.Constant(I64, 0)

    def _checked(self, op: str, x: ir.Value, y: ir.Value, overflow: ir.Value) -> tuple[ir.Value, ir.Value]:
        # Folded here when the operands are constants (static dims), or the product is by 1: most
        # of an entry function's size checks, which were ~20% of its instructions.
        if isinstance(x, ir.Constant) and isinstance(y, ir.Constant):
            r = x.constant * y.constant if op == "smul" else x.constant + y.constant
            wrapped = wrap64(r)
            return ir.Constant(I64, wrapped), overflow if wrapped == r else ir.Constant(I1, 1)
        if op == "smul" and is_const(x, 1):
            return y, overflow
        r = getattr(self.b, op + "_with_overflow")(x, y)
        return self.b.extract_value(r, 0), self._or(overflow, self.b.extract_value(r, 1))

    def _or(self, a: ir.Value, b: ir.Value) -> ir.Value:
        if is_const(a, 0):
            return b
        if is_const(b, 0):
            return a
        return self.b.or_(a, b)

    def checked_dim(self, d: Dim, overflow: ir.Value) -> tuple[ir.Value, ir.Value]:
        """``dim(d)`` and ``overflow`` or-ed with whether evaluating it overflowed int64."""
        if isinstance(d, int):
            return ir.Constant(I64, d), overflow
        total: ir.Value | None = None
        for mono, c in d.terms:
            term: ir.Value = ir.Constant(I64, c)
            for s in mono:
                term, overflow = self._checked("smul", term, self.sym_values[s], overflow)
            total, overflow = (term, overflow) if total is None else self._checked("sadd", total, term, overflow)
        return (total if total is not None else ir.Constant(I64, 0)), overflow

    def alloc_size(self, t: MemRefType) -> tuple[ir.Value, ir.Value]:
        """(bytes, invalid) for a temporary: ``invalid`` when a dim is negative or when the dims,
        zeros counted as 1 (numpy's rule, which also bounds every stride and loop trip count), times
        the element size overflow int64. Symbolic dims make this a run-time check."""
        b = self.b
        bad: ir.Value = ir.Constant(I1, 0)
        item = ir.Constant(I64, max(t.dtype.bits // 8, 1))
        bound, size = item, item
        for d in t.shape:
            v, bad = self.checked_dim(d, bad)
            if isinstance(v, ir.Constant):
                bad = bad if v.constant >= 0 else ir.Constant(I1, 1)
                nonzero: ir.Value = ir.Constant(I64, v.constant or 1)
            else:
                bad = self._or(bad, b.icmp_signed("<", v, ir.Constant(I64, 0)))
                nonzero = b.select(b.icmp_signed("==", v, ir.Constant(I64, 0)), ir.Constant(I64, 1), v)
            bound, bad = self._checked("smul", bound, nonzero, bad)
            # no larger than ``bound`` unless ``bad``
            size = ir.Constant(I64, wrap64(size.constant * v.constant)) \
                if isinstance(size, ir.Constant) and isinstance(v, ir.Constant) else b.mul(size, v)
        return size, bad

    def bind_buffer(self, v: Value, ptr: ir.Value) -> None:
        t: MemRefType = v.type  # type: ignore[assignment]
        dims = [self.dim(d) for d in t.shape]
        strides: list[ir.Value] = [ir.Constant(I64, 1)] * len(dims)
        acc: ir.Value = ir.Constant(I64, 1)
        for k in range(len(dims) - 1, -1, -1):
            strides[k] = acc
            if k and isinstance(acc, ir.Constant) and isinstance(dims[k], ir.Constant):
                # static strides stay constants (an outlined parallel body then sees them too)
                acc = ir.Constant(I64, acc.constant * dims[k].constant)
            elif k:
                acc = self.b.mul(acc, dims[k])
        self.values[id(v)] = ptr
        self.strides[id(v)] = strides
        self.dims[id(v)] = dims

    def check_bounds(self, buf: Value, idx: Sequence[Value]) -> None:
        """Debug mode: every index must lie in [0, dim) or the function returns ERR_OUT_OF_BOUNDS."""
        ok: ir.Value | None = None
        for i, d in zip(idx, self.dims[id(buf)]):
            inside = self.b.icmp_unsigned("<", self.values[id(i)], d)  # unsigned: negatives fail too
            ok = inside if ok is None else self.b.and_(ok, inside)
        if ok is None:
            return
        if self._oob is None:
            self._oob = self.fn.append_basic_block("out_of_bounds")
            with self.b.goto_block(self._oob):
                self.b.ret(ir.Constant(I32, ERR_OUT_OF_BOUNDS))
        cont = self.fn.append_basic_block("in_bounds")
        self.b.cbranch(ok, cont, self._oob)
        self.b.position_at_end(cont)

    def address(self, buf: Value, idx: Sequence[Value]) -> ir.Value:
        if self.bounds_check:
            self.check_bounds(buf, idx)
        lin: ir.Value | None = None
        for i, st in zip(idx, self.strides[id(buf)]):
            term = self.values[id(i)]
            if not (isinstance(st, ir.Constant) and st.constant == 1):
                term = self.b.mul(term, st, flags=("nsw",))
            lin = term if lin is None else self.b.add(lin, term, flags=("nsw",))
        if lin is None:
            lin = ir.Constant(I64, 0)
        et = storage_type(buf.type.dtype)  # type: ignore[attr-defined]
        return self.b.gep(self.values[id(buf)], [lin], inbounds=True, source_etype=et)

    # driver --------------------------------------------------------------------
    def emit(self) -> ir.Function:
        b = self.b
        bad = self.fn.append_basic_block("bad_dim")
        for s in self.symbols:
            ok = b.icmp_signed(">=", self.sym_values[s], ir.Constant(I64, 0))
            nxt = self.fn.append_basic_block(f"dim_ok_{s.replace('?', 'q')}")
            b.cbranch(ok, nxt, bad)
            b.position_at_end(nxt)
        self.check_dim_products()
        for a, p in zip(self.func.args, self.fn.args[len(self.symbols):]):
            self.bind_buffer(a, p)
        self.block(self.func.body)
        b.position_at_end(bad)
        b.ret(ir.Constant(I32, ERR_BAD_DIM))
        return self.fn

    def check_dim_products(self) -> None:
        """Every dim polynomial with a product of symbols that the function uses (``dim_size`` of
        N*M, a count, a shape) is evaluated once, with overflow checks, before anything else:
        dims from different inputs can multiply past int64 although each input is small enough.
        An overflow returns the allocation error (2). Later evaluations of the same polynomials
        are then safe unchecked."""
        polys: set[SymDim] = set()
        for op in self.func.walk():
            dims = [op.attributes["value"]] if op.name == "loops.dim" else []
            for v in list(op.operands) + list(op.results):
                if isinstance(v.type, MemRefType):
                    dims.extend(v.type.shape)
            polys.update(d for d in dims if isinstance(d, SymDim) and any(len(m) >= 2 for m, _ in d.terms))
        if not polys:
            return
        bad: ir.Value = ir.Constant(I1, 0)
        for d in sorted(polys, key=str):
            _, bad = self.checked_dim(d, bad)
        overflow = self.fn.append_basic_block("dim_overflow")
        ok = self.fn.append_basic_block("dims_fit")
        self.b.cbranch(bad, overflow, ok)
        self.b.position_at_end(overflow)
        self.b.ret(ir.Constant(I32, ERR_ALLOC))
        self.b.position_at_end(ok)

    def block(self, block: Block) -> None:
        for op in block.ops:
            self.op(op)

    def op(self, op: Operation) -> None:
        name = op.name
        b = self.b
        if name == "return":
            b.ret(ir.Constant(I32, 0))
            return
        if name == "loops.for":
            top = op.parent is self.func.body
            if op.attributes.get("parallel") and top and self.threads > 1 and not self.bounds_check:
                self.when_nonempty(op, self.maybe_parallel_loop)
            elif top:
                self.when_nonempty(op, self.for_loop)
            else:
                self.for_loop(op)
            return
        if name in ("loops.yield",):
            return  # handled by for_loop
        handler = getattr(self, "op_" + name.split(".", 1)[1], None)
        if handler is not None:
            handler(op)
            return
        args = [self.values[id(v)] for v in op.operands]
        self.values[id(op.result)] = self.scalar_op(op, args)

    def op_const(self, op: Operation) -> None:
        t = scalar_llvm_type(op.result.type)
        v = op.attributes["value"]
        if isinstance(t, ir.IntType):
            v = int(v)
        else:
            v = float(v)
        self.values[id(op.result)] = ir.Constant(t, v)

    def op_dim(self, op: Operation) -> None:
        self.values[id(op.result)] = self.dim(op.attributes["value"])

    def op_alloc(self, op: Operation) -> None:
        t: MemRefType = op.result.type  # type: ignore[assignment]
        size, invalid = self.alloc_size(t)
        fail = self.fn.append_basic_block("alloc_failed")
        sized = self.fn.append_basic_block("alloc_sized")
        ok = self.fn.append_basic_block("alloc_ok")
        # a size that wrapped around would make malloc hand back too small a buffer: refuse it
        self.b.cbranch(invalid, fail, sized)
        self.b.position_at_end(sized)
        # malloc(0) may return NULL legitimately; ask for at least one byte.
        size = ir.Constant(I64, size.constant or 1) if isinstance(size, ir.Constant) else \
            self.b.select(self.b.icmp_signed("==", size, ir.Constant(I64, 0)), ir.Constant(I64, 1), size)
        alloc, free = declare_scratch(self.module)
        ptr = self.b.call(alloc, [size])
        self.b.cbranch(self.b.icmp_unsigned("==", ptr, ir.Constant(PTR, None)), fail, ok)
        self.b.position_at_end(fail)
        for prev in self.allocs:  # the temporaries still live here
            self.b.call(free, [prev])
        self.b.ret(ir.Constant(I32, ERR_ALLOC))
        self.b.position_at_end(ok)
        self.allocs.append(ptr)
        self.bind_buffer(op.result, ptr)

    def op_dealloc(self, op: Operation) -> None:
        ptr = self.values[id(op.operands[0])]
        self.allocs.remove(ptr)  # freed before the end (buffer-lifetimes): not freed again on failure
        self.b.call(declare_scratch(self.module)[1], [ptr])

    def op_view(self, op: Operation) -> None:
        self.bind_buffer(op.result, self.values[id(op.operands[0])])

    def op_subview(self, op: Operation) -> None:
        buf, *idx = op.operands
        lin: ir.Value = ir.Constant(I64, 0)
        for i, st in zip(idx, self.strides[id(buf)]):
            lin = self.b.add(lin, self.b.mul(self.values[id(i)], st))
        ptr = self.b.gep(self.values[id(buf)], [lin], inbounds=True, source_etype=storage_type(buf.type.dtype))
        self.bind_buffer(op.result, ptr)

    def op_matmul(self, op: Operation) -> None:
        a, b_, c = op.operands
        ta, tb = op.attributes["transpose_a"], op.attributes["transpose_b"]
        m, n = (self.dim(d) for d in c.type.shape)
        k = self.dim(a.type.shape[0] if ta else a.type.shape[1])
        one = ir.Constant(I64, 1)
        rsa, csa = (one, m) if ta else (k, one)
        rsb, csb = (one, k) if tb else (n, one)
        elem = llvm_type(c.type.dtype)
        cfg = config_for(self.features, 32 if isinstance(elem, ir.FloatType) else 64)
        if isinstance(c.type.shape[1], int) and c.type.shape[1] <= cfg.vl:
            # Known to be narrow: the skinny kernels alone (the blocked GEMM is never compiled).
            gemm = declare_skinny(self.module, elem) if self.extern_kernels else skinny_function(self.module, elem, cfg)
        else:
            gemm = declare_gemm(self.module, elem) if self.extern_kernels else gemm_function(self.module, elem, self.features)
        from .parallel import num_threads_global

        threads = self.b.load(num_threads_global(self.module, self.threads), typ=I64)
        self.b.call(gemm, [m, n, k, self.values[id(a)], rsa, csa, self.values[id(b_)], rsb, csb,
                           self.values[id(c)], n, ir.Constant(I1, int(op.attributes["accumulate"])), threads])

    def op_conv_image(self, op: Operation) -> None:
        self._conv_kernel(op, conv_image_function)

    def op_conv_filter_grad(self, op: Operation) -> None:
        self._conv_kernel(op, filter_grad_function)

    def _conv_kernel(self, op: Operation, make) -> None:
        """A call of a direct convolution kernel (conv_kernel.py) on three 3-D buffers: the padded
        image, then the filter and output (conv_image) or gradient and filter gradient. The tile
        covers the result's second axis: output pixels of a row, or filter taps."""
        xp, other, res = op.operands
        fwd = op.name == "loops.conv_image"
        h, wp, c = (self.dim(d) for d in xp.type.shape)
        oh, ow = (self.dim(d) for d in (res if fwd else other).type.shape[:2])
        kh, kwc, cout = (self.dim(d) for d in (other if fwd else res).type.shape)
        mr, nv = tile_for(self.features, xp.type.dtype.bits, int(res.type.shape[1]), int(res.type.shape[2]))
        fn = make(self.module, llvm_type(xp.type.dtype), self.features, mr, nv)
        sy, sx = (ir.Constant(I64, s) for s in op.attributes["strides"])
        self.b.call(fn, [self.values[id(v)] for v in (xp, other, res)] +
                    [h, wp, c, oh, ow, kh, kwc, cout, ir.Constant(I64, op.attributes["pad"]), sy, sx])

    def op_buffer_constant(self, op: Operation) -> None:
        value = op.attributes["value"]
        data = value.astype(value.dtype.newbyteorder("<")).tobytes() if value.dtype != bool else value.astype("u1").tobytes()
        arr_t = ir.ArrayType(I8, max(len(data), 1))
        g = ir.GlobalVariable(self.module, arr_t, name=self.module.get_unique_name(f"{self.fn.name}.const"))
        g.global_constant = True
        g.linkage = "private"
        g.align = 64
        # All zeros (tk.zeros folded into a constant) as zeroinitializer: LLVM then folds the
        # loads to 0.0, and the text is not ~3 characters a byte to print and parse.
        g.initializer = ir.Constant(arr_t, None if not any(data) else bytearray(data))
        self.bind_buffer(op.result, g.bitcast(PTR) if g.type != PTR else g)

    def op_load(self, op: Operation) -> None:
        buf = op.operands[0]
        dt = buf.type.dtype  # type: ignore[attr-defined]
        addr = self.address(buf, op.operands[1:])
        v = self.b.load(addr, typ=storage_type(dt))
        if dt.is_bool:
            v = self.b.trunc(v, I1)
        self.values[id(op.result)] = v

    def op_store(self, op: Operation) -> None:
        val, buf = op.operands[0], op.operands[1]
        v = self.values[id(val)]
        if buf.type.dtype.is_bool:  # type: ignore[attr-defined]
            v = self.b.zext(v, I8)
        self.b.store(v, self.address(buf, op.operands[2:]))

    def op_cast(self, op: Operation) -> None:
        src_t, dst_t = op.operands[0].type, op.result.type
        self.values[id(op.result)] = emit_cast(self.b, self.values[id(op.operands[0])], src_t, dst_t)

    def op_select(self, op: Operation) -> None:
        c, x, y = (self.values[id(v)] for v in op.operands)
        self.values[id(op.result)] = self.b.select(c, x, y)

    def for_loop(self, op: Operation, bounds: tuple[ir.Value, ir.Value] | None = None) -> None:
        b = self.b
        lo, hi, *inits = (self.values[id(v)] for v in op.operands)
        if bounds is not None:
            lo, hi = bounds
        body_ir = op.regions[0].blocks[0]
        pre = b.block
        header = self.fn.append_basic_block("loop_header")
        body = self.fn.append_basic_block("loop_body")
        exit_ = self.fn.append_basic_block("loop_exit")
        b.branch(header)
        b.position_at_end(header)
        iv = b.phi(I64, name="iv")
        iv.add_incoming(lo, pre)
        phis = []
        for init, arg in zip(inits, body_ir.args[1:]):
            p = b.phi(scalar_llvm_type(arg.type))
            p.add_incoming(init, pre)
            phis.append(p)
        b.cbranch(b.icmp_signed("<", iv, hi), body, exit_)
        b.position_at_end(body)
        self.values[id(body_ir.args[0])] = iv
        for arg, p in zip(body_ir.args[1:], phis):
            self.values[id(arg)] = p
        self.block(body_ir)
        yields = [self.values[id(v)] for v in body_ir.terminator.operands]
        nxt = b.add(iv, ir.Constant(I64, op.attributes.get("step", 1)), flags=("nsw",))
        end = b.block
        iv.add_incoming(nxt, end)
        for p, y in zip(phis, yields):
            p.add_incoming(y, end)
        b.branch(header)
        b.position_at_end(exit_)
        for r, p in zip(op.results, phis):
            self.values[id(r)] = p

    # scalar arithmetic ------------------------------------------------------------
    def scalar_op(self, op: Operation, args: list[ir.Value]) -> ir.Value:
        name = op.name.split(".", 1)[1]
        t = op.operands[0].type
        is_float = isinstance(t, ScalarType) and t.dtype.is_float
        if is_float:
            return emit_float_op(self.b, name, args, op)
        return emit_int_binary(self.b, name, args, op) if len(args) == 2 else emit_int_unary(self.b, name, args[0], op)

    def _libc(self, name: str, ret: ir.Type, params: list[ir.Type]) -> ir.Function:
        f = self.module.globals.get(name)
        if f is None:
            f = ir.Function(self.module, ir.FunctionType(ret, params), name=name)
        return f


def _intrinsic(b: ir.IRBuilder, name: str, args: list[ir.Value]) -> ir.Value:
    t = args[0].type
    suffix = "f32" if isinstance(t, ir.FloatType) else "f64"
    full = f"llvm.{name}.{suffix}"
    f = b.module.globals.get(full)
    if f is None:
        f = ir.Function(b.module, ir.FunctionType(t, [t] * len(args)), name=full)
    return b.call(f, args)


def emit_float_op(b: ir.IRBuilder, name: str, args: list[ir.Value], op: Operation | None = None) -> ir.Value:
    x = args[0]
    t = x.type
    one, zero = ir.Constant(t, 1.0), ir.Constant(t, 0.0)
    if len(args) == 2:
        y = args[1]
        if name == "add":
            return b.fadd(x, y, flags=FAST)
        if name == "sub":
            return b.fsub(x, y, flags=FAST)
        if name == "mul":
            return b.fmul(x, y, flags=FAST)
        if name == "div":
            return b.fdiv(x, y)
        if name == "maximum":
            return _intrinsic(b, "maximum", [x, y])
        if name == "minimum":
            return _intrinsic(b, "minimum", [x, y])
        if name == "pow":
            return emit_math(b, "pow", [x, y])
        if name == "floordiv":
            return _intrinsic(b, "floor", [b.fdiv(x, y)])
        if name == "mod":
            # numpy: x - floor(x / y) * y, taking the divisor's sign.
            return b.fsub(x, b.fmul(_intrinsic(b, "floor", [b.fdiv(x, y)]), y))
        preds = {"eq": "==", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
        if name in preds:
            return b.fcmp_ordered(preds[name], x, y)
        if name == "ne":
            return b.fcmp_unordered("!=", x, y)
    else:
        if name == "neg":
            return b.fneg(x)
        if name == "abs":
            return _intrinsic(b, "fabs", [x])
        if name == "square":
            return b.fmul(x, x, flags=FAST)
        if name == "sqrt":
            return _intrinsic(b, "sqrt", [x])
        if name == "rsqrt":
            return b.fdiv(one, _intrinsic(b, "sqrt", [x]))
        if name == "reciprocal":
            return b.fdiv(one, x)
        if name in ("floor", "ceil"):
            return _intrinsic(b, name, [x])
        if name == "round":
            return _intrinsic(b, "roundeven", [x])
        if name == "relu":
            return b.select(b.fcmp_ordered("<", x, zero), zero, x)
        if name == "sign":
            pos = b.select(b.fcmp_ordered(">", x, zero), one, x)
            return b.select(b.fcmp_ordered("<", x, zero), ir.Constant(t, -1.0), pos)
        if name in ("exp", "log", "tanh", "sigmoid", "expm1", "log1p", "sin", "cos", "erf"):
            return emit_math(b, name, [x])
    raise CompileError(f"no float lowering for 'loops.{name}'", op.loc if op is not None else None)


def emit_cast(b: ir.IRBuilder, v: ir.Value, src: Type, dst: Type) -> ir.Value:
    st, dt_ = scalar_llvm_type(src), scalar_llvm_type(dst)
    s_float = isinstance(st, (ir.FloatType, ir.DoubleType))
    d_float = isinstance(dt_, (ir.FloatType, ir.DoubleType))
    s_bool = st == I1
    if st == dt_:
        return v
    if d_float:
        if s_float:
            return b.fpext(v, dt_) if isinstance(dt_, ir.DoubleType) else b.fptrunc(v, dt_)
        return b.uitofp(v, dt_) if s_bool else b.sitofp(v, dt_)
    if dt_ == I1:
        return b.fcmp_unordered("!=", v, ir.Constant(st, 0.0)) if s_float else b.icmp_signed("!=", v, ir.Constant(st, 0))
    if s_float:
        return b.fptosi(v, dt_)
    if s_bool:
        return b.zext(v, dt_)
    return b.sext(v, dt_) if dt_.width > st.width else b.trunc(v, dt_)


def emit_module(module: Module, name_prefix: str = "", features: str | None = None, threads: int | None = None,
                py_wrappers: bool = False, extern_kernels: bool = False, bounds_check: bool | None = None) -> ir.Module:
    """All functions of a loops-stage module in one LLVM module. ``features`` (an LLVM feature
    string) picks kernel shapes such as the GEMM micro-tile; default: the host's. ``threads`` caps
    the threads of parallel kernels; default: :func:`default_threads`."""
    if features is None:
        from .target import host_features

        features = host_features()
    m = ir.Module(name="tensorkiln")
    from .target import host_target_machine

    tm = host_target_machine()
    m.triple = tm.triple
    m.data_layout = str(tm.target_data)
    for f in module:
        cg = FunctionCodegen(m, f, name_prefix + f.name, features, default_threads() if threads is None else threads, extern_kernels,
                             bounds_check_enabled() if bounds_check is None else bounds_check)
        fn = cg.emit()
        if py_wrappers:
            emit_fast_wrapper(m, emit_py_wrapper(m, fn, len(cg.symbols)), len(cg.symbols))
    return m


def default_threads() -> int:
    """TENSORKILN_NUM_THREADS if set, else the CPUs this process may run on."""
    import os

    env = os.environ.get("TENSORKILN_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
