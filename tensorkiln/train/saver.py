"""``tk.train.Saver``, the ``checkpoint`` state file and checkpoint readers.

``Saver(var_list)`` builds, at construction, the restore ops of its variables (under the ``save``
name scope: one placeholder and one ``Assign`` per variable, grouped as ``save/restore_all``), so a
restore is one ``Session.run`` (one compiled signature, one native call). ``save`` fetches the
variables' values in one run and writes one file, ``<path>.tkckpt`` (format and atomic write in
:mod:`.checkpoint_io`), then records it in the directory's ``checkpoint`` state file (TF's text
format: ``model_checkpoint_path: "model.ckpt-10"`` plus one ``all_model_checkpoint_paths`` line per
kept checkpoint; written atomically too), then deletes checkpoints beyond ``max_to_keep``.
``restore`` reads and verifies every array before assigning any, so a corrupt file
(``DataLossError``), a missing variable (``NotFoundError``) or a wrong shape
(``InvalidArgumentError``) leaves the Session's variables untouched.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .. import errors
from ..framework.array_ops import placeholder
from ..framework.control_flow_ops import group, no_op
from ..framework.graph import get_default_graph, name_scope
from ..framework.state_ops import assign
from ..framework.variables import Variable, global_variables
from . import checkpoint_io

STATE_FILE = "checkpoint"


# --------------------------------------------------------------------------- the state file


@dataclass
class CheckpointState:
    """TF's ``CheckpointState``: the latest checkpoint and all those kept, oldest first."""

    model_checkpoint_path: str = ""
    all_model_checkpoint_paths: list[str] = field(default_factory=list)
    all_model_checkpoint_timestamps: list[float] = field(default_factory=list)


_LINE = re.compile(r'^\s*(model_checkpoint_path|all_model_checkpoint_paths|all_model_checkpoint_timestamps|'
                   r'last_preserved_timestamp)\s*:\s*(.+?)\s*$')


def _state_text(state: CheckpointState) -> str:
    lines = [f"model_checkpoint_path: {json.dumps(state.model_checkpoint_path)}"]
    lines += [f"all_model_checkpoint_paths: {json.dumps(p)}" for p in state.all_model_checkpoint_paths]
    lines += [f"all_model_checkpoint_timestamps: {t!r}" for t in state.all_model_checkpoint_timestamps]
    return "\n".join(lines) + "\n"


def _parse_state(text: str) -> CheckpointState | None:
    state = CheckpointState()
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _LINE.match(line)
        if m is None:
            return None
        key, raw = m.groups()
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        if key == "model_checkpoint_path":
            state.model_checkpoint_path = str(value)
        elif key == "all_model_checkpoint_paths":
            state.all_model_checkpoint_paths.append(str(value))
        elif key == "all_model_checkpoint_timestamps":
            state.all_model_checkpoint_timestamps.append(float(value))
    return state if state.model_checkpoint_path else None


