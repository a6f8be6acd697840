"""``tf.app``: ``run(main=None, argv=None)`` and ``flags`` (see :mod:`tensorkiln.compat.flags`).

``run`` parses the flags in ``argv`` (default ``sys.argv``) leniently, as TF 1.x's ``tf.app.run``
does (arguments that are not defined flags are passed on), calls ``main(remaining_argv)`` — the
``main`` of the ``__main__`` module when none is given — and exits with its return value. A bad flag
value prints ``FATAL Flags parsing error: …`` to stderr and exits with status 1.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Optional, Sequence

from . import flags

__all__ = ["run", "flags"]


def run(main: Optional[Callable[[list[str]], Any]] = None, argv: Optional[Sequence[str]] = None) -> None:
    """Parse flags, run ``main(argv)`` and ``sys.exit`` with its result."""
    args = list(sys.argv if argv is None else argv) or ["program"]
    try:
        remaining = flags.FLAGS(args, known_only=True)
        flags.check_required()
    except flags.Error as exc:
        sys.stderr.write(f"FATAL Flags parsing error: {exc}\n"
                         "Pass --helpshort or --helpfull to see help on flags.\n")
        sys.exit(1)
    if main is None:
        main = getattr(sys.modules["__main__"], "main", None)
        if main is None:
            raise ValueError("tf.app.run() found no main(): pass main=… or define main in __main__")
    sys.exit(main(remaining))
