"""The SSA data structures: Value, Operation, Block, Region, Function, Module, and a Builder.

Values keep use-lists so passes can replace all uses in O(uses). An Operation is generic (name,
operands, results, attributes, regions, location); what an op *means* — its operands, attributes,
type inference and verification — is declared by an :class:`~tensorkiln.ir.opdef.OpDef` looked up by
name in the dialect registry. Functions are the unit the compiler compiles: named arguments (block
arguments of the entry block) and declared result types.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence

from .diagnostics import CompileError, Location
from .types import DimOverflowError, Type


class Value:
    __slots__ = ("type", "uses", "name_hint")

    def __init__(self, type: Type, name_hint: str | None = None):
        self.type = type
        self.uses: list[tuple["Operation", int]] = []
        self.name_hint = name_hint

    def replace_all_uses_with(self, new: "Value") -> None:
        if new is self:
            return
        for op, idx in list(self.uses):
            op.set_operand(idx, new)

    @property
    def has_uses(self) -> bool:
        return bool(self.uses)


class OpResult(Value):
    __slots__ = ("op", "index")

    def __init__(self, type: Type, op: "Operation", index: int):
        super().__init__(type)
        self.op = op
        self.index = index

    @property
    def owner(self) -> "Operation":
        return self.op

    def __repr__(self) -> str:
        return f"<OpResult {self.op.name}#{self.index} : {self.type}>"


class BlockArgument(Value):
    __slots__ = ("block", "index")

    def __init__(self, type: Type, block: "Block", index: int, name_hint: str | None = None):
        super().__init__(type, name_hint)
        self.block = block
        self.index = index

    @property
    def owner(self) -> "Block":
        return self.block

    def __repr__(self) -> str:
        return f"<BlockArgument {self.name_hint or self.index} : {self.type}>"


class Operation:
    def __init__(
        self,
        name: str,
        operands: Sequence[Value] = (),
        result_types: Sequence[Type] = (),
        attributes: dict[str, Any] | None = None,
        regions: Sequence["Region"] = (),
        loc: Location | None = None,
    ):
        self.name = name
        self._operands: list[Value] = []
        for v in operands:
            self._append_operand(v)
        self.results = [OpResult(t, self, i) for i, t in enumerate(result_types)]
        self.attributes: dict[str, Any] = dict(attributes or {})
        self.regions: list[Region] = []
        for r in regions:
            self.add_region(r)
        self.loc = loc
        self.parent: Block | None = None

    # operands ---------------------------------------------------------------
    @property
    def operands(self) -> tuple[Value, ...]:
        return tuple(self._operands)

    def _append_operand(self, v: Value) -> None:
        if not isinstance(v, Value):
            raise TypeError(f"operand of {self.name} must be a Value, got {type(v).__name__}")
        v.uses.append((self, len(self._operands)))
        self._operands.append(v)

    def set_operand(self, idx: int, new: Value) -> None:
        old = self._operands[idx]
        old.uses.remove((self, idx))
        self._operands[idx] = new
        new.uses.append((self, idx))

    def drop_operands(self) -> None:
        for i, v in enumerate(self._operands):
            v.uses.remove((self, i))
        self._operands = []

    # structure ------------------------------------------------------------
    def add_region(self, region: "Region") -> "Region":
        region.parent = self
        self.regions.append(region)
        return region

    @property
    def result(self) -> OpResult:
        assert len(self.results) == 1, f"{self.name} has {len(self.results)} results"
        return self.results[0]

    def erase(self) -> None:
        """Remove from the parent block; the results must be unused."""
        for r in self.results:
            assert not r.uses, f"erasing {self.name} whose result is still used"
        for region in self.regions:
            for block in region.blocks:
                for op in list(reversed(block.ops)):
                    op.drop_all_references()
        self.drop_operands()
        if self.parent is not None:
            self.parent.ops.remove(self)
            self.parent = None

    def drop_all_references(self) -> None:
        for region in self.regions:
            for block in region.blocks:
                for op in block.ops:
                    op.drop_all_references()
        self.drop_operands()

    def walk(self) -> Iterator["Operation"]:
        """Pre-order walk of this op and everything nested in its regions."""
        yield self
        for region in self.regions:
            for block in region.blocks:
                for op in list(block.ops):
                    yield from op.walk()

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attributes.get(key, default)

    def __repr__(self) -> str:
        return f"<Operation {self.name}>"


class Block:
    def __init__(self, arg_types: Sequence[Type] = (), arg_names: Sequence[str | None] | None = None):
        names = list(arg_names) if arg_names is not None else [None] * len(arg_types)
        self.args: list[BlockArgument] = [BlockArgument(t, self, i, n) for i, (t, n) in enumerate(zip(arg_types, names))]
        self.ops: list[Operation] = []
        self.parent: Region | None = None

    def add_arg(self, type: Type, name: str | None = None) -> BlockArgument:
        a = BlockArgument(type, self, len(self.args), name)
        self.args.append(a)
        return a

    def append(self, op: Operation) -> Operation:
        op.parent = self
        self.ops.append(op)
        return op

    def insert(self, index: int, op: Operation) -> Operation:
        op.parent = self
        self.ops.insert(index, op)
        return op

    def insert_before(self, anchor: Operation, op: Operation) -> Operation:
        return self.insert(self.ops.index(anchor), op)

    @property
    def terminator(self) -> Operation | None:
        return self.ops[-1] if self.ops else None


class Region:
    def __init__(self, blocks: Iterable[Block] = ()):
        self.blocks: list[Block] = []
        self.parent: Operation | None = None
        for b in blocks:
            self.add_block(b)

    def add_block(self, block: Block) -> Block:
        block.parent = self
        self.blocks.append(block)
        return block

    @property
    def block(self) -> Block:
        return self.blocks[0]


class Function:
    """A named function: the entry block's arguments are its parameters."""

    def __init__(
        self,
        name: str,
        arg_types: Sequence[Type],
        result_types: Sequence[Type],
        arg_names: Sequence[str | None] | None = None,
        loc: Location | None = None,
    ):
        self.name = name
        self.body = Block(arg_types, arg_names)
        self.result_types: list[Type] = list(result_types)
        self.loc = loc
        self.attributes: dict[str, Any] = {}

    @property
    def args(self) -> list[BlockArgument]:
        return self.body.args

    @property
    def arg_types(self) -> list[Type]:
        return [a.type for a in self.body.args]

    @property
    def return_op(self) -> Operation:
        t = self.body.terminator
        assert t is not None and t.name == "return", f"function @{self.name} has no return"
        return t

    def walk(self) -> Iterator[Operation]:
        for op in list(self.body.ops):
            yield from op.walk()


