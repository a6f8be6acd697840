"""The DSL's ``grad(f, wrt=(a, b))(args…)``: inline ``f`` on the arguments, then let the IR autodiff
(``compiler/autodiff.py``) produce d f / d wrt. A mixin of the DSL elaborator (``dsl.py``), which
provides ``err``, ``loc``, ``inline``, ``funcs`` and the builder.
"""
from __future__ import annotations

import numpy as np
from lark import Tree

from ...ir.core import Value
from .dsl_support import _kids, _Scope, _Sig


class GradCalls:
    def grad_call(self, node: Tree, scope: _Scope) -> Value | tuple[Value, ...]:
        """``grad(f, wrt=(a, b))(args…)``: inline f on args, then the IR autodiff gives d f / d wrt
        (one value per name in ``wrt``; zeros where f does not depend on it)."""
        from ..autodiff import gradients

        name_tok, first, second = _kids(node)
        if str(name_tok) != "grad":
            raise self.err(f"only grad(f, wrt=...) can be followed by a second argument list, not '{name_tok}'", name_tok)
        pos1 = [a for a in _kids(first) if a.data != "kwarg"]
        kw1 = {str(a.children[0]): a for a in _kids(first) if a.data == "kwarg"}
        if len(pos1) != 1 or pos1[0].data != "var":
            raise self.err("grad takes the name of an earlier function: grad(f, wrt=(a, b))", name_tok)
        fname = str(pos1[0].children[0])
        if fname not in self.funcs:
            raise self.err(f"grad of unknown function '{fname}' (only functions defined earlier can be differentiated)", pos1[0])
        unknown = set(kw1) - {"wrt"}
        if unknown:
            key = next(iter(unknown))
            raise self.err(f"'grad' has no attribute '{key}' (it has: wrt)", kw1[key].children[0])
        sig = self.funcs[fname]
        names = self.wrt_names(kw1.get("wrt"), sig, fname)
        pos2 = _kids(second)
        if any(a.data == "kwarg" for a in pos2):
            raise self.err(f"'{fname}' takes no keyword arguments", name_tok)
        values, args = self.inline(sig, name_tok, pos2, {}, scope, with_args=True)
        if len(values) != 1 or not values[0].type.dtype.is_float:
            raise self.err(f"grad needs '{fname}' to return one floating-point value", name_tok)
        self.b.loc = self.loc(name_tok)
        xs = [args[sig.param_names.index(n)] for n in names]
        grads = gradients(self.b, [values[0]], xs)
        out = []
        for g, x in zip(grads, xs):
            if g is None:  # f does not depend on x: a zero gradient of x's type
                zero = self.b.op("graph.constant", value=np.zeros((), dtype=x.type.dtype.np_dtype))
                g = self.b.op("graph.broadcast_to", zero, shape=x.type.shape) if x.type.rank else zero
            out.append(g)
        return out[0] if len(out) == 1 else tuple(out)

    def wrt_names(self, kwarg: Tree | None, sig: _Sig, fname: str) -> list[str]:
        """The parameter names of ``wrt=a`` / ``(a, b)`` / ``[a, b]``; default: every float parameter."""
        nodes: list = []
        if kwarg is not None:
            w = kwarg.children[1]
            nodes = _kids(w)[1:] if w.data == "list" else _kids(w) if w.data == "tuple" else [w]  # list: skip '['
        for n in nodes:
            if not isinstance(n, Tree) or n.data != "var" or str(n.children[0]) not in sig.param_names:
                raise self.err(f"wrt must name parameters of '{fname}' ({', '.join(sig.param_names)})", n)
        return [str(n.children[0]) for n in nodes] or [p for p, t in zip(sig.param_names, sig.param_types) if t.dtype.is_float]
