"""``tf.app.flags`` / ``tf.flags``: TF 1.x's command-line flags (absl-style), built on argparse.

A program defines flags at import time and reads them through ``FLAGS``::

    flags = tf.app.flags
    flags.DEFINE_integer("max_steps", 2000, "Number of steps to run trainer.")
    FLAGS = flags.FLAGS
    ...
    tf.app.run()            # parses sys.argv, then calls main(argv_left_over)

Spellings accepted on the command line, as absl accepts them: ``--name=value``, ``--name value``,
``-name=value``; for booleans ``--name``, ``--noname``, ``--name=true|false|1|0|yes|no``.
``--`` ends the flags. Reading an attribute of ``FLAGS`` before anything was parsed parses
``sys.argv`` leniently (unknown arguments are left alone), which is what TF before 1.5 did;
``FLAGS(argv)`` parses explicitly and returns ``[argv[0]] + the arguments that were not flags``.
Bad values raise :class:`IllegalFlagValueError`; ``app.run`` turns any :class:`Error` into a
``FATAL Flags parsing error`` line and exit status 1.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Iterable, Optional, Sequence

__all__ = [
    "FLAGS", "FlagValues", "Error", "DuplicateFlagError", "IllegalFlagValueError", "UnrecognizedFlagError",
    "UnparsedFlagAccessError", "DEFINE_string", "DEFINE_integer", "DEFINE_float", "DEFINE_boolean",
    "DEFINE_bool", "DEFINE_enum", "DEFINE_list", "mark_flag_as_required",
]


class Error(Exception):
    """Base class of the flag errors (absl's ``flags.Error``)."""


class DuplicateFlagError(Error):
    """A flag of that name is already defined."""


class IllegalFlagValueError(Error):
    """A value on the command line (or assigned) does not parse as the flag's type."""


class UnrecognizedFlagError(Error):
    """A ``--flag`` on the command line that nobody defined (with ``known_only=False``)."""


class UnparsedFlagAccessError(Error, AttributeError):
    """Kept for code that catches it; attribute access parses ``sys.argv`` instead of raising."""


_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def _parse_bool(text: Any) -> bool:
    if isinstance(text, bool):
        return text
    s = str(text).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (use true/false)")


class _Flag:
    """One defined flag: its parser (text -> value), default, help and current value."""

    def __init__(self, name: str, default: Any, help: str, kind: str, parse: Callable[[Any], Any],
                 module: str):
        self.name, self.help, self.kind, self.parse, self.module = name, help or "", kind, parse, module
        self.default = None if default is None else self._convert(default)
        self.value = self.default
        self.present = False

    def _convert(self, value: Any) -> Any:
        try:
            return self.parse(value)
        except (TypeError, ValueError) as exc:
            raise IllegalFlagValueError(f"flag --{self.name}={value}: {exc}") from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit(2); absl raises
        raise IllegalFlagValueError(message)


class FlagValues:
    """The registry and the parsed values (``FLAGS``). Attribute access gives a flag's value."""

    def __init__(self) -> None:
        object.__setattr__(self, "_flags", {})
        object.__setattr__(self, "_parsed", False)

    # ------------------------------------------------------------------ definition
    def _define(self, name: str, default: Any, help: str, kind: str, parse: Callable[[Any], Any]) -> None:
        if not isinstance(name, str) or not name or name.startswith("-") or "=" in name:
            raise Error(f"invalid flag name {name!r}")
        if name in self._flags:
            raise DuplicateFlagError(
                f"The flag '{name}' is defined twice (first in {self._flags[name].module}).")
        module = sys._getframe(2).f_globals.get("__name__", "?") if hasattr(sys, "_getframe") else "?"
        self._flags[name] = _Flag(name, default, help, kind, parse, module)

    # ------------------------------------------------------------------ parsing
    def _normalize(self, args: Sequence[str]) -> list[str]:
        """absl spellings -> argparse ones: ``-name=v`` -> ``--name=v``; bare booleans get ``=true``/``=false``."""
        out: list[str] = []
        for i, a in enumerate(args):
            if a == "--":
                out.extend(args[i:])
                break
            if a.startswith("-") and not a.startswith("--") and len(a) > 2 and a[1:].split("=", 1)[0] in self._known():
                a = "-" + a
            if a.startswith("--"):
                name, eq, _ = a[2:].partition("=")
                flag = self._flags.get(name)
                if flag is not None and flag.kind == "bool" and not eq:
                    a = f"--{name}=true"
                elif not eq and name.startswith("no") and name[2:] in self._flags and self._flags[name[2:]].kind == "bool":
                    a = f"--{name[2:]}=false"
            out.append(a)
        return out

    def _known(self) -> set[str]:
        names = set(self._flags)
        names.update("no" + n for n, f in self._flags.items() if f.kind == "bool")
        return names

    def _parser(self, prog: str) -> _Parser:
        p = _Parser(prog=prog, allow_abbrev=False, add_help=False,
                    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.add_argument("-h", "--help", "--helpshort", "--helpfull", action="help", help="show this help and exit")
        for f in sorted(self._flags.values(), key=lambda f: f.name):
            metavar = {"bool": "BOOL", "int": "INT", "float": "FLOAT"}.get(f.kind, f.kind.upper())
            p.add_argument(f"--{f.name}", dest=f.name, default=argparse.SUPPRESS, metavar=metavar,
                           help=f"{f.help} (default: {f.default!r})")
        return p

    def __call__(self, argv: Sequence[str], known_only: bool = False) -> list[str]:
        """Parse ``argv`` (``argv[0]`` is the program); returns ``[argv[0]] + non-flag arguments``."""
        if isinstance(argv, str) or not isinstance(argv, Iterable):
            raise TypeError("FLAGS(argv) takes a sequence of strings, argv[0] being the program name")
        argv = [str(a) for a in argv]
        if not argv:
            raise ValueError("FLAGS(argv) needs argv[0], the program name")
        prog, rest = argv[0], self._normalize(argv[1:])
        namespace, unknown = self._parser(prog).parse_known_args(rest)
        if not known_only:
            head = unknown[:unknown.index("--")] if "--" in unknown else unknown
            bad = [u for u in head if u.startswith("-") and u != "-"]
            if bad:
                name = bad[0].lstrip("-").split("=", 1)[0]
                raise UnrecognizedFlagError(f"Unknown command line flag '{name}'")
        for name, text in vars(namespace).items():
            flag = self._flags[name]
            flag.value = flag._convert(text)
            flag.present = True
        if "--" in unknown and not known_only:
            unknown.remove("--")
        object.__setattr__(self, "_parsed", True)
        return [prog] + unknown

    def _parse_flags(self, args: Optional[Sequence[str]] = None) -> list[str]:
        """TF < 1.5's spelling: parse ``args`` (default ``sys.argv[1:]``) leniently."""
        argv = [sys.argv[0] if sys.argv else "program"] + list(sys.argv[1:] if args is None else args)
        return self(argv, known_only=True)

    def is_parsed(self) -> bool:
        return self._parsed

    def mark_as_parsed(self) -> None:
        object.__setattr__(self, "_parsed", True)

    def unparse_flags(self) -> None:
        """Back to the defaults, as if nothing had been parsed."""
        for f in self._flags.values():
            f.value, f.present = f.default, False
        object.__setattr__(self, "_parsed", False)

    def _ensure_parsed(self) -> None:
        if not self._parsed:
            self(sys.argv if sys.argv and sys.argv[0] else ["program"], known_only=True)

    # ------------------------------------------------------------------ values
    def __getattr__(self, name: str) -> Any:
        flags = object.__getattribute__(self, "_flags")
        if name == "__flags":  # TF < 1.5 code reads FLAGS.__flags as {name: value}
            self._ensure_parsed()
            return {n: f.value for n, f in flags.items()}
        if name not in flags:
            raise AttributeError(name)
        self._ensure_parsed()
        return flags[name].value

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._flags:
            raise AttributeError(f"no flag named '{name}'; define it first (DEFINE_*)")
        flag = self._flags[name]
        flag.value = None if value is None else flag._convert(value)
        flag.present = True

    def __delattr__(self, name: str) -> None:
        if name not in self._flags:
            raise AttributeError(name)
        del self._flags[name]

    def __contains__(self, name: object) -> bool:
        return name in self._flags

    def __iter__(self):
        return iter(list(self._flags))

    def __len__(self) -> int:
        return len(self._flags)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._flags))

    def __getitem__(self, name: str) -> _Flag:
        return self._flags[name]

    def flag_values_dict(self) -> dict[str, Any]:
        self._ensure_parsed()
        return {n: f.value for n, f in self._flags.items()}

    def get_flag_value(self, name: str, default: Any) -> Any:
        return self._flags[name].value if name in self._flags else default

    def __repr__(self) -> str:
        return f"FlagValues({', '.join(f'{n}={f.value!r}' for n, f in self._flags.items())})"