class Module:
    def __init__(self, functions: Iterable[Function] = ()):
        self.functions: dict[str, Function] = {}
        for f in functions:
            self.add(f)

    def add(self, f: Function) -> Function:
        self.functions[f.name] = f
        return f

    def __iter__(self) -> Iterator[Function]:
        return iter(self.functions.values())

    def __getitem__(self, name: str) -> Function:
        return self.functions[name]


class Builder:
    """Creates ops at an insertion point, inferring result types from the op's definition."""

    def __init__(self, block: Block | None = None, index: int | None = None):
        self.block = block
        self.index = index  # None: append at the end
        self.loc: Location | None = None

    def set_insertion_point_to_end(self, block: Block) -> None:
        self.block, self.index = block, None

    def set_insertion_point_before(self, op: Operation) -> None:
        assert op.parent is not None
        self.block, self.index = op.parent, op.parent.ops.index(op)

    def insert(self, op: Operation) -> Operation:
        assert self.block is not None, "builder has no insertion point"
        if self.index is None:
            self.block.append(op)
        else:
            self.block.insert(self.index, op)
            self.index += 1
        return op

    def create(
        self,
        name: str,
        operands: Sequence[Value] = (),
        attributes: dict[str, Any] | None = None,
        result_types: Sequence[Type] | None = None,
        regions: Sequence[Region] = (),
        loc: Location | None = None,
    ) -> Operation:
        from .opdef import lookup

        opdef = lookup(name, loc or self.loc)
        opdef.check_operand_count(len(operands), loc or self.loc)
        attrs = opdef.complete_attributes(dict(attributes or {}), loc or self.loc)
        if result_types is None:
            try:
                result_types = opdef.infer([v.type for v in operands], attrs, loc or self.loc)
            except DimOverflowError as e:  # the result type has no location: give it the op's
                raise CompileError(e.message, loc or self.loc) from None
        op = Operation(name, operands, result_types, attrs, regions, loc or self.loc)
        return self.insert(op)

    def op(self, name: str, *operands: Value, **attributes: Any) -> OpResult:
        """Single-result shorthand: ``b.op("graph.add", x, y)``."""
        return self.create(name, operands, attributes).result
