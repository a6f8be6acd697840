"""Polynomial coefficients and constant splits for the vector math kernels (``vecmath.py``).

Each polynomial interpolates its target function at Chebyshev nodes in 100-digit ``decimal``
arithmetic (near-minimax without a Remez iteration, and deterministic: the emitted IR is
bit-identical on every machine); ``_split`` gives the Cody-Waite splits of ln 2 and pi/2 whose
leading parts have few enough bits that ``k * part`` is exact. Derived once per process and cached
(~0.1 s for all of them).
"""
from __future__ import annotations

import functools
import math
import struct
from decimal import Decimal, localcontext
from typing import Callable

# ---- Coefficient derivation (100-digit decimal arithmetic, cached) ----
_PREC = 100
_EPS = Decimal(10) ** (-_PREC + 5)


def _series(term0: Decimal, step: Callable[[Decimal, int], Decimal]) -> Decimal:
    """Sum a power series term by term until the terms stop mattering."""
    total, term, n = Decimal(0), term0, 0
    while abs(term) > _EPS:
        total += term
        n += 1
        term = step(term, n)
    return total


@functools.cache
def _pi() -> Decimal:
    with localcontext() as ctx:  # Machin: pi = 16 atan(1/5) - 4 atan(1/239)
        ctx.prec = _PREC
        atan_inv = [_series(Decimal(1) / q, lambda t, n, q=q: -t * (2 * n - 1) / ((2 * n + 1) * q * q))
                    for q in (5, 239)]
        return 16 * atan_inv[0] - 4 * atan_inv[1]


def _d_cos(t: Decimal) -> Decimal:
    return _series(Decimal(1), lambda u, n: -u * t * t / ((2 * n - 1) * (2 * n)))


def _d_erf(x: Decimal) -> Decimal:
    # Maclaurin series; the 100-digit context absorbs its cancellation (x <= 6).
    s = _series(x, lambda t, n: -t * x * x * (2 * n - 1) / (n * (2 * n + 1)))
    return 2 * s / _pi().sqrt()


def _exp_q(r: Decimal) -> Decimal:  # e^r = 1 + r + r^2 * Q(r)
    return _series(Decimal(1) / 2, lambda t, n: t * r / (n + 2))


def _log_r(z: Decimal) -> Decimal:  # log(1+f) = 2s + s*z*R(z), z = s^2
    return _series(Decimal(2) / 3, lambda t, n: t * z * (2 * n + 1) / (2 * n + 3))


def _tanh_p(z: Decimal) -> Decimal:  # tanh(x) = x + x^3 * P(x^2)
    x = z.sqrt()  # Chebyshev nodes never hit 0
    e = (2 * x).exp()
    return ((e - 1) / (e + 1) - x) / (x * x * x)


def _erf_small(z: Decimal) -> Decimal:  # erf(x) = x + x * E(x^2)
    return _d_erf(z.sqrt()) / z.sqrt() - 1


def _erfc_scaled(a: Decimal) -> Decimal:  # erfc(a) = exp(-a^2) * G(a), entire
    return (1 - _d_erf(a)) * (a * a).exp()


def _sin_s(z: Decimal) -> Decimal:  # sin(r) = r + r^3 * S(r^2)
    return _series(Decimal(-1) / 6, lambda t, n: -t * z / ((2 * n + 2) * (2 * n + 3)))


def _cos_c(z: Decimal) -> Decimal:  # cos(r) = 1 - r^2/2 + r^4 * C(r^2)
    return _series(Decimal(1) / 24, lambda t, n: -t * z / ((2 * n + 3) * (2 * n + 4)))


_ERF_SPLIT = 2.5  # f64 erfc needs two intervals to stay below degree 18
# name -> (target, lo, hi, degree f32, degree f64); degrees picked from the
# measured interpolation error so each term costs < 0.1 ulp.
_FITS: dict[str, tuple[Callable[[Decimal], Decimal], float, float, int, int]] = {
    "exp": (_exp_q, -0.35, 0.35, 4, 9),
    "log": (_log_r, 0.0, 0.0295, 2, 8),
    "tanh": (_tanh_p, 0.0, 0.625**2, 5, 11),
    "erf": (_erf_small, 0.0, 1.0, 5, 12),
    "erfc": (_erfc_scaled, 1.0, 4.0, 12, 0),
    "erfc_lo": (_erfc_scaled, 1.0, _ERF_SPLIT, 0, 17),
    "erfc_hi": (_erfc_scaled, _ERF_SPLIT, 6.0, 0, 17),
    "sin": (_sin_s, 0.0, 0.6232, 0, 6),  # f32 sin/cos run in f64
    "cos": (_cos_c, 0.0, 0.6232, 0, 6),
}


def _solve(a: list[list[Decimal]], b: list[Decimal]) -> list[Decimal]:
    """Gaussian elimination with partial pivoting (tiny dense systems)."""
    n = len(b)
    m = [row[:] + [bb] for row, bb in zip(a, b)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(c + 1, n):
            f = m[r][c] / m[c][c]
            for k in range(c, n + 1):
                m[r][k] -= f * m[c][k]
    x = [Decimal(0)] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][k] * x[k] for k in range(r + 1, n))) / m[r][r]
    return x


@functools.cache
def _coeffs(kind: str, is64: bool) -> tuple[float, ...]:
    """Monomial coefficients interpolating a _FITS target at Chebyshev nodes.

    Interpolation at Chebyshev nodes is within a small factor of minimax and
    needs no Remez iteration.  Interval-mapped fits (erfc) are expressed in
    t = (a - mid) / half in [-1, 1] so the monomial basis stays well
    conditioned after rounding the coefficients to f32/f64.
    """
    target, lo, hi, d32, d64 = _FITS[kind]
    deg = d64 if is64 else d32
    mapped = kind.startswith("erfc")
    with localcontext() as ctx:
        ctx.prec = _PREC
        mid, half = (Decimal(lo) + Decimal(hi)) / 2, (Decimal(hi) - Decimal(lo)) / 2
        # Nodes in decimal too, so the emitted IR is bit-identical everywhere.
        cheb = [_d_cos((2 * i + 1) * _pi() / (2 * deg + 2)) for i in range(deg + 1)]
        nodes = cheb if mapped else [mid + half * c for c in cheb]
        vals = [target(mid + half * t if mapped else t) for t in nodes]
        sol = _solve([[t**j for j in range(deg + 1)] for t in nodes], vals)
    return tuple(float(c) for c in sol)


@functools.cache
def _split(which: str, is64: bool, parts: int, hi_bits: int) -> tuple[float, ...]:
    """Cody-Waite split of ln2 or pi/2: leading parts have `hi_bits` bits so
    k*part is exact for the k range used; the last part is a full-precision
    rounding of what remains."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        rest = Decimal(2).ln() if which == "ln2" else _pi() / 2
        out = []
        for i in range(parts):
            if i == parts - 1:  # full precision, rounded to the target type
                last = float(rest)
                out.append(last if is64 else struct.unpack("f", struct.pack("f", last))[0])
            else:
                e = math.floor(math.log2(abs(float(rest))))
                scale = Decimal(2) ** (hi_bits - 1 - e)
                out.append(float((rest * scale).to_integral_value() / scale))
            rest -= Decimal(out[-1])
        return tuple(out)
