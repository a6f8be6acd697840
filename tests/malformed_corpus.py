"""The malformed-program corpus (``tests/corpus/malformed``): DSL (``dsl/*.tk``) and IR (``ir/*.tkir``)
files that must each fail to compile with a documented CompileError, listed in ``expected.json``
as ``{path: {error, message, line, column}}`` (``message`` is a substring of the error's message).

:func:`problems` checks one outcome against its expectation (class, message, file, line, column,
and the rendered text: ``file:line:col: error: …``, the source line, a caret under the column).
:func:`run_in_subprocesses` compiles cases in a child process (``corpus/run_malformed.py``), so a
crash or a hang is caught and named: the child prints ``START name`` before each case, and when it
dies (or its per-case watchdog fires) the last started case is re-run alone to confirm, and the
rest go on in a fresh child.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).parent / "corpus" / "malformed"
RUNNER = Path(__file__).parent / "corpus" / "run_malformed.py"


def expectations() -> dict[str, dict[str, Any]]:
    return json.loads((CORPUS / "expected.json").read_text())


def source_of(name: str) -> str:
    with open(CORPUS / name, newline="") as f:
        return f.read()


def caret_line(source_line: str, column: int) -> str:
    """A caret under ``column`` (1-based), keeping tabs so it lines up in a terminal."""
    return "".join(c if c == "\t" else " " for c in source_line[:column - 1]) + "^"


def problems(name: str, want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """What is wrong with outcome ``got`` (as :func:`outcome` reports it) for case ``name``."""
    if got.get("outcome") != "error":
        return [f"expected {want['error']}, got {got.get('outcome')}: {got.get('detail', '')}"]
    out = []
    if got["class"] != want["error"] or not got["is_compile_error"]:
        out.append(f"error class {got['class']} (a CompileError: {got['is_compile_error']}), expected {want['error']}")
    if want["message"] not in got["message"]:
        out.append(f"message {got['message']!r} lacks {want['message']!r}")
    where = (got["file"], got["line"], got["column"])
    if where != (name, want["line"], want["column"]):
        out.append(f"location {where}, expected {(name, want['line'], want['column'])}")
    src_line = source_of(name).split("\n")[want["line"] - 1].rstrip("\r")
    rendered = got["text"].split("\n")
    expect = [rendered[0], src_line, caret_line(src_line, want["column"])]
    if not rendered[0].startswith(f"{name}:{want['line']}:{want['column']}: error: ") or rendered != expect:
        out.append(f"rendered {rendered!r}, expected the header, {src_line!r} and a caret at column {want['column']}")
    return out


def outcome(name: str) -> dict[str, Any]:
    """Compile one case in this process; what happened, as plain data."""
    import tensorkiln as tk

    try:
        tk.compile(name)
    except Exception as e:  # everything is reported; only CompileErrors pass
        return {"name": name, "outcome": "error", "class": type(e).__name__,
                "is_compile_error": isinstance(e, tk.CompileError), "message": getattr(e, "message", str(e)),
                "file": getattr(e, "file", None), "line": getattr(e, "line", None),
                "column": getattr(e, "column", None), "text": str(e)}
    return {"name": name, "outcome": "compiled", "detail": "no error"}


def _run_child(names: list[str], case_timeout: float, env: dict[str, str] | None) -> tuple[dict, str | None, str]:
    """Run ``names`` in one child. Returns (outcomes, the case it died in or None, why it died)."""
    child_env = dict(os.environ if env is None else env, TENSORKILN_CORPUS_CASE_TIMEOUT=str(case_timeout))
    child_env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), child_env.get("PYTHONPATH", "")])
    try:
        r = subprocess.run([sys.executable, str(RUNNER), *names], cwd=CORPUS, capture_output=True, text=True,
                           env=child_env, timeout=case_timeout * 2 + 60 + 2 * len(names))
        stdout, stderr, rc = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:  # the watchdog should fire first; this is the backstop
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        stderr, rc = "", "timeout"
    results, started = {}, None
    for line in stdout.splitlines():
        if line.startswith("START "):
            started = line[6:]
        elif line.startswith("RESULT "):
            rec = json.loads(line[7:])
            results[rec["name"]] = rec
            started = None
    if rc == 0 and started is None:
        return results, None, ""
    why = f"exit {rc}" + (f"; stderr: {stderr.strip()[-1500:]}" if stderr.strip() else "")
    return results, started or "<startup>", why


def run_in_subprocesses(names: list[str], case_timeout: float = 60.0,
                        env: dict[str, str] | None = None) -> tuple[dict[str, dict], dict[str, str]]:
    """Outcomes of ``names`` computed in child processes, and the cases that crashed or hung
    (``{name: description}``), each confirmed by running it alone."""
    results: dict[str, dict] = {}
    crashed: dict[str, str] = {}
    remaining = list(names)
    while remaining:
        got, died_in, why = _run_child(remaining, case_timeout, env)
        results.update(got)
        if died_in is None:
            break
        if died_in == "<startup>":
            crashed[died_in] = why
            break
        alone, again, why_alone = _run_child([died_in], case_timeout, env)
        confirmed = "confirmed alone" if again == died_in else f"passed alone ({alone.get(died_in, {}).get('outcome')})"
        crashed[died_in] = f"{why} [{confirmed}{': ' + why_alone if again else ''}]"
        remaining = [n for n in remaining if n not in results and n not in crashed]
    return results, crashed
