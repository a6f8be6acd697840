"""Integer and boolean ops in LLVM IR, with numpy's results where LLVM would trap.

Division by zero and ``INT_MIN / -1`` are undefined in LLVM and trap on x86, so every integer
division is guarded: ``x / 0`` and ``x % 0`` give 0 (numpy's result, minus its warning). Floor
division and modulo follow Python's signs. Integer ``pow`` uses exponentiation by squaring in a
small helper function (negative exponents give 0, like C integer arithmetic would after truncation,
except 1 and -1 bases). Also the int64 helpers codegen folds constant size arithmetic with.
"""
from __future__ import annotations

import llvmlite.ir as ir

from ...ir.diagnostics import CompileError


def wrap64(n: int) -> int:
    """n as int64 arithmetic leaves it (two's complement wrap-around)."""
    return (n + (1 << 63)) % (1 << 64) - (1 << 63)


def is_const(v: ir.Value, value: int) -> bool:
    """Whether v is the LLVM constant ``value``."""
    return isinstance(v, ir.Constant) and v.constant == value


def _safe_divisor(b: ir.IRBuilder, x: ir.Value, y: ir.Value):
    t = y.type
    zero, one, minus1 = ir.Constant(t, 0), ir.Constant(t, 1), ir.Constant(t, -1)
    is_zero = b.icmp_signed("==", y, zero)
    is_m1 = b.icmp_signed("==", y, minus1)
    # y in {0, -1} is handled outside the division, which then divides by 1.
    d = b.select(b.or_(is_zero, is_m1), one, y)
    return d, is_zero, is_m1


def emit_int_binary(b: ir.IRBuilder, name: str, args: list, op=None) -> ir.Value:
    x, y = args
    t = x.type
    zero = ir.Constant(t, 0)
    if name in ("add", "sub", "mul"):
        return {"add": b.add, "sub": b.sub, "mul": b.mul}[name](x, y)
    if name in ("logical_and", "logical_or", "logical_xor"):
        return {"logical_and": b.and_, "logical_or": b.or_, "logical_xor": b.xor}[name](x, y)
    if name == "maximum":
        return b.select(b.icmp_signed(">", x, y), x, y)
    if name == "minimum":
        return b.select(b.icmp_signed("<", x, y), x, y)
    preds = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
    if name in preds:
        return b.icmp_signed(preds[name], x, y)
    if name in ("div", "floordiv", "mod"):
        d, is_zero, is_m1 = _safe_divisor(b, x, y)
        q = b.sdiv(x, d)
        r = b.srem(x, d)
        if name == "div":
            res = b.select(is_m1, b.sub(zero, x), q)
        elif name == "floordiv":
            adjust = b.and_(b.icmp_signed("!=", r, zero), b.xor(b.icmp_signed("<", r, zero), b.icmp_signed("<", y, zero)))
            fq = b.sub(q, b.zext(adjust, t))
            res = b.select(is_m1, b.sub(zero, x), fq)
        else:
            adjust = b.and_(b.icmp_signed("!=", r, zero), b.xor(b.icmp_signed("<", r, zero), b.icmp_signed("<", y, zero)))
            res = b.select(adjust, b.add(r, y), r)
            res = b.select(is_m1, zero, res)
        return b.select(is_zero, zero, res)
    if name == "pow":
        return b.call(_ipow(b.module, t), [x, y])
    raise CompileError(f"no integer lowering for 'loops.{name}'", op.loc if op is not None else None)


def _ipow(module: ir.Module, t: ir.IntType) -> ir.Function:
    name = f"tk.ipow.i{t.width}"
    f = module.globals.get(name)
    if f is not None:
        return f
    f = ir.Function(module, ir.FunctionType(t, [t, t]), name=name)
    f.linkage = "internal"
    base, exp = f.args
    entry = f.append_basic_block("entry")
    loop = f.append_basic_block("loop")
    done = f.append_basic_block("done")
    neg = f.append_basic_block("neg")
    b = ir.IRBuilder(entry)
    zero, one = ir.Constant(t, 0), ir.Constant(t, 1)
    b.cbranch(b.icmp_signed("<", exp, zero), neg, loop)
    b.position_at_end(neg)
    # base**negative: 1 for base 1, ±1 for base -1, else 0 (truncated reciprocal).
    odd = b.trunc(exp, ir.IntType(1))
    m1 = b.select(odd, ir.Constant(t, -1), one)
    r = b.select(b.icmp_signed("==", base, one), one, b.select(b.icmp_signed("==", base, ir.Constant(t, -1)), m1, zero))
    b.ret(r)
    b.position_at_end(loop)
    acc = b.phi(t)
    bb = b.phi(t)
    e = b.phi(t)
    acc.add_incoming(one, entry)
    bb.add_incoming(base, entry)
    e.add_incoming(exp, entry)
    bit = b.trunc(e, ir.IntType(1))
    acc2 = b.select(bit, b.mul(acc, bb), acc)
    e2 = b.ashr(e, one)
    bb2 = b.mul(bb, bb)
    acc.add_incoming(acc2, loop)
    bb.add_incoming(bb2, loop)
    e.add_incoming(e2, loop)
    b.cbranch(b.icmp_signed("==", e2, zero), done, loop)
    b.position_at_end(done)
    b.ret(acc2)
    return f


def emit_int_unary(b: ir.IRBuilder, name: str, x: ir.Value, op=None) -> ir.Value:
    t = x.type
    zero = ir.Constant(t, 0)
    if name == "neg":
        return b.sub(zero, x)
    if name == "abs":
        return b.select(b.icmp_signed("<", x, zero), b.sub(zero, x), x)
    if name == "square":
        return b.mul(x, x)
    if name == "relu":
        return b.select(b.icmp_signed("<", x, zero), zero, x)
    if name == "sign":
        pos = b.zext(b.icmp_signed(">", x, zero), t)
        neg = b.zext(b.icmp_signed("<", x, zero), t)
        return b.sub(pos, neg)
    if name == "logical_not":
        return b.xor(x, ir.Constant(t, 1))
    raise CompileError(f"no integer lowering for 'loops.{name}'", op.loc if op is not None else None)
