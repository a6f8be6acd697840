"""The DSL front end: ``.tk`` source text → one graph-dialect :class:`Function` per ``def``.

This module owns the language's meaning; ``dsl.lark`` owns its syntax. A program is a sequence of

    def NAME(param: TYPE, ...) -> TYPE | (TYPE, ...) { statements }

Types are ``dtype[dims]`` or a bare dtype (a scalar, rank-0 tensor); dtypes are f32 f64 i32 i64 i1.
A parameter dim is an integer, a name (the same name is the same dim across the signature) or ``?``
(unknown); a result dim may also be an expression over parameter dims (``N+M``, ``2*N``).
Statements are ``a = expr``, ``a, b = call(...)`` and a final ``return e1, e2``; ``#`` comments.

Rules:

* Operators ``+ - * / // % ** @``, unary ``-``, comparisons ``< <= > >= == !=`` (→ i1) follow numpy
  broadcasting. There are no implicit casts between tensors: mixing dtypes is an error, and ``/``
  is true division, so it needs float operands (use ``floordiv`` or ``cast``).
* A number literal combined with tensors takes their dtype (an int literal with a float tensor is
  fine, a float literal with an int tensor is an error); on its own an int literal is i64 and a
  float literal f32 (f32 too when it meets only int and float literals); ``true``/``false`` are i1.
  Arithmetic on literals alone is folded (Python semantics). ``[1.0, 2.0]`` is a constant tensor
  literal. Non-elementwise operands (gather's indices) keep their own default dtype.
* **Reduced values re-broadcast along the axes they were reduced over.** ``sum/mean/max/min/prod``
  default to ``keepdims=false`` as in numpy, and numpy broadcasting is tried first. Only when it
  fails, an operand that came from a reduction (``m = max(x, axis=1)``, also after elementwise ops
  that kept its shape, e.g. ``log(sum(exp(x), axis=1))``) and whose *input* shape equals the other
  operand's shape gets its reduced axes re-inserted as size 1 (a ``graph.reshape``). So with
  ``x: f32[B, K]``, ``x - max(x, axis=1)`` is ``[B, K]``; where numpy's rule already applies (e.g.
  ``x: f32[N, N]``) numpy's meaning wins.
* Calls are builtins (see ``BUILTINS``) with keyword attributes (``axis=1``, ``keepdims=true``,
  ``perm=[1, 0]``, ``shape=[-1, N]``); attribute values are constants: numbers, booleans, dtypes,
  lists, signature dim names and ``+ - *`` over them. Calling a function defined earlier in the
  file inlines it, binding its signature dims to the argument's dims.

Every op carries the location of the token that produced it (the operator, the callee name, the
literal, ``return``); every error is a :class:`CompileError` with file, line, column and a caret.
"""
from __future__ import annotations

import difflib
from typing import Any, Callable

import numpy as np
from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from ...ir.core import Builder, Function, Module, Value
from ...ir.diagnostics import CompileError, Location, location_in
from ...ir.dialects.graph import ShapeMismatch, broadcast_shapes
from ...ir.types import DTYPES, Dim, DimOverflowError, DType, SymDim, TensorType, dim_add, dim_mul, f32, fresh_anonymous_dim, i1, i64

def parse_dsl(text: str, file: str = "<string>") -> Module:
    """Parse DSL source into a Module of graph-dialect functions; raises CompileError."""
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(e, text, file) from None
    return _Elaborator(text, file).module(tree)


from .dsl_grad import GradCalls
from .dsl_support import (  # noqa: F401  (BUILTINS and type_str are re-exported)
    Node,
    Operand,
    _lark,
    _syntax_error,
    _REQUIRED,
    Builtin,
    BUILTINS,
    _BINOPS,
    _FOLD,
    _KIND_TEXT,
    Lit,
    _leaves,
    _Sig,
    _Scope,
    type_str,
    _matches,
    _subst,
    _kids,
    _is_int,
    _fits,
    _bind,
)


