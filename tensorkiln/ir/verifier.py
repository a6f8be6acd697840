"""The IR verifier: structural and type invariants every stage must satisfy.

Checks, per function: every op is registered, has the right operand and region counts and valid
attributes; results re-infer to the types they carry; every operand is defined before its use in an
enclosing scope (structured regions, so text order is dominance); blocks of region ops end with the
right terminator; the function ends with ``return`` whose operand types match the declared results.
Raises :class:`CompileError` at the offending op.
"""
from __future__ import annotations

from .core import Block, Function, Module, Operation, Value
from .diagnostics import CompileError
from .opdef import lookup

_TERMINATORS = {"graph.fused": "graph.yield", "loops.for": "loops.yield"}


def verify_module(m: Module) -> None:
    for f in m:
        verify_function(f)


def verify_function(f: Function) -> None:
    scope: list[set[int]] = [{id(a) for a in f.args}]
    _verify_block(f.body, scope, f"@{f.name}")
    term = f.body.terminator
    if term is None or term.name != "return":
        raise CompileError(f"function @{f.name} does not end with 'return'", f.loc)
    got = [v.type for v in term.operands]
    if got != list(f.result_types):
        raise CompileError(
            f"@{f.name} returns ({', '.join(map(str, got))}) but declares ({', '.join(map(str, f.result_types))})",
            term.loc)


def _verify_block(block: Block, scope: list[set[int]], where: str) -> None:
    for i, op in enumerate(block.ops):
        if op.parent is not block:
            raise CompileError(f"{where}: '{op.name}' has a stale parent link", op.loc)
        if op.name in ("return", "graph.yield", "loops.yield") and i != len(block.ops) - 1:
            raise CompileError(f"{where}: terminator '{op.name}' is not last in its block", op.loc)
        _verify_op(op, scope, where)
        scope[-1].update(id(r) for r in op.results)


def _defined(v: Value, scope: list[set[int]]) -> bool:
    return any(id(v) in s for s in scope)


def _verify_op(op: Operation, scope: list[set[int]], where: str) -> None:
    d = lookup(op.name, op.loc)
    d.check_operand_count(len(op.operands), op.loc)
    for idx, v in enumerate(op.operands):
        if not _defined(v, scope):
            raise CompileError(f"{where}: operand #{idx} of '{op.name}' is used before it is defined", op.loc)
        if (op, idx) not in v.uses:
            raise CompileError(f"{where}: use-list of operand #{idx} of '{op.name}' is inconsistent", op.loc)
    attrs = d.complete_attributes(dict(op.attributes), op.loc)
    if set(attrs) != set(op.attributes):
        raise CompileError(f"{where}: '{op.name}' attributes are not normalised", op.loc)
    if d.can_infer():
        want = d.infer([v.type for v in op.operands], attrs, op.loc)
        got = [r.type for r in op.results]
        if want != got:
            raise CompileError(
                f"{where}: '{op.name}' result types ({', '.join(map(str, got))}) differ from inferred ({', '.join(map(str, want))})",
                op.loc)
    if len(op.regions) != d.num_regions:
        raise CompileError(f"{where}: '{op.name}' needs {d.num_regions} region(s), has {len(op.regions)}", op.loc)
    for region in op.regions:
        for block in region.blocks:
            scope.append({id(a) for a in block.args})
            _verify_block(block, scope, where)
            scope.pop()
            term = block.terminator
            want_term = _TERMINATORS.get(op.name)
            if want_term and (term is None or term.name != want_term):
                raise CompileError(f"{where}: region of '{op.name}' must end with '{want_term}'", op.loc)
    if op.name == "graph.fused":
        body = op.regions[0].blocks[0]
        if [a.type for a in body.args] != [v.type for v in op.operands]:
            raise CompileError(f"{where}: 'graph.fused' block arguments do not match its operands", op.loc)
        if [v.type for v in body.terminator.operands] != [r.type for r in op.results]:
            raise CompileError(f"{where}: 'graph.fused' yields types that differ from its results", op.loc)
    if op.name == "loops.for":
        body = op.regions[0].blocks[0]
        carried = [v.type for v in op.operands[2:]]
        from .types import INDEX

        if [a.type for a in body.args] != [INDEX] + carried:
            raise CompileError(f"{where}: 'loops.for' block arguments must be (index, carried...)", op.loc)
        if [v.type for v in body.terminator.operands] != carried:
            raise CompileError(f"{where}: 'loops.for' yields types that differ from its carried values", op.loc)
