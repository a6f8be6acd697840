"""Running a Session's compiled signature through the reference interpreter, for differential tests.

:func:`reference_run` takes the same ``(fetches, feed_dict)`` as ``Session.run`` and evaluates the
graph-stage IR of the very function that call runs natively (the same plan, the same pruning, the
same arguments: feeds, the Session's variable buffers, hidden counters and iotas) with the numpy
reference interpreter, then returns the results in the structure ``run`` would. It never changes the
Session: variables and random-op counters are passed as copies, so assignments are not applied.
It exists only to check the compiler; ``Session.run`` never calls it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import errors
from ..backends.reference.interpreter import run_function
from .session import Session, _freeze, _Plan, _scalarize


def reference_run(sess: Session, fetches: Any, feed_dict: Any = None) -> Any:
    """``sess.run(fetches, feed_dict)`` evaluated by the reference interpreter on the signature's
    graph-stage IR (compiling the signature first if this Session has not); the Session is unchanged."""
    fkey = _freeze(fetches)
    feed_keys = tuple(feed_dict) if feed_dict else ()
    plan = sess._plans.get((fkey, feed_keys)) or _Plan(sess, fetches, fkey, feed_keys)
    if plan.host is not None:
        raise errors.UnimplementedError(None, None, "reference_run does not evaluate summary (host) ops")
    arrays: list = [None] * len(plan.feeds)
    if feed_dict:
        for pos, conv, value in zip(plan.feed_pos, plan.convert, feed_dict.values()):
            arrays[pos] = conv(value)
    runner = plan.runner(sess, arrays)
    if runner.fn is None:  # nothing to compute: only no-op fetches
        outs: list[np.ndarray] = []
    else:
        var_args, _ = runner._var_args(sess) if runner.var_nodes else ([], None)
        hidden = runner._hidden_args(sess, arrays) if runner.hidden else []
        # copies: graph.assign in the interpreter writes its arguments in place
        args = [np.array(a, copy=True) for a in arrays + var_args + hidden]
        outs = run_function(runner.sig.lowered.function, args)
    vals = [None if kind else _scalarize(outs[i]) for kind, i in plan.slots]
    return plan.rebuild(vals)
