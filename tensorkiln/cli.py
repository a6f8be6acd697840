"""The ``tensorkiln`` command line: ``dump`` prints any stage of a DSL or IR file.

``tensorkiln dump FILE [--entry NAME] --emit {graph,optimized,loops,llvm,llvm-opt,asm}
[--print-after-all]`` — FILE is DSL (``.tk``) or IR text (``.tkir``). ``--print-after-all`` prints
the IR after every pass, each headed by the pass name. Compile errors print with file, line, column
and a caret, and exit with status 1.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .compiler.pipeline import STAGES
from .ir.diagnostics import CompileError
from .ir.printer import print_module


def _dump(args: argparse.Namespace) -> int:
    from . import parse
    from .runtime.compiled_module import compile_graph_module

    module, name = parse(open(args.file).read(), args.file)
    if args.entry and args.entry not in module.functions:
        print(f"error: no function '{args.entry}' in {args.file} (has: {', '.join(module.functions)})", file=sys.stderr)
        return 2

    hook = None
    if args.print_after_all:
        def hook(pass_name: str, m) -> None:
            print(f"// ----- IR after {pass_name} -----")
            funcs = [m[args.entry]] if args.entry and args.entry in m.functions else list(m)
            from .ir.printer import print_function

            print("\n".join(print_function(f) for f in funcs))

        print("// ----- IR after front end -----")
        print(print_module(module) if not args.entry else print_module(type(module)([module[args.entry]])))

    compiled = compile_graph_module(module, name, after_pass=hook)
    entries = [args.entry] if args.entry else compiled.entries
    if not args.print_after_all or args.emit != "graph":
        for e in entries:
            sys.stdout.write(compiled.ir(e, args.emit))
            if len(entries) > 1:
                sys.stdout.write("\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tensorkiln", description="tensorkiln compiler driver")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="print a stage of the compilation of a DSL (.tk) or IR (.tkir) file")
    d.add_argument("file")
    d.add_argument("--entry", help="only this function")
    d.add_argument("--emit", choices=STAGES, default="graph", help="which stage to print")
    d.add_argument("--print-after-all", action="store_true", help="print the IR after every pass")
    d.set_defaults(func=_dump)
    from .aot_cli import add_parser as add_compile_parser

    add_compile_parser(sub)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except CompileError as e:
        print(str(e), file=sys.stderr)
        return 1
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
