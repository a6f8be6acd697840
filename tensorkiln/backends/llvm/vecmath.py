"""Vectorizable elementwise math for the LLVM backend.

This module owns the LLVM IR bodies of the transcendental scalar functions the
backend needs (``exp log tanh sigmoid pow expm1 log1p erf sin cos``).  Each is
emitted once per module and dtype as an ``internal``/``alwaysinline`` function
(``tk.<name>.f32`` / ``tk.<name>.f64``) built only from float arithmetic,
fcmp/select, integer bit manipulation and intrinsics that LLVM lowers to vector
instructions (``fma fmuladd fabs rint floor copysign``).  There are no libm
calls and no ``llvm.exp``/``llvm.log`` intrinsics (those scalarize into libm
calls), so once inlined into a loop the loop vectorizer turns them into packed
``ps``/``pd`` code.  The bodies need IEEE semantics (error-free transforms,
NaN selects): callers must not put ``reassoc``/``nnan`` fast-math flags on them.

Technique: Cody-Waite range reduction with a short high part so ``k*hi`` is
exact, scaling by ``2**k`` through integer adds into the exponent field (split
into two factors so huge/denormal results neither wrap nor double-round), the
fdlibm ``s = f/(2+f)`` formulation for log, and polynomials derived on first
use by interpolating at Chebyshev nodes in 100-digit ``decimal`` arithmetic
(near-minimax, deterministic; see ``vecmath_coeffs.py``, ~0.1 s for all of them).
f32 ``pow``/``sin``/``cos`` run in f64 and round once; f64 ``pow`` carries
log(x) as a double-double so ``y*log(x)`` keeps ~60 bits.

Measured max error, in ulp against the correctly rounded result.  f32: all
2^32 inputs for exp/log/tanh/sigmoid/expm1/log1p (fraction of results that
are not correctly rounded: 0.4%/0.3%/0.1%/1.8%/0.3%/0.4%), every 4093rd bit
pattern for erf, every 257th for sin/cos, ~10^6 random pairs for pow.  f64:
several million points per function against long double (and libm erf).
tests/test_vecmath.py re-checks these bounds on smaller sweeps::

    function   exp log tanh sigmoid expm1 log1p erf pow sin cos
    f32         1   1    1     2      1     1    1   1*  1*  1*
    f64         1   1    1     1      1     1    1   1   1   1
    (* evaluated in f64 and rounded once: 0 ulp observed)

Special values follow numpy (inf, NaN, +-0, pow's C99 rules incl. 0**0 = 1,
negative x with integral y).  Denormal inputs and results are handled (one
rounding, no flush to zero).  sin/cos have no Payne-Hanek reduction: they
meet the bound for |x| < 2**40 and return NaN beyond it.  ``llvm.fma`` serves
error-free products (pow, erf, sin/cos, sigmoid); without FMA hardware LLVM
lowers it to a correct but slow libm ``fma`` call.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Callable

from llvmlite import ir

from .vecmath_coeffs import _ERF_SPLIT, _coeffs, _split

__all__ = ["SUPPORTED", "emit_math"]

# ---- IR emission helpers ----
Val = ir.Value | float


class _Em:
    """Thin typed wrapper over IRBuilder so kernels read like formulas."""

    def __init__(self, builder: ir.IRBuilder, ty: ir.Type):
        self.b, self.ty = builder, ty
        self.is64 = isinstance(ty, ir.DoubleType)
        self.ity = ir.IntType(64 if self.is64 else 32)
        self.mant = 52 if self.is64 else 23
        self.bias = 1023 if self.is64 else 127
        self.min_normal = 2.0**-1022 if self.is64 else 2.0**-126

    def v(self, x: Val) -> ir.Value:
        return x if isinstance(x, ir.Value) else ir.Constant(self.ty, float(x))

    def i(self, x: int | ir.Value) -> ir.Value:
        return x if isinstance(x, ir.Value) else ir.Constant(self.ity, x)

    def add(self, a: Val, b: Val) -> ir.Value:
        return self.b.fadd(self.v(a), self.v(b))

    def sub(self, a: Val, b: Val) -> ir.Value:
        return self.b.fsub(self.v(a), self.v(b))

    def mul(self, a: Val, b: Val) -> ir.Value:
        return self.b.fmul(self.v(a), self.v(b))

    def div(self, a: Val, b: Val) -> ir.Value:
        return self.b.fdiv(self.v(a), self.v(b))

    def neg(self, a: ir.Value) -> ir.Value:
        return self.b.fneg(a)

    def intr(self, name: str, *args: Val) -> ir.Value:
        fname = f"llvm.{name}.{self.ty.intrinsic_name}"
        fn = self.b.module.globals.get(fname)
        if fn is None:
            fn = ir.Function(self.b.module, ir.FunctionType(self.ty, [self.ty] * len(args)), fname)
        return self.b.call(fn, [self.v(a) for a in args])

    def fma(self, a: Val, b: Val, c: Val) -> ir.Value:  # must be fused (error-free tricks)
        return self.intr("fma", a, b, c)

    def mad(self, a: Val, b: Val, c: Val) -> ir.Value:  # fused only if cheap
        return self.intr("fmuladd", a, b, c)

    def poly(self, x: ir.Value, coeffs: tuple[Val, ...]) -> ir.Value:
        acc = self.v(coeffs[-1])
        for c in reversed(coeffs[:-1]):
            acc = self.mad(acc, x, c)
        return acc

    def cmp(self, op: str, a: Val, b: Val) -> ir.Value:  # ordered: false on NaN
        return self.b.fcmp_ordered(op, self.v(a), self.v(b))

    def ucmp(self, op: str, a: Val, b: Val) -> ir.Value:  # unordered: true on NaN
        return self.b.fcmp_unordered(op, self.v(a), self.v(b))

    def isnan(self, a: ir.Value) -> ir.Value:
        return self.b.fcmp_unordered("uno", a, a)

    def sel(self, c: ir.Value, a: Val, b: Val) -> ir.Value:
        return self.b.select(c, self.v(a), self.v(b))

    def to_int(self, x: ir.Value) -> ir.Value:
        # f64 k always fits i32; going via i32 uses the cheaper cvttpd2dq.
        k = self.b.fptosi(x, ir.IntType(32))
        return self.b.sext(k, self.ity) if self.is64 else k

    def pow2(self, k: ir.Value) -> ir.Value:
        """2**k for integer k in the normal exponent range (bias+k in 1..2*bias)."""
        return self.b.bitcast(self.b.shl(self.b.add(k, self.i(self.bias)), self.i(self.mant)), self.ty)

    def coeffs(self, kind: str) -> tuple[float, ...]:
        return _coeffs(kind, self.is64)


_NAN, _INF = float("nan"), float("inf")
_LOG2E = 1.0 / math.log(2.0)


# ---- Kernels ----
def _exp_reduce(em: _Em, x: ir.Value, lo: float, hi: float, x_lo: ir.Value | None = None,
                split: bool = False) -> tuple[ir.Value, ir.Value, ir.Value | None]:
    """Clamp x to [lo, hi] (NaN -> lo, so no poison from fptosi) and split
    x (+ x_lo) = k*ln2 + r with |r| <~ ln2/2.  Returns (k as int, p, p_lo)
    with e^r = 1 + p (+ p_lo, the rounding errors of r and p, if `split`)."""
    x = em.sel(em.cmp(">", x, lo), x, lo)
    x = em.sel(em.cmp("<", x, hi), x, hi)
    kf = em.intr("rint", em.mul(x, _LOG2E))
    # 16/42-bit hi part: k*hi is exact for |k| < 2^8 / 2^11, and x - k*hi is
    # exact by Sterbenz, so r is only rounded by the small k*lo term.
    ln2_hi, ln2_lo = _split("ln2", em.is64, 2, 42 if em.is64 else 16)
    r0 = em.sub(x, em.mul(kf, ln2_hi))
    c = em.mul(kf, ln2_lo)
    if x_lo is not None:
        c = em.sub(c, x_lo)
    r = em.sub(r0, c)
    t = em.mul(em.mul(r, r), em.poly(r, em.coeffs("exp")))
    p = em.add(r, t)
    if not split:
        return em.to_int(kf), p, None
    # expm1 near k = 1 cancels 2*p against -1; carry both rounding errors.
    r_lo = em.sub(em.sub(r0, r), c)
    return em.to_int(kf), p, em.add(em.sub(t, em.sub(p, r)), r_lo)


def _exp_core(em: _Em, x: ir.Value, x_lo: ir.Value | None = None, precise: bool = False,
              nonneg: bool = False) -> ir.Value:
    """e^(x + x_lo) without the NaN fix-up; NaN behaves like -inf (-> 0).
    `precise` (for pow) folds the rounding errors of r, p and 1 + p into one
    final rounding: ~0.5 ulp instead of ~1 ulp, for 6 more flops.
    `nonneg`: the caller's x is >= 0 (or NaN, which it fixes up itself), so
    k is in [0, bias + 1] and 2^k is one normal power of two, or +inf at the
    very top: a single exact multiply scales (5 instructions fewer)."""
    # Clamp just past the overflow/underflow thresholds so results saturate
    # to inf / 0 while k stays within two normal half-scales.
    lo, hi = (-746.0, 710.0) if em.is64 else (-104.0, 89.0)
    k, p, p_lo = _exp_reduce(em, x, lo, hi, x_lo, split=precise)
    e = em.add(p, 1.0)
    if p_lo is not None:
        e = em.add(e, em.add(em.add(em.sub(1.0, e), p), p_lo))  # Fast2Sum(1, p) error
    if nonneg:
        return em.mul(e, em.pow2(k))
    return _scale(em, e, k)


def _scale(em: _Em, v: ir.Value, k: ir.Value) -> ir.Value:
    """v * 2^k for k in [-1076, 1024] / [-150, 128] (v in [0.5, 2))."""
    # 2^k as 2^k1 * 2^k2: each factor is normal at the extremes, the first
    # product is exact and only the last rounds (correct denormals, no wrap).
    k1 = em.b.ashr(k, em.i(1))
    return em.mul(em.mul(v, em.pow2(k1)), em.pow2(em.b.sub(k, k1)))


def _exp(em: _Em, x: ir.Value) -> ir.Value:
    return em.sel(em.isnan(x), x, _exp_core(em, x))


def _expm1(em: _Em, x: ir.Value) -> ir.Value:
    # Below -20 / -40, expm1 rounds to -1; above, k is small enough that
    # 2^k*p + (2^k - 1) is an exact scaling plus a rounded add.
    lo, hi = (-40.0, 710.0) if em.is64 else (-20.0, 89.0)
    k, p, p_lo = _exp_reduce(em, x, lo, hi, split=True)
    s = em.pow2(k)  # may be inf for the largest k; that lane takes `big`
    small = em.mad(s, p_lo, em.mad(s, p, em.sub(s, 1.0)))
    # Where -1 is below 1/32 ulp, use the exp scaling that cannot overflow early.
    big = _scale(em, em.add(p, 1.0), k)
    y = em.sel(em.b.icmp_signed(">", k, em.i(em.mant + 5)), big, small)
    y = em.sel(em.cmp("==", x, 0.0), x, y)  # keep the sign of -0
    return em.sel(em.isnan(x), x, y)


def _log_parts(em: _Em, x: ir.Value) -> tuple[ir.Value, ir.Value]:
    """x = 2^e * (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)); returns (e as float, f)."""
    tiny = em.cmp("<", x, em.min_normal)
    # Denormals: scale into the normal range first, correct e afterwards.
    xs = em.sel(tiny, em.mul(x, 2.0**em.mant), x)
    ix = em.b.bitcast(xs, em.ity)
    # Subtracting the bits of ~sqrt(1/2) makes the exponent field roll over
    # exactly when the mantissa passes sqrt(2): no compare needed.
    sqrt_half_bits = 0x3FE6A09E667F3BCD if em.is64 else 0x3F3504F3
    e = em.b.ashr(em.b.sub(ix, em.i(sqrt_half_bits)), em.i(em.mant))
    m = em.b.bitcast(em.b.sub(ix, em.b.shl(e, em.i(em.mant))), em.ty)
    e = em.b.sub(e, em.b.select(tiny, em.i(em.mant), em.i(0)))
    ef = em.b.sitofp(e, em.ty)
    return ef, em.sub(m, 1.0)


def _log_core(em: _Em, x: ir.Value, extra: ir.Value | None = None) -> ir.Value:
    """log(x) + extra for positive finite x (fdlibm's formulation)."""
    ef, f = _log_parts(em, x)
    s = em.div(f, em.add(f, 2.0))
    z = em.mul(s, s)
    r = em.mul(z, em.poly(z, em.coeffs("log")))
    hfsq = em.mul(em.mul(f, f), 0.5)
    ln2_hi, ln2_lo = _split("ln2", em.is64, 2, 42 if em.is64 else 16)
    low = em.mul(ef, ln2_lo)
    if extra is not None:
        low = em.add(low, extra)
    # log = e*ln2_hi + (f - hfsq + s*(hfsq + R) + e*ln2_lo), summed small-to-large
    # so f (exact) and e*ln2_hi (exact) are added last.
    t = em.sub(em.sub(hfsq, em.add(em.mul(s, em.add(hfsq, r)), low)), f)
    return em.sub(em.mul(ef, ln2_hi), t)


def _log(em: _Em, x: ir.Value) -> ir.Value:
    y = _log_core(em, x)
    y = em.sel(em.cmp("==", x, _INF), x, y)
    y = em.sel(em.cmp("==", x, 0.0), -_INF, y)
    return em.sel(em.ucmp("<", x, 0.0), _NAN, y)  # negative or NaN


def _log1p(em: _Em, x: ir.Value) -> ir.Value:
    # u = 1 + x rounds; the exact rounding error (TwoSum) divided by u is the
    # first-order correction log(1+x) - log(u), fed into log's low-order sum.
    u = em.add(x, 1.0)
    bp = em.sub(u, x)
    err = em.add(em.sub(x, em.sub(u, bp)), em.sub(1.0, bp))
    y = _log_core(em, u, em.div(err, u))
    y = em.sel(em.cmp("==", x, _INF), x, y)
    y = em.sel(em.cmp("==", x, -1.0), -_INF, y)
    y = em.sel(em.cmp("==", x, 0.0), x, y)  # keep the sign of -0
    return em.sel(em.ucmp("<", x, -1.0), _NAN, y)


def _tanh(em: _Em, x: ir.Value) -> ir.Value:
    a = em.intr("fabs", x)
    z = em.mul(a, a)
    small = em.mad(em.mul(a, z), em.poly(z, em.coeffs("tanh")), a)
    # 1 - 2/(e^2a + 1) only cancels mildly above 0.625; e^2a = inf gives 1.
    big = em.sub(1.0, em.div(2.0, em.add(_exp_core(em, em.add(a, a), nonneg=True), 1.0)))
    y = em.intr("copysign", em.sel(em.cmp("<", a, 0.625), small, big), x)
    return em.sel(em.isnan(x), x, y)


def _sigmoid(em: _Em, x: ir.Value) -> ir.Value:
    # With E = e^-|x| <= 1: 1/(1+E) for x >= 0, E/(1+E) for x < 0.  Neither
    # form cancels, and large negative x keeps its tiny (even denormal) value.
    e = _exp_core(em, em.neg(em.intr("fabs", x)))
    num = em.sel(em.cmp("<", x, 0.0), e, 1.0)
    d = em.add(e, 1.0)
    d_lo = em.sub(e, em.sub(d, 1.0))  # Fast2Sum: 1 + E == d + d_lo exactly
    inv = em.div(1.0, d)
    q = em.mul(num, inv)
    # One Newton step against the exact denominator removes the rounding of
    # 1 + E and of the reciprocal: ~1 ulp instead of ~2, for one division.
    resid = em.sub(em.fma(em.neg(q), d, num), em.mul(q, d_lo))
    return em.sel(em.isnan(x), x, em.mad(resid, inv, q))


def _log_dd(em: _Em, x: ir.Value) -> tuple[ir.Value, ir.Value]:
    """log(x) as a double-double hi + lo (~2^-60 relative) for x > 0 finite.

    log(x) = e*ln2 + 2s + (2/3)s^3 + s^3 z P2(z).  The cubic term is up to 1%
    of the result, so it and every sum above it are carried error-free; only
    the tiny tail and the low words are rounded."""
    ef, f = _log_parts(em, x)
    t = em.add(f, 2.0)
    t_lo = em.sub(f, em.sub(t, 2.0))  # Fast2Sum: 2 + f == t + t_lo exactly
    s = em.div(f, t)
    s_lo = em.div(em.sub(em.fma(em.neg(s), t, f), em.mul(s, t_lo)), t)
    z = em.mul(s, s)
    z_lo = em.fma(s, s, em.neg(z))
    s3 = em.mul(z, s)
    s3_lo = em.mad(z_lo, s, em.fma(z, s, em.neg(s3)))
    k_hi = 2.0 / 3.0
    k_lo = float(Decimal(2) / 3 - Decimal(k_hi))
    c = em.mul(s3, k_hi)
    tail = em.mul(em.mul(s3, z), em.poly(z, em.coeffs("log")[1:]))
    # d/ds 2*atanh(s) = 2/(1 - s^2): s_lo enters as 2*s_lo*(1 + z), not 2*s_lo.
    s_lo2 = em.add(s_lo, s_lo)
    ln2_hi, ln2_lo = _split("ln2", em.is64, 2, 42 if em.is64 else 16)
    small = em.add(em.add(em.fma(s3, k_hi, em.neg(c)), em.mad(s3_lo, k_hi, em.mul(s3, k_lo))),
                   em.add(tail, em.add(em.mad(s_lo2, z, s_lo2), em.mul(ef, ln2_lo))))
    b = em.add(s, s)  # exact
    u = em.add(b, c)  # Fast2Sum, |b| >= |c|
    u_err = em.sub(c, em.sub(u, b))
    a = em.mul(ef, ln2_hi)  # exact; |a| >= |u| or a == 0
    h = em.add(a, u)
    lo = em.add(em.sub(u, em.sub(h, a)), em.add(u_err, small))
    hi = em.add(h, lo)  # renormalize so hi carries everything it can
    return hi, em.sub(lo, em.sub(hi, h))


def _pow_f64(em: _Em, x: ir.Value, y: ir.Value) -> ir.Value:
    a = em.intr("fabs", x)
    lh, ll = _log_dd(em, a)
    lh = em.sel(em.cmp("==", a, 0.0), -_INF, lh)
    lh = em.sel(em.cmp("==", a, _INF), _INF, lh)
    zh = em.mul(y, lh)
    zl = em.add(em.fma(y, lh, em.neg(zh)), em.mul(y, ll))
    # Past the clamp the low part is irrelevant (and NaN when zh is inf).
    zl = em.sel(em.cmp("<", em.intr("fabs", zh), 1000.0), zl, 0.0)
    r = _exp_core(em, zh, zl, precise=True)
    yr = em.intr("rint", y)
    is_int = em.cmp("==", yr, y)  # also true for +-inf ("even")
    hy = em.mul(y, 0.5)
    odd = em.b.and_(is_int, em.cmp("!=", em.intr("rint", hy), hy))
    r = em.sel(odd, em.intr("copysign", r, x), r)  # also gives -0 / -inf for x = -0
    neg_finite = em.b.and_(em.cmp("<", x, 0.0), em.cmp(">", x, -_INF))
    r = em.sel(em.b.and_(neg_finite, em.b.not_(is_int)), _NAN, r)
    r = em.sel(em.ucmp("uno", x, y), _NAN, r)
    r = em.sel(em.b.and_(em.cmp("==", a, 1.0), em.cmp("==", em.intr("fabs", y), _INF)), 1.0, r)
    return em.sel(em.b.or_(em.cmp("==", x, 1.0), em.cmp("==", y, 0.0)), 1.0, r)


def _widened(em: _Em, fn: Callable[..., ir.Value], *args: ir.Value, **kw: bool) -> ir.Value:
    """Run an f64 kernel for f32 arguments: widening is exact and the f64
    result (error << 1 f32 ulp) is rounded once."""
    d = _Em(em.b, ir.DoubleType())
    return em.b.fptrunc(fn(d, *[em.b.fpext(a, d.ty) for a in args], **kw), em.ty)


def _pow(em: _Em, x: ir.Value, y: ir.Value) -> ir.Value:
    # f32 in f64 makes y*log(x) effectively error-free for f32 purposes.
    return _pow_f64(em, x, y) if em.is64 else _widened(em, _pow_f64, x, y)


def _erf(em: _Em, x: ir.Value) -> ir.Value:
    amax = 6.0 if em.is64 else 4.0  # erf rounds to 1 beyond this
    a = em.intr("fabs", x)
    z = em.mul(a, a)
    # x + x*E(z) rather than x*(1 + E(z)): the rounding of 2/sqrt(pi) and of
    # the product would otherwise cost an extra ulp.
    small = em.mad(a, em.poly(z, em.coeffs("erf")), a)
    ac = em.sel(em.cmp("<", a, amax), a, amax)  # also maps NaN to amax
    zc = em.mul(ac, ac)
    # exp(-a^2) with a^2 as an exact double-word (fma residual): the rounding
    # of a^2 would otherwise be amplified by up to 36x.
    e = _exp_core(em, em.neg(zc), em.neg(em.fma(ac, ac, em.neg(zc))))
    if em.is64:  # two intervals: select the t-mapping and each coefficient per lane
        lo_half = em.cmp("<", ac, _ERF_SPLIT)
        maps = [(2 / (h - l), -(h + l) / (h - l)) for l, h in ((1.0, _ERF_SPLIT), (_ERF_SPLIT, amax))]
        inv_h, off = (em.sel(lo_half, u, v) for u, v in zip(*maps))
        coeffs = tuple(em.sel(lo_half, p, q) for p, q in zip(em.coeffs("erfc_lo"), em.coeffs("erfc_hi")))
    else:
        inv_h, off, coeffs = 2 / (amax - 1.0), -(amax + 1.0) / (amax - 1.0), em.coeffs("erfc")
    g = em.poly(em.mad(ac, inv_h, off), coeffs)
    big = em.sub(1.0, em.mul(e, g))
    y = em.sel(em.cmp("<", a, 1.0), small, em.sel(em.cmp("<", a, amax), big, 1.0))
    return em.sel(em.isnan(x), x, em.intr("copysign", y, x))


_TRIG_LIMIT = 2.0**40  # past this, rint(x*2/pi) may be off enough to leave the fit interval


def _sincos(em: _Em, x: ir.Value, is_cos: bool) -> ir.Value:
    if not em.is64:
        return _widened(em, _sincos, x, is_cos=is_cos)
    a = em.intr("fabs", x)
    ok = em.cmp("<", a, _TRIG_LIMIT)  # false for inf/NaN too
    a = em.sel(ok, a, 0.0)  # keep unused lanes well defined (no fptosi poison)
    kf = em.intr("rint", em.mul(a, 2 / math.pi))
    p1, p2, p3 = _split("pio2", True, 3, 53)
    # a - k*p1 is exact (both are multiples of 2^-52 and the difference is
    # < 1), so only k*(p2 + p3) needs care: subtract it as a double-double
    # (TwoSum) and keep the reduced argument as r + rl.
    r1 = em.fma(em.neg(kf), p1, a)
    c = em.mul(kf, p2)
    c_lo = em.mad(kf, p3, em.fma(kf, p2, em.neg(c)))
    s = em.sub(r1, c)
    bb = em.sub(s, r1)
    lo = em.sub(em.add(em.sub(r1, em.sub(s, bb)), em.sub(em.neg(c), bb)), c_lo)
    r = em.add(s, lo)
    rl = em.sub(lo, em.sub(r, s))
    z = em.mul(r, r)
    hz = em.mul(z, 0.5)
    w = em.sub(1.0, hz)
    # sin(r + rl) ~ r + r^3 S(z) + rl*(1 - z/2); cos(r + rl) ~ cos(r) - r*rl,
    # with cos(r) = w + ((1 - w) - hz) + z^2 C(z) recovering w's rounding.
    sin_r = em.add(r, em.mad(em.mul(r, z), em.poly(z, em.coeffs("sin")), em.mul(rl, w)))
    cos_tail = em.mad(em.mul(z, z), em.poly(z, em.coeffs("cos")), em.neg(em.mul(r, rl)))
    cos_r = em.add(w, em.add(em.sub(em.sub(1.0, w), hz), cos_tail))
    # Quadrant k mod 4, computed in floating point (k can exceed i32).
    # cos(x) = sin(x + pi/2): one quadrant further.
    q = em.sub(kf, em.mul(em.intr("floor", em.mul(kf, 0.25)), 4.0))
    qi = em.b.add(em.to_int(q), em.i(int(is_cos)))
    odd = em.b.trunc(qi, ir.IntType(1))
    flip = em.b.icmp_unsigned("!=", em.b.and_(qi, em.i(2)), em.i(0))
    if not is_cos:  # sin is odd: fold the sign of x into the flip
        flip = em.b.xor(flip, em.cmp("<", x, 0.0))
    y = em.sel(odd, cos_r, sin_r)
    y = em.sel(flip, em.neg(y), y)
    if not is_cos:
        y = em.sel(em.cmp("==", x, 0.0), x, y)  # sin(-0) = -0
    return em.sel(ok, y, _NAN)


_BODIES: dict[str, tuple[int, Callable[..., ir.Value]]] = {
    "exp": (1, _exp),
    "log": (1, _log),
    "tanh": (1, _tanh),
    "sigmoid": (1, _sigmoid),
    "pow": (2, _pow),
    "expm1": (1, _expm1),
    "log1p": (1, _log1p),
    "erf": (1, _erf),
    "sin": (1, lambda em, x: _sincos(em, x, False)),
    "cos": (1, lambda em, x: _sincos(em, x, True)),
}

SUPPORTED: frozenset[str] = frozenset(_BODIES)


def _function(module: ir.Module, name: str, ty: ir.Type) -> ir.Function:
    """The module's tk.<name>.<f32|f64>, defined on first request."""
    fname = f"tk.{name}.{ty.intrinsic_name}"
    fn = module.globals.get(fname)
    if fn is not None:
        return fn
    nargs, body = _BODIES[name]
    fn = ir.Function(module, ir.FunctionType(ty, [ty] * nargs), fname)
    fn.linkage = "internal"
    # alwaysinline: the vectorizer only sees the body once it is in the loop.
    fn.attributes.add("alwaysinline")
    fn.attributes.add("nounwind")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    builder.ret(body(_Em(builder, ty), *fn.args))
    return fn


def emit_math(builder: ir.IRBuilder, name: str, args: list[ir.Value]) -> ir.Value:
    """Emit a call computing `name(*args)` elementwise-ready, return its value.

    `args` must all be f32 or all f64 (pow takes two, the rest one); the
    implementing function is added to `builder.module` if not yet present.
    """
    if name not in _BODIES:
        raise ValueError(f"unsupported math function {name!r}; expected one of {sorted(SUPPORTED)}")
    nargs = _BODIES[name][0]
    if len(args) != nargs:
        raise ValueError(f"{name} takes {nargs} argument(s), got {len(args)}")
    ty = args[0].type
    if not isinstance(ty, (ir.FloatType, ir.DoubleType)) or any(a.type != ty for a in args):
        got = [str(a.type) for a in args]
        raise TypeError(f"{name}: arguments must all be float or all double, got {got}")
    return builder.call(_function(builder.module, name, ty), list(args))