FLAGS = FlagValues()


def _int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError(f"{v!r} is not an integer")
        return int(v)
    return int(str(v), 0) if isinstance(v, str) and v.strip().lower().startswith(("0x", "0o", "0b")) else int(v)


def _float(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError("expected a number, got a boolean")
    return float(v)


def _list(v: Any) -> list[str]:
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    return [s.strip() for s in str(v).split(",") if s.strip()]


def DEFINE_string(name: str, default: Optional[str], help: str, flag_values: FlagValues = FLAGS, **_: Any) -> None:
    flag_values._define(name, default, help, "string", str)


def DEFINE_integer(name: str, default: Optional[int], help: str, lower_bound: Optional[int] = None,
                   upper_bound: Optional[int] = None, flag_values: FlagValues = FLAGS, **_: Any) -> None:
    def parse(v: Any) -> int:
        n = _int(v)
        if (lower_bound is not None and n < lower_bound) or (upper_bound is not None and n > upper_bound):
            raise ValueError(f"{n} is outside [{lower_bound}, {upper_bound}]")
        return n
    flag_values._define(name, default, help, "int", parse)


def DEFINE_float(name: str, default: Optional[float], help: str, lower_bound: Optional[float] = None,
                 upper_bound: Optional[float] = None, flag_values: FlagValues = FLAGS, **_: Any) -> None:
    def parse(v: Any) -> float:
        x = _float(v)
        if (lower_bound is not None and x < lower_bound) or (upper_bound is not None and x > upper_bound):
            raise ValueError(f"{x} is outside [{lower_bound}, {upper_bound}]")
        return x
    flag_values._define(name, default, help, "float", parse)


def DEFINE_boolean(name: str, default: Optional[bool], help: str, flag_values: FlagValues = FLAGS, **_: Any) -> None:
    flag_values._define(name, default, help, "bool", _parse_bool)


DEFINE_bool = DEFINE_boolean


def DEFINE_enum(name: str, default: Optional[str], enum_values: Sequence[str], help: str,
                flag_values: FlagValues = FLAGS, **_: Any) -> None:
    allowed = [str(e) for e in enum_values]

    def parse(v: Any) -> str:
        if str(v) not in allowed:
            raise ValueError(f"value should be one of <{'|'.join(allowed)}>")
        return str(v)
    flag_values._define(name, default, help, "enum", parse)


def DEFINE_list(name: str, default: Any, help: str, flag_values: FlagValues = FLAGS, **_: Any) -> None:
    flag_values._define(name, default, help, "list", _list)


def mark_flag_as_required(name: str, flag_values: FlagValues = FLAGS) -> None:
    """Recorded for ``app.run``: it fails when the flag is still ``None`` after parsing."""
    _required.append((name, flag_values))


_required: list[tuple[str, FlagValues]] = []


def check_required() -> None:
    for name, fv in _required:
        if name in fv and fv[name].value is None:
            raise IllegalFlagValueError(f"flag --{name} must have a value other than None")
