"""Child process of the malformed-program corpus: compile each named case (paths relative to the
working directory), printing ``START name`` before and ``RESULT {json}`` after each, flushed, so the
parent can name the case if this process crashes. A watchdog (faulthandler, which runs without the
GIL) ends the process if one case takes longer than ``TENSORKILN_CORPUS_CASE_TIMEOUT`` seconds.

``TENSORKILN_CORPUS_INJECT=name=segfault,name=hang`` makes those cases misbehave on purpose, so the
tests can show that the harness catches and names a crash and a hang.
"""
from __future__ import annotations

import ctypes
import faulthandler
import json
import os
import sys
import time

from malformed_corpus import outcome


def main(names: list[str]) -> None:
    faulthandler.enable()  # a segfault prints the Python stack to stderr for the report
    timeout = float(os.environ.get("TENSORKILN_CORPUS_CASE_TIMEOUT", "60"))
    inject = dict(item.split("=", 1) for item in os.environ.get("TENSORKILN_CORPUS_INJECT", "").split(",") if item)
    import tensorkiln  # noqa: F401  (imported before the first watchdog is armed)

    for name in names:
        print("START " + name, flush=True)
        faulthandler.dump_traceback_later(timeout, exit=True)
        if inject.get(name) == "segfault":
            ctypes.string_at(0)
        elif inject.get(name) == "hang":
            time.sleep(10 * timeout)
        result = outcome(name)
        faulthandler.cancel_dump_traceback_later()
        print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
