"""``tensorkiln compile``: a DSL (``.tk``) or IR (``.tkir``) file → ``DIR/LIB.so`` + ``DIR/LIB.h``.

``tensorkiln compile FILE -o DIR [--entry NAME ...] [--name LIB] [--target TRIPLE] [--cpu NAME]``
writes one C function per entry (default: every function in FILE) into ``DIR/LIB.so`` (default LIB:
the file's stem), declares them in ``DIR/LIB.h`` and leaves the object file ``DIR/LIB.o`` beside
them. ``--target`` cross-compiles; without a cross linker only the object and header are written.
``--cpu`` picks the CPU to tune for (default: this machine's; ``x86-64-v2`` or ``generic`` for a
portable library). The CLI module hooks :func:`add_parser` in; ``python -m tensorkiln.aot_cli``
runs the subcommand alone.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Sequence


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the ``compile`` subcommand to ``tensorkiln``'s sub-parsers."""
    p = subparsers.add_parser("compile", help="compile a DSL (.tk) or IR (.tkir) file to a shared object and C header",
                              description="Write DIR/LIB.so (one C function per entry), DIR/LIB.h and DIR/LIB.o.")
    p.add_argument("file", help="a .tk or .tkir file")
    p.add_argument("-o", "--output-dir", required=True, help="directory for LIB.so, LIB.h and LIB.o")
    p.add_argument("--entry", action="append", default=None, metavar="NAME", help="export this function (repeatable; default: all)")
    p.add_argument("--name", help="library name (default: the file's stem)")
    p.add_argument("--target", metavar="TRIPLE", help="target triple, e.g. aarch64-unknown-linux-gnu (default: this machine)")
    p.add_argument("--cpu", metavar="NAME", help="CPU to tune for (default: this machine's CPU for a native build)")
    p.add_argument("--features", metavar="LIST", help="LLVM target features with --cpu, e.g. +avx2,+fma")
    p.add_argument("--threads", type=int, metavar="N", help="cap on the threads of parallel loops in the library")
    p.set_defaults(func=run_compile)
    return p


def default_library_name(file: str) -> str:
    stem = re.sub(r"\W", "_", Path(file).stem) or "model"
    return "_" + stem if stem[0].isdigit() else stem


def run_compile(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit status (0 ok, 1 compile error, 2 usage/build error)."""
    from . import parse
    from .aot import build
    from .backends.llvm.aot_build import AotError
    from .ir.diagnostics import CompileError

    try:
        text = Path(args.file).read_text()
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    name = args.name or default_library_name(args.file)
    try:
        module, _ = parse(text, args.file)
        r = build(module, args.output_dir, name, args.entry, args.target, args.cpu, features=args.features, threads=args.threads)
    except CompileError as e:
        print(str(e), file=sys.stderr)
        return 1
    except AotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if r.library is not None:
        print(f"wrote {r.library} and {r.header} ({', '.join(s.name for s in r.entries)}; {r.triple}, cpu {r.cpu})")
    else:
        print(f"wrote {r.object} and {r.header} ({r.triple}); no linker for {r.triple} was found, so link the "
              f"object yourself: {r.triple.split('-')[0]}-linux-gnu-gcc -shared -o {name}.so {r.object.name}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tensorkiln")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["compile", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