class _Elaborator(GradCalls):
    def __init__(self, text: str, file: str):
        self.text = text
        self.file = file
        self.funcs: dict[str, _Sig] = {}  # functions elaborated so far: callable (inlined)
        self.defined: dict[str, Token] = {}
        self.b = Builder()
        # Value -> (axes a reduction removed, the reduction's input shape): the re-broadcast rule.
        self.reduced: dict[Value, tuple[tuple[int, ...], tuple[Dim, ...]]] = {}

    # locations -------------------------------------------------------------
    def loc(self, node: Node) -> Location:
        if isinstance(node, Token):
            return location_in(self.text, self.file, node.line or 0, node.column or 0)
        return location_in(self.text, self.file, getattr(node.meta, "line", 0), getattr(node.meta, "column", 0))

    def err(self, msg: str, node: Node) -> CompileError:
        return CompileError(msg, self.loc(node))

    def src(self, node: Node) -> str:
        start = node.start_pos if isinstance(node, Token) else getattr(node.meta, "start_pos", None)
        end = node.end_pos if isinstance(node, Token) else getattr(node.meta, "end_pos", None)
        return self.text[start:end] if start is not None and end is not None else str(node)

    # module and signatures -------------------------------------------------
    def module(self, tree: Tree) -> Module:
        defs = [c for c in tree.children if isinstance(c, Tree)]
        for fd in defs:
            tok = fd.children[0]
            if str(tok) in self.defined:
                first = self.defined[str(tok)]
                raise self.err(f"function '{tok}' is already defined at line {first.line}", tok)
            if str(tok) in BUILTINS:
                raise self.err(f"function name '{tok}' shadows the builtin '{tok}'", tok)
            self.defined[str(tok)] = tok
        m = Module()
        for fd in defs:
            sig = self.signature(fd)
            m.add(self.function(sig))
            self.funcs[sig.name] = sig
        return m

    def signature(self, fd: Tree) -> _Sig:
        name_tok, *rest = _kids(fd)
        params = [c for c in rest if c.data == "param"]
        results = next(c for c in rest if c.data in ("one_result", "many_results"))
        dims: dict[str, SymDim] = {}
        names: list[str] = []
        types: list[TensorType] = []
        for p in params:
            ptok, ptype = p.children
            if str(ptok) in names:
                raise self.err(f"duplicate parameter '{ptok}' in '{name_tok}'", ptok)
            names.append(str(ptok))
            types.append(self.type(ptype, dims, param=True))
        res = [self.type(t, dims, param=False) for t in _kids(results)]
        return _Sig(str(name_tok), name_tok, names, types, res, list(dims), rest[-1])

    def type(self, node: Tree, dims: dict[str, SymDim], param: bool) -> TensorType:
        dtok, shape = node.children
        if str(dtok) not in DTYPES:
            raise self.err(f"unknown dtype '{dtok}' (known: {', '.join(DTYPES)})", dtok)
        out = tuple(self.dim(d, dims, param) for d in _kids(shape)) if shape is not None else ()
        try:
            return TensorType(out, DTYPES[str(dtok)])
        except DimOverflowError as e:
            raise self.err(e.message, node) from None

    def dim(self, node: Tree, dims: dict[str, SymDim], param: bool) -> Dim:
        kind, tok = node.data, node.children[0]
        if kind == "dim_any":
            return fresh_anonymous_dim()
        if kind == "dim_int":
            return int(tok)
        if kind == "dim_neg":
            raise self.err(f"dimension must be >= 0, got {self.src(node)}", node)
        if kind == "dim_float":
            raise self.err(f"bad dimension '{tok}': a dim is an integer, a name or '?'", tok)
        if kind == "dim_name":
            if param:
                return dims.setdefault(str(tok), SymDim.sym(str(tok)))
            if str(tok) not in dims:
                raise self.err(f"result dimension '{tok}' does not appear in the parameters", tok)
            return dims[str(tok)]
        if param:  # an expression: the runtime binds parameter dims from argument shapes
            raise self.err(f"bad dimension '{self.src(node)}': parameter dims are integers, names or '?' "
                           "(expressions are allowed in results)", node)
        a, op, b = node.children
        da, db = self.dim(a, dims, param), self.dim(b, dims, param)
        return dim_mul(da, db) if op == "*" else dim_add(da, db if op == "+" else dim_mul(-1, db))

    # function bodies -------------------------------------------------------
    def function(self, sig: _Sig) -> Function:
        f = Function(sig.name, sig.param_types, sig.result_types, sig.param_names, loc=self.loc(sig.name_tok))
        self.b = Builder(f.body)
        scope = _Scope(sig.name, {n: SymDim.sym(n) for n in sig.dim_names})
        scope.vars.update(zip(sig.param_names, f.args))
        values, ret_tok = self.body(sig, scope, None)
        # `?` in a declared result matches any dim, so the function's type is what was computed.
        f.result_types = [v.type for v in values]
        self.b.create("return", values, loc=self.loc(ret_tok))
        return f

    def body(self, sig: _Sig, scope: _Scope, binding: dict[str, Dim] | None) -> tuple[list[Value], Token]:
        *stmts, rbrace = _kids(sig.body)
        ret = None
        for st in stmts:
            if ret is not None:
                raise self.err("unreachable statement after 'return'", st)
            if st.data == "ret":
                ret = st
            else:
                self.nested(st, lambda st=st: self.assign(st, scope))
        if ret is None:
            raise self.err(f"function '{sig.name}' has no return statement", rbrace)
        ret_tok, *exprs = _kids(ret)
        declared = [_subst(t, binding) if binding is not None else t for t in sig.result_types]
        if len(exprs) != len(declared):
            raise self.err(f"'{sig.name}' returns {len(exprs)} value(s) but is declared to return {len(declared)}", ret_tok)
        values = []
        for e, want in zip(exprs, declared):
            v = self.nested(e, lambda e=e, want=want: self.value(e, scope, want.dtype))
            if not _matches(want, v.type):
                raise self.err(f"'{sig.name}' returns {type_str(v.type)} but is declared to return {type_str(want)}", e)
            values.append(v)
        return values, ret_tok

    def nested(self, node: Tree, elaborate: Callable[[], Any]) -> Any:
        """``elaborate()``; an expression too deep for Python's recursion is a CompileError here."""
        try:
            return elaborate()
        except RecursionError:
            raise self.err("expression is nested too deeply (split it into several statements)", node) from None

    def assign(self, st: Tree, scope: _Scope) -> None:
        targets, expr = st.children
        names = targets.children
        v = self.expr(expr, scope)
        if len(names) == 1:
            if isinstance(v, tuple):
                raise self.err(f"the call returns {len(v)} values; unpack them into {len(v)} names", expr)
            scope.vars[str(names[0])] = v
            return
        if not isinstance(v, tuple) or len(v) != len(names):
            n = len(v) if isinstance(v, tuple) else 1
            raise self.err(f"cannot unpack {n} value(s) into {len(names)} names", names[0])
        scope.vars.update((str(n), x) for n, x in zip(names, v))

    # expressions -----------------------------------------------------------
    def expr(self, node: Tree, scope: _Scope) -> Operand | tuple[Value, ...]:
        kind = node.data
        if kind == "var":
            return self.lookup(node.children[0], scope)
        if kind == "int":
            return Lit(int(node.children[0]), "int", node)
        if kind == "float":
            return Lit(float(node.children[0]), "float", node)
        if kind in ("true", "false"):
            return Lit(kind == "true", "bool", node)
        if kind == "list":
            return self.list_literal(node, scope)
        if kind == "pos":
            return self.operand(node.children[1], scope)
        if kind == "neg":
            x = self.operand(node.children[1], scope)
            if isinstance(x, Lit) and x.is_scalar and x.kind != "bool":
                return Lit(-x.value, x.kind, node)
            return self.elementwise("graph.neg", [x], node.children[0], "-")
        if kind in ("binop", "compare"):
            a, tok, b = node.children
            return self.binop(node, self.operand(a, scope), tok, self.operand(b, scope))
        if kind == "call":
            return self.call(node, scope)
        if kind == "call2":
            return self.grad_call(node, scope)
        if kind == "tuple":
            raise self.err("a tuple is only allowed as the 'wrt' of grad(f, wrt=(a, b))", node)
        raise AssertionError(kind)

    def operand(self, node: Tree, scope: _Scope) -> Operand:
        v = self.expr(node, scope)
        if isinstance(v, tuple):
            raise self.err(f"the call returns {len(v)} values where one is needed; unpack them first", node)
        return v

    def value(self, node: Tree, scope: _Scope, dtype: DType | None = None) -> Value:
        v = self.operand(node, scope)
        return self.materialize(v, dtype) if isinstance(v, Lit) else v

    def lookup(self, tok: Token, scope: _Scope) -> Operand:
        name = str(tok)
        if name in scope.vars:
            return scope.vars[name]
        hint = " (dimension names are only usable in shape attributes)" if name in scope.dims else ""
        close = difflib.get_close_matches(name, list(scope.vars), n=1)
        if close and not hint:
            hint = f"; did you mean '{close[0]}'?"
        raise self.err(f"undefined name '{name}'{hint}", tok)

    def list_literal(self, node: Tree, scope: _Scope) -> Lit:
        items = []
        for e in _kids(node)[1:]:
            v = self.operand(e, scope)
            if not isinstance(v, Lit):
                raise self.err("a list literal holds numbers only (concat takes a list of tensors)", e)
            items.append(v)
        kinds = {i.kind for i in items}
        if "bool" in kinds and len(kinds) > 1:
            raise self.err("a list literal cannot mix booleans and numbers", node)
        value = [i.value for i in items]
        try:
            np.array(value, dtype=np.float64 if "bool" not in kinds else np.bool_)
        except ValueError:
            raise self.err("ragged list literal: nested lists must have equal lengths", node) from None
        return Lit(value, "float" if "float" in kinds else kinds.pop() if kinds else "float", node)

    def materialize(self, lit: Lit, dtype: DType | None) -> Value:
        default = {"int": i64, "float": f32, "bool": i1}[lit.kind]
        dt = dtype or default
        if (lit.kind == "bool") != dt.is_bool or (lit.kind == "float" and not dt.is_float):
            raise self.err(f"dtype mismatch: {lit.kind} literal {self.src(lit.node)} used as {dt}", lit.node)
        if lit.kind == "int" and not dt.is_float:
            info = np.iinfo(dt.np_dtype)
            if any(not info.min <= x <= info.max for x in _leaves(lit.value)):
                raise self.err(f"integer literal {self.src(lit.node)} is out of range for {dt}", lit.node)
        try:
            value = np.array(lit.value, dtype=dt.np_dtype)
        except OverflowError:  # an integer literal beyond the float range
            raise self.err(f"literal {self.src(lit.node)} is out of range for {dt}", lit.node) from None
        return self.emit("graph.constant", [], {"value": value}, lit.node, "constant")

    def emit(self, opname: str, operands: list[Value], attrs: dict[str, Any], node: Node, shown: str) -> Value:
        """Create one op at ``node``'s location; IR errors are re-worded with the DSL's name."""
        loc = self.loc(node)
        try:
            return self.b.create(opname, operands, {k: v for k, v in attrs.items() if v is not None}, loc=loc).result
        except CompileError as e:
            msg = e.message.replace(f"'{opname}'", f"'{shown}'")
            if isinstance(e, ShapeMismatch):
                raise ShapeMismatch(msg, loc, e.dims) from None
            raise CompileError(msg, loc) from None

    def binop(self, node: Tree, a: Operand, tok: Token, b: Operand) -> Operand:
        op = str(tok)
        if op == "@":
            return self.matmul([a, b], {}, tok, "@")
        if isinstance(a, Lit) and isinstance(b, Lit) and a.is_scalar and b.is_scalar and "bool" not in (a.kind, b.kind):
            try:
                r = _FOLD[op](a.value, b.value)
            except (ZeroDivisionError, OverflowError) as e:
                raise self.err(f"cannot fold {self.src(node)}: {e}", tok) from None
            if isinstance(r, complex):
                raise self.err(f"cannot fold {self.src(node)}: the result is complex", tok)
            return Lit(r, "bool" if isinstance(r, bool) else "float" if isinstance(r, float) else "int", node)
        return self.elementwise(f"graph.{_BINOPS[op]}", [a, b], tok, op)

    def adapt(self, operands: list[Operand], first: int = 0) -> list[Value]:
        """Literals take the dtype of the first tensor among ``operands[first:]``."""
        ref = next((o for o in operands[first:] if isinstance(o, Value)), None)
        dtype = ref.type.dtype if ref is not None else None
        if ref is None:  # literals only: ints meeting floats become floats, as in Python
            kinds = {o.kind for o in operands[first:] if isinstance(o, Lit)}
            dtype = f32 if kinds == {"int", "float"} else None
        return [self.materialize(o, dtype if i >= first else None) if isinstance(o, Lit) else o
                for i, o in enumerate(operands)]

    def elementwise(self, opname: str, operands: list[Operand], tok: Token, shown: str,
                    attrs: dict[str, Any] | None = None) -> Value:
        vals = self.adapt(operands, first=1 if opname == "graph.where" else 0)
        if opname == "graph.div" and vals[0].type.dtype == vals[1].type.dtype and not vals[0].type.dtype.is_float:
            raise self.err(f"'/' is true division and needs float operands, got {vals[0].type.dtype}; "
                           "use floordiv(a, b) or cast to a float dtype", tok)
        vals = self.rebroadcast(vals, tok)
        r = self.emit(opname, vals, attrs or {}, tok, shown)
        # A result on the same index space as a reduced operand is still "reduced" (logsumexp).
        infos = {self.reduced[v] for v in vals if v in self.reduced and v.type.shape == r.type.shape}
        if len(infos) == 1:
            self.reduced[r] = infos.pop()
        return r

    def rebroadcast(self, vals: list[Value], tok: Token) -> list[Value]:
        """The re-broadcast rule (module docstring): only when numpy broadcasting fails."""
        try:
            shape: tuple[Dim, ...] = ()
            for v in vals:
                shape = broadcast_shapes(shape, v.type.shape, "", None)
            return vals
        except CompileError:
            pass
        out = []
        for v in vals:
            info = self.reduced.get(v)
            if info is not None and any(w.type.shape == info[1] for w in vals if w is not v):
                kept = list(v.type.shape)
                for axis in info[0]:
                    kept.insert(axis, 1)
                v = self.emit("graph.reshape", [v], {"shape": kept}, tok, "reshape")
            out.append(v)
        return out

    def matmul(self, operands: list[Operand], attrs: dict[str, Any], tok: Token, shown: str) -> Value:
        a, b = self.adapt(operands)
        ra, rb = a.type.rank, b.type.rank
        # numpy's 1-D rules: a vector operand becomes a matrix, and that axis is dropped again.
        if ra == 1 and rb >= 1:
            a = self.emit("graph.reshape", [a], {"shape": [1, a.type.shape[0]]}, tok, "reshape")
        if rb == 1 and ra >= 1:
            b = self.emit("graph.reshape", [b], {"shape": [b.type.shape[0], 1]}, tok, "reshape")
        r = self.emit("graph.matmul", [a, b], attrs, tok, shown)
        if ra == 1 or rb == 1:
            shape = list(r.type.shape)
            if rb == 1:
                shape.pop(-1)
            if ra == 1:
                shape.pop(-1 if rb == 1 else -2)
            r = self.emit("graph.reshape", [r], {"shape": shape}, tok, "reshape")
        return r

    # calls -----------------------------------------------------------------
    def call(self, node: Tree, scope: _Scope) -> Operand | tuple[Value, ...]:
        name_tok, arglist = node.children
        args = _kids(arglist)
        name = str(name_tok)
        pos: list[Tree] = []
        kw: dict[str, tuple[Token, Tree]] = {}
        for a in args:
            if a.data == "kwarg":
                key, val = a.children
                if str(key) in kw:
                    raise self.err(f"'{name}' got attribute '{key}' twice", key)
                kw[str(key)] = (key, val)
            elif kw:
                raise self.err("positional argument after keyword argument", a)
            else:
                pos.append(a)
        if name in self.funcs:
            return self.inline(self.funcs[name], name_tok, pos, kw, scope)
        bi = BUILTINS.get(name)
        if bi is None:
            if name == scope.fname:
                raise self.err(f"'{name}' cannot call itself: recursion is not supported", name_tok)
            if name in self.defined:
                raise self.err(f"'{name}' is not defined before '{scope.fname}'; only earlier functions can be called", name_tok)
            close = difflib.get_close_matches(name, list(BUILTINS) + list(self.funcs), n=1)
            raise self.err(f"unknown function '{name}'" + (f"; did you mean '{close[0]}'?" if close else ""), name_tok)
        return self.builtin(name, bi, name_tok, pos, kw, scope)

    def builtin(self, name: str, bi: Builtin, tok: Token, pos: list[Tree], kw: dict[str, tuple[Token, Tree]],
                scope: _Scope) -> Value:
        if bi.kind == "concat":
            tensor_nodes = _kids(pos[0])[1:] if len(pos) == 1 and pos[0].data == "list" else pos
            if not tensor_nodes:
                raise self.err("'concat' needs at least one tensor", tok)
            attr_pos: list[Tree] = []
        else:
            n = bi.tensors or 0
            if len(pos) < n:
                raise self.err(f"'{name}' takes {n} tensor argument(s), got {len(pos)}", tok)
            tensor_nodes, attr_pos = pos[:n], pos[n:]
            if len(attr_pos) > len(bi.positional):
                hint = f"; the elementwise {name}imum is {name}imum(a, b)" if name in ("max", "min") else ""
                raise self.err(f"'{name}' takes {n + len(bi.positional)} positional argument(s), got {len(pos)}{hint}",
                               attr_pos[len(bi.positional)])
        operands = [self.operand(t, scope) for t in tensor_nodes]
        given: dict[str, Tree] = dict(zip(bi.positional, attr_pos))
        for key, (ktok, vnode) in kw.items():
            if key not in bi.attrs:
                has = ", ".join(bi.attrs) or "none"
                raise self.err(f"'{name}' has no attribute '{key}' (it has: {has})", ktok)
            if key in given:
                raise self.err(f"'{name}' got attribute '{key}' twice", ktok)
            given[key] = vnode
        attrs: dict[str, Any] = {}
        for key, (kind, default) in bi.attrs.items():
            if key in given:
                attrs[key] = self.attr(name, key, kind, given[key], scope)
            elif default is _REQUIRED:
                raise self.err(f"'{name}' needs attribute '{key}'", tok)
            else:
                attrs[key] = default
        if bi.kind == "elementwise":
            return self.elementwise(bi.op, operands, tok, name, attrs)
        if bi.kind == "matmul":
            return self.matmul(operands, attrs, tok, name)
        if bi.kind == "fill":
            return self.fill(name, tok, given.get("value"), attrs)
        # concat's operands meet like elementwise ones; elsewhere (gather's indices) a literal keeps
        # its own default dtype.
        vals = self.adapt(operands) if bi.kind == "concat" else [
            self.materialize(o, None) if isinstance(o, Lit) else o for o in operands]
        if bi.kind == "reduce":
            axis = attrs.pop("axis")
            if bi.op.startswith("graph.reduce_"):
                attrs["axes"] = None if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
                axes = attrs["axes"]
            else:
                attrs["axis"] = axis
                axes = (axis,)
            r = self.emit(bi.op, vals, attrs, tok, name)
            rank = vals[0].type.rank
            if not attrs.get("keepdims") and rank:
                removed = tuple(sorted({a % rank for a in axes})) if axes is not None else tuple(range(rank))
                self.reduced[r] = (removed, vals[0].type.shape)
            return r
        if bi.kind == "transpose" and attrs["perm"] is None:
            attrs["perm"] = tuple(reversed(range(vals[0].type.rank)))
        return self.emit(bi.op, vals, attrs, tok, name)

    def fill(self, name: str, tok: Token, value_node: Tree | None, attrs: dict[str, Any]) -> Value:
        value = attrs.get("value")
        if name in ("zeros", "ones"):
            dt = attrs["dtype"]
            value = (bool if dt.is_bool else float if dt.is_float else int)(name == "ones")
        kind = "bool" if isinstance(value, bool) else "float" if isinstance(value, float) else "int"
        c = self.materialize(Lit(value, kind, value_node or tok), attrs["dtype"])
        shape = list(attrs["shape"])
        return self.emit("graph.broadcast_to", [c], {"shape": shape}, tok, name) if shape else c

    def attr(self, fname: str, key: str, kind: str, node: Tree, scope: _Scope) -> Any:
        v = self.static(node, scope, kind, fname, key)
        if not _fits(v, kind):
            raise self.err(f"attribute '{key}' of '{fname}' must be {_KIND_TEXT[kind]}, got {self.src(node)}", node)
        return float(v) if kind == "float" else v

    def static(self, node: Tree, scope: _Scope, kind: str, fname: str, key: str) -> Any:
        """Evaluate an attribute value at compile time."""
        d = node.data
        if d in ("int", "float", "true", "false"):
            return self.expr(node, scope).value  # type: ignore[union-attr]
        if d == "list":
            sub = {"axes": "int", "ints": "int", "dims": "dim"}.get(kind, kind)
            return [self.static(c, scope, sub, fname, key) for c in _kids(node)[1:]]
        if d in ("neg", "pos"):
            v = self.static(node.children[1], scope, kind, fname, key)
            if d == "pos":
                return v
            if isinstance(v, SymDim):
                return dim_mul(-1, v)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return -v
        if d == "binop" and str(node.children[1]) in ("+", "-", "*"):
            a, op, b = node.children
            va, vb = (self.static(x, scope, kind, fname, key) for x in (a, b))
            if all(_is_int(x) or isinstance(x, SymDim) for x in (va, vb)):
                return dim_mul(va, vb) if str(op) == "*" else dim_add(va, vb if str(op) == "+" else dim_mul(-1, vb))
        if d == "var":
            name = str(node.children[0])
            if kind == "dtype" and name not in DTYPES:
                raise self.err(f"unknown dtype '{name}' (known: {', '.join(DTYPES)})", node)
            if name in DTYPES:
                return DTYPES[name]
            if name in scope.dims:
                return scope.dims[name]
            v = scope.vars.get(name)
            if isinstance(v, Lit):
                return v.value
            if v is not None:
                raise self.err(f"attribute '{key}' of '{fname}' must be a constant, but '{name}' is a tensor", node)
            if kind in ("dims", "dim"):
                raise self.err(f"unknown dimension '{name}' (signature dims: {', '.join(scope.dims) or 'none'})", node)
            raise self.err(f"undefined name '{name}'", node)
        raise self.err(f"attribute '{key}' of '{fname}' must be a constant, got {self.src(node)}", node)

    def inline(self, sig: _Sig, tok: Token, pos: list[Tree], kw: dict[str, tuple[Token, Tree]],
               scope: _Scope, with_args: bool = False):
        if kw:
            raise self.err(f"'{sig.name}' takes no keyword arguments", next(iter(kw.values()))[0])
        if len(pos) != len(sig.param_types):
            raise self.err(f"'{sig.name}' takes {len(sig.param_types)} argument(s), got {len(pos)}", tok)
        binding: dict[str, Dim] = {}
        args = []
        for node, pname, ptype in zip(pos, sig.param_names, sig.param_types):
            v = self.value(node, scope, ptype.dtype)
            why = _bind(ptype, v.type, binding)
            if why is not None:
                raise self.err(f"argument '{pname}' of '{sig.name}' has type {type_str(v.type)} but the parameter is "
                               f"{type_str(ptype)}{why}", node)
            args.append(v)
        inner = _Scope(sig.name, dict(binding))
        inner.vars.update(zip(sig.param_names, args))
        try:
            values, _ = self.body(sig, inner, binding)
        except CompileError as e:
            msg = f"{e.message} (in '{sig.name}' inlined at {self.loc(tok)})"
            raise (ShapeMismatch(msg, e.loc, e.dims) if isinstance(e, ShapeMismatch) else CompileError(msg, e.loc)) from None
        if with_args:
            return values, args
        return values[0] if len(values) == 1 else tuple(values)
