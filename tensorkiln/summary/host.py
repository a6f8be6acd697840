"""Host-side ops: values the Session finishes in Python *after* the one native call.

Summary ops (``ScalarSummary``, ``HistogramSummary``, ``ImageSummary``, ``TensorSummaryV2``,
``MergeSummary``) and the string constants that hold their tags produce serialized protos, which
the compiler has no type for. Their *numeric* inputs are ordinary tensors computed by the compiled
function; the op itself only packs those numbers into a ``Summary`` (serializing, not computing).

An Operation is a host op when it carries ``op._tk_host_fn``: a callable from the list of its input
values to its output value. :func:`plan_host_fetches` replaces the fetched host tensors by the native
tensors they read (what the compiled call must return) in a :class:`HostPlan` whose ``finish`` computes
the host values from the native results. The Session calls it around its native call (two marked lines in
``tensorkiln/runtime/session.py``).
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np

__all__ = ["HostPlan", "is_host_op", "plan_host_fetches", "mark_host_op"]


def is_host_op(op: Any) -> bool:
    """Whether ``op`` (an Operation) is evaluated on the host after the native call."""
    return getattr(op, "_tk_host_fn", None) is not None


def mark_host_op(op: Any, fn: Callable[[list[Any]], Any]) -> Any:
    """Make ``op`` a host op computing its single output as ``fn(input_values)``."""
    op._tk_host_fn = fn
    return op


class HostPlan:
    """How the Session turns native results into the values of its fetched tensors.

    Built from the Session's fetched ``tensors`` and ``ops``; ``native_tensors``/``native_ops`` are what
    the compiled call must produce instead (host ops replaced by the native tensors they read, and by
    their control inputs, which must still run; a fed tensor a host op reads is taken from the feeds).
    ``finish(values of native_tensors, feed values)`` gives the values
    of the original ``tensors``, in order; a host value is a 0-d object array (``bytes`` once the
    Session unwraps scalars, as TF returns string scalars).
    """

    def __init__(self, tensors: Sequence[Any], ops: Sequence[Any], feeds: Sequence[Any] = ()):
        self._tensors = list(tensors)
        self._fed_ids = {id(t) for t in feeds}
        self._feed_index = {id(t): i for i, t in enumerate(feeds)}
        self.native_tensors: list[Any] = []
        self.native_ops: list[Any] = []
        self._index: dict[int, int] = {}
        self._order: list[Any] = []  # host ops, inputs before users
        seen: set[int] = set()
        for t in self._tensors:
            if self._host(t):
                self._visit(t.op, seen)
            else:
                self._need_tensor(t)
        for op in ops:
            if is_host_op(op):  # a host op has no effect to run; its control inputs do
                for c in op.control_inputs:
                    self._need_op(c)
            else:
                self._need_op(op)

    def _host(self, t: Any) -> bool:
        return is_host_op(t.op) and id(t) not in self._fed_ids

    def _need_tensor(self, t: Any) -> None:
        if id(t) in self._fed_ids and id(t) not in {id(x) for x in self._tensors}:
            return  # a host op reading a fed tensor takes the fed value: nothing to fetch natively
        if id(t) not in self._index:
            self._index[id(t)] = len(self.native_tensors)
            self.native_tensors.append(t)

    def _need_op(self, op: Any) -> None:
        if not is_host_op(op) and all(o is not op for o in self.native_ops):
            self.native_ops.append(op)

    def _visit(self, op: Any, seen: set[int]) -> None:
        if id(op) in seen:
            return
        seen.add(id(op))
        for t in op.inputs:
            if self._host(t):
                self._visit(t.op, seen)
            else:
                self._need_tensor(t)
        for c in op.control_inputs:
            if is_host_op(c):
                self._visit(c, seen)
            else:
                self._need_op(c)
        self._order.append(op)

    def finish(self, native_values: Sequence[Any], feed_values: Sequence[Any] = ()) -> list[Any]:
        """Values of the original fetched tensors from the values of ``native_tensors`` (same order) and
        the feed values (in the order of the ``feeds`` the plan was made with)."""
        host: dict[int, Any] = {}

        def value_of(t: Any) -> Any:
            if self._host(t):
                return host[id(t.op)]
            i = self._index.get(id(t))
            if i is None:
                return feed_values[self._feed_index[id(t)]]
            return native_values[i]

        for op in self._order:
            v = op._tk_host_fn([value_of(t) for t in op.inputs])
            if isinstance(v, (bytes, str)):
                box = np.empty((), dtype=object)
                box[()] = v
                v = box
            host[id(op)] = v
        return [value_of(t) for t in self._tensors]


def plan_host_fetches(tensors: Sequence[Any], ops: Sequence[Any] = (), feeds: Sequence[Any] = ()) -> Optional[HostPlan]:
    """A :class:`HostPlan` for the fetched tensors and ops, or ``None`` when no host op is involved
    (the common case costs one attribute look-up per fetch)."""
    if not any(is_host_op(t.op) for t in tensors) and not any(is_host_op(op) for op in ops):
        return None
    return HostPlan(tensors, ops, feeds)
