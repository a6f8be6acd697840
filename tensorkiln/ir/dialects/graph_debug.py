"""Debugging ops of the ``graph`` dialect: ``graph.check_numerics``.

``graph.check_numerics %x`` reduces a floating-point tensor to an ``i32`` scalar status: bit 1 set
when some element is NaN, bit 0 when some element is ±Inf (so 0 means all finite, 1 Inf, 2 NaN,
3 both). The Session's ``CheckNumerics`` ops return these statuses from the one native call and
raise for the first failing one; the decomposition pass turns the op into comparisons and sums
before fusion, so the status is computed by the same generated loops as everything else.
"""
from __future__ import annotations

from ..diagnostics import CompileError
from ..opdef import OpDef, register
from ..types import TensorType, i32
from .graph import _tensor

STATUS_INF = 1
STATUS_NAN = 2


@register
class CheckNumericsOp(OpDef):
    name = "graph.check_numerics"
    num_operands = 1
    traits = frozenset({"pure"})

    @classmethod
    def infer(cls, types, attrs, loc):
        t = _tensor(types[0], cls.name, loc)
        if not t.dtype.is_float:
            raise CompileError(f"'{cls.name}' needs a float operand, got {t.dtype}", loc)
        return [TensorType((), i32)]


def status_text(status: int) -> str:
    """TensorFlow's words for a status: ``"NaN"``, ``"Inf"`` or ``"Inf and NaN"``."""
    if status & STATUS_NAN and status & STATUS_INF:
        return "Inf and NaN"
    return "NaN" if status & STATUS_NAN else "Inf"
