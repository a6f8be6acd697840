"""``tensorkiln.compat``: compatibility namespaces. ``tensorkiln.compat.v1`` is TensorFlow 1.x's.

``import tensorkiln.compat.v1 as tf`` gives a TF-1 program the names it was written against
(see :mod:`tensorkiln.compat.v1`); ``tensorkiln.compat.v1`` is imported on first access.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["v1"]


def __getattr__(name: str) -> Any:
    if name == "v1":
        return importlib.import_module(".v1", __name__)
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
