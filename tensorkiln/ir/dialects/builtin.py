"""The builtin dialect: ``return``, the function terminator shared by every stage."""
from __future__ import annotations

from typing import ClassVar

from ..opdef import OpDef, register


@register
class ReturnOp(OpDef):
    name: ClassVar[str] = "return"
    traits = frozenset({"terminator"})

    @classmethod
    def infer(cls, types, attrs, loc):
        return []