def get_checkpoint_state(checkpoint_dir: str, latest_filename: str | None = None) -> CheckpointState | None:
    """The directory's checkpoint state (relative paths made relative to ``checkpoint_dir``), or None."""
    path = os.path.join(os.fspath(checkpoint_dir), latest_filename or STATE_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            state = _parse_state(f.read())
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None
    if state is None:
        return None

    def absolute(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(os.fspath(checkpoint_dir), p)
    state.model_checkpoint_path = absolute(state.model_checkpoint_path)
    state.all_model_checkpoint_paths = [absolute(p) for p in state.all_model_checkpoint_paths]
    return state


def update_checkpoint_state(save_dir: str, model_checkpoint_path: str,
                            all_model_checkpoint_paths: Sequence[str] | None = None, latest_filename: str | None = None,
                            all_model_checkpoint_timestamps: Sequence[float] | None = None) -> None:
    """Write the state file of ``save_dir`` atomically; paths inside ``save_dir`` are stored relative."""
    save_dir = os.fspath(save_dir)
    paths = list(all_model_checkpoint_paths or [])
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)

    def rel(p: str) -> str:
        return os.path.basename(p) if os.path.dirname(os.path.abspath(p)) == os.path.abspath(save_dir) else p
    state = CheckpointState(rel(model_checkpoint_path), [rel(p) for p in paths],
                            list(all_model_checkpoint_timestamps or []))
    checkpoint_io.atomic_write(os.path.join(save_dir, latest_filename or STATE_FILE), [_state_text(state).encode()])


def checkpoint_exists(checkpoint_prefix: str) -> bool:
    return os.path.isfile(checkpoint_io.data_path(checkpoint_prefix))


def latest_checkpoint(checkpoint_dir: str, latest_filename: str | None = None) -> str | None:
    """The prefix of the newest checkpoint recorded in ``checkpoint_dir`` if its file exists, else None."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is not None and checkpoint_exists(state.model_checkpoint_path):
        return state.model_checkpoint_path
    return None


def remove_checkpoint(checkpoint_prefix: str) -> None:
    try:
        os.unlink(checkpoint_io.data_path(checkpoint_prefix))
    except FileNotFoundError:
        pass


# --------------------------------------------------------------------------- readers


def _resolve(ckpt_dir_or_file: str) -> str:
    if os.path.isdir(ckpt_dir_or_file):
        found = latest_checkpoint(ckpt_dir_or_file)
        if found is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given directory {ckpt_dir_or_file}")
        return found
    return ckpt_dir_or_file


class CheckpointReader:
    """Reads one checkpoint (TF's ``NewCheckpointReader``)."""

    def __init__(self, prefix: str):
        self._prefix = os.fspath(prefix)
        self._index = checkpoint_io.read_index(self._prefix)

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        return {k: list(s) for k, (s, _) in self._index.items()}

    def get_variable_to_dtype_map(self) -> dict[str, np.dtype]:
        return {k: np.dtype(d) for k, (_, d) in self._index.items()}

    def has_tensor(self, name: str) -> bool:
        return name in self._index

    def get_tensor(self, name: str) -> np.ndarray:
        if name not in self._index:
            raise errors.NotFoundError(None, None, f"Key {name} not found in checkpoint")
        return checkpoint_io.read_checkpoint(self._prefix, [name])[0][name]


def NewCheckpointReader(filepattern: str) -> CheckpointReader:  # noqa: N802 (TF's name)
    return CheckpointReader(filepattern)


def list_variables(ckpt_dir_or_file: str) -> list[tuple[str, list[int]]]:
    """``[(name, shape)]`` of a checkpoint (or of the latest one in a directory), sorted by name."""
    reader = CheckpointReader(_resolve(ckpt_dir_or_file))
    return sorted(reader.get_variable_to_shape_map().items())


def load_variable(ckpt_dir_or_file: str, name: str) -> np.ndarray:
    if name.endswith(":0"):
        name = name[:-2]
    return CheckpointReader(_resolve(ckpt_dir_or_file)).get_tensor(name)


# --------------------------------------------------------------------------- Saver


def _var_name(v: Any) -> str:
    return v.op.name


def _as_dict(var_list: Any) -> dict[str, Variable]:
    if isinstance(var_list, dict):
        items = list(var_list.items())
    else:
        items = []
        for v in var_list:
            if isinstance(v, (list, tuple)):
                items.extend((_var_name(x), x) for x in v)
            else:
                items.append((_var_name(v), v))
    out: dict[str, Variable] = {}
    for name, v in items:
        if not isinstance(v, Variable):
            raise TypeError(f"Variable to save is not a Variable: {v!r}")
        if name in out:
            raise ValueError(f"At least two variables have the same name: {name}")
        out[name] = v
    return out


class Saver:
    """Saves and restores variables (TF-1's ``tf.train.Saver``)."""

    def __init__(self, var_list: Any = None, reshape: bool = False, sharded: bool = False, max_to_keep: int | None = 5,
                 keep_checkpoint_every_n_hours: float = 10000.0, name: str | None = None,
                 restore_sequentially: bool = False, saver_def: Any = None, builder: Any = None,
                 defer_build: bool = False, allow_empty: bool = False, write_version: Any = None,
                 pad_step_number: bool = False, save_relative_paths: bool = False, filename: str | None = None):
        if var_list is None:
            var_list = global_variables() + get_default_graph().get_collection("saveable_objects")
        self._vars = _as_dict(var_list)
        if not self._vars and not allow_empty:
            raise ValueError("No variables to save")
        self._max_to_keep = max_to_keep
        self._keep_every_s = keep_checkpoint_every_n_hours * 3600.0
        self._next_keep_time = time.time() + self._keep_every_s
        self._pad_step_number = pad_step_number
        self._filename = filename
        self._last: list[tuple[str, float]] = []
        self._graph = next(iter(self._vars.values())).graph if self._vars else get_default_graph()
        self._placeholders: dict[str, Any] = {}
        g = self._graph
        with g.as_default(), g.control_dependencies(None), name_scope(name, "save"):
            assigns = []
            for key, v in self._vars.items():
                ph = placeholder(v.dtype, v.shape, name="restore_value")
                self._placeholders[key] = ph
                assigns.append(assign(v, ph, name="Assign"))
            self._restore_op = group(*assigns, name="restore_all") if assigns else no_op(name="restore_all")

    # -- checkpoint bookkeeping ----------------------------------------------------------------------
    @property
    def last_checkpoints(self) -> list[str]:
        """The kept checkpoints of this Saver, oldest first."""
        return [p for p, _ in self._last]

    def set_last_checkpoints(self, last_checkpoints: Sequence[str]) -> None:
        self._last = [(p, time.time()) for p in last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time: Sequence[tuple[str, float]]) -> None:
        self._last = list(last_checkpoints_with_time)

    def recover_last_checkpoints(self, checkpoint_paths: Sequence[str]) -> None:
        """Adopt the existing ones among ``checkpoint_paths`` (e.g. after a restart)."""
        self.set_last_checkpoints([p for p in checkpoint_paths if checkpoint_exists(p)])

    def _record(self, path: str) -> list[str]:
        """Add ``path`` to the kept checkpoints; returns the ones to delete."""
        if not self._max_to_keep:
            return []
        self._last = [(p, t) for p, t in self._last if p != path] + [(path, time.time())]
        doomed = []
        while len(self._last) > self._max_to_keep:
            p, t = self._last.pop(0)
            if t > self._next_keep_time:  # keep_checkpoint_every_n_hours: this one is preserved
                self._next_keep_time += self._keep_every_s
                continue
            doomed.append(p)
        return doomed

    # -- save / restore ------------------------------------------------------------------------------
    def save(self, sess: Any, save_path: str, global_step: Any = None, latest_filename: str | None = None,
             meta_graph_suffix: str = "meta", write_meta_graph: bool = True, write_state: bool = True,
             strip_default_attrs: bool = False, save_debug_info: bool = False) -> str:
        """Write the variables' values in ``sess`` to ``save_path`` (``-<step>`` appended when
        ``global_step`` is given); returns the checkpoint prefix to pass to ``restore``."""
        if latest_filename is None:
            latest_filename = STATE_FILE
        if os.path.split(latest_filename)[0]:
            raise ValueError("'latest_filename' must not contain path components")
        save_path = os.fspath(save_path)
        if global_step is not None:
            step = global_step if isinstance(global_step, (int, np.integer)) else sess.run(global_step)
            prefix = f"{save_path}-{int(step):08d}" if self._pad_step_number else f"{save_path}-{int(step)}"
        else:
            prefix = save_path
        save_dir = os.path.dirname(os.path.abspath(prefix))
        if not os.path.isdir(save_dir):
            raise ValueError(f"Parent directory of {save_path} doesn't exist, can't save.")
        if sess.graph is not self._graph:
            raise ValueError("The session's graph is not the graph of the Saver's variables")
        names = list(self._vars)
        values = sess.run([self._vars[k]._ref() for k in names]) if names else []
        meta = {"global_step": None if global_step is None else int(step), "time": time.time()}
        checkpoint_io.write_checkpoint(prefix, dict(zip(names, values)), meta)
        if write_state:
            doomed = self._record(prefix)
            kept = self.last_checkpoints or [prefix]
            update_checkpoint_state(save_dir, prefix, kept, latest_filename,
                                    [t for _, t in self._last] if self._max_to_keep else None)
            for p in doomed:
                remove_checkpoint(p)
        return prefix

    def restore(self, sess: Any, save_path: str) -> None:
        """Assign the values stored in checkpoint ``save_path`` to the variables, in one run."""
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        save_path = os.fspath(save_path)
        if not checkpoint_exists(save_path):
            raise ValueError(f"The passed save_path is not a valid checkpoint: {save_path}")
        values, _ = checkpoint_io.read_checkpoint(save_path, list(self._vars))
        feed = {}
        for key, v in self._vars.items():
            if key not in values:
                raise errors.NotFoundError(None, None, f"Key {key} not found in checkpoint {save_path}")
            a = values[key]
            want = np.dtype(v.dtype.as_numpy_dtype)
            if a.dtype != want:
                raise errors.InvalidArgumentError(
                    None, None, f"tensor {key} in checkpoint {save_path} has dtype {a.dtype}, the variable {want}")
            if tuple(a.shape) != tuple(v.shape.as_list()):
                raise errors.InvalidArgumentError(
                    None, None, f"Assign requires shapes of both tensors to match. lhs shape= {v.shape.as_list()} "
                                f"rhs shape= {list(a.shape)} (variable {key}, checkpoint {save_path})")
            feed[self._placeholders[key]] = a
        if feed:
            sess.run(self._restore_op, feed)

    def as_saver_def(self) -> dict[str, Any]:
        return {"restore_op_name": self._restore_op.name, "max_to_keep": self._max_to_keep,
                "keep_checkpoint_every_n_hours": self._keep_every_s / 3600.0, "version": 2}

    def export_meta_graph(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("meta graphs are not supported; the graph is rebuilt by the program")

    def __repr__(self) -> str:
        return f"<tk.train.Saver of {len(self._vars)} variables>"
