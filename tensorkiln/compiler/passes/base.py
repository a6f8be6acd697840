"""Pass infrastructure: the ``Pass`` base (a frozen dataclass per pass) and the ``PassManager``.

A pass has a ``name`` and ``apply(module)``; its dataclass fields are its options. The pass manager
runs a list of passes and calls an optional hook after each one — that single hook gives
``--print-after-all``, ``TENSORKILN_DUMP_DIR`` and verification after every pass in tests.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, ClassVar, Sequence

from ...ir.core import Module
from ...ir.verifier import verify_module

AfterPassHook = Callable[[str, Module], None]


# A frozen dataclass: a pass's options are its fields. A pass without options needs no decorator of
# its own — it inherits this class's generated __init__/__eq__/__hash__/__repr__, which work from
# the instance's class — and gets none: each @dataclass costs ~0.3 ms to create, and the passes are
# imported by a process's first compile (ten of them: ~3 ms of a cold start).
@dataclass(frozen=True)
class Pass:
    name: ClassVar[str] = ""

    def apply(self, module: Module) -> None:
        for f in module:
            self.apply_function(f)

    def apply_function(self, func) -> None:  # pragma: no cover - overridden by function passes
        raise TypeError(f"pass {self.name} implements neither apply nor apply_function")


def verify_enabled() -> bool:
    """Verification after every pass: on in tests (TENSORKILN_VERIFY=1), off otherwise for speed."""
    return os.environ.get("TENSORKILN_VERIFY", "") not in ("", "0")


class PassManager:
    def __init__(self, passes: Sequence[Pass], after_pass: AfterPassHook | None = None, verify: bool | None = None):
        self.passes = list(passes)
        self.after_pass = after_pass
        self.verify = verify_enabled() if verify is None else verify

    def run(self, module: Module) -> Module:
        for p in self.passes:
            p.apply(module)
            if self.verify:
                verify_module(module)
            if self.after_pass is not None:
                self.after_pass(p.name, module)
        return module
