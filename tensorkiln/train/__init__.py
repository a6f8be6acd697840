"""``tk.train``: TF-1's optimizers, the global step, learning-rate schedules and checkpoints.

Optimizers only build graph ops, so a training step (forward, backward and all updates) is one
compiled signature and one native call per ``Session.run``. Checkpoints are one file per save
(JSON header + raw little-endian arrays, a checksum per array, written atomically).
"""
from __future__ import annotations

from .checkpoint_io import read_checkpoint, write_checkpoint  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .optimizers import (  # noqa: F401
    AdagradOptimizer,
    AdamOptimizer,
    GradientDescentOptimizer,
    MomentumOptimizer,
    RMSPropOptimizer,
)
from .saver import (  # noqa: F401
    CheckpointReader,
    CheckpointState,
    NewCheckpointReader,
    Saver,
    checkpoint_exists,
    get_checkpoint_state,
    latest_checkpoint,
    list_variables,
    load_variable,
    remove_checkpoint,
    update_checkpoint_state,
)
from .training_util import (  # noqa: F401
    assert_global_step,
    cosine_decay,
    create_global_step,
    exponential_decay,
    get_global_step,
    get_or_create_global_step,
    global_step,
    inverse_time_decay,
    natural_exp_decay,
    piecewise_constant,
    polynomial_decay,
)

__all__ = [
    "AdagradOptimizer", "AdamOptimizer", "CheckpointReader", "CheckpointState", "GradientDescentOptimizer",
    "MomentumOptimizer", "NewCheckpointReader", "Optimizer", "RMSPropOptimizer", "Saver", "assert_global_step",
    "checkpoint_exists", "cosine_decay", "create_global_step", "exponential_decay", "get_checkpoint_state",
    "get_global_step", "get_or_create_global_step", "global_step", "inverse_time_decay", "latest_checkpoint",
    "list_variables", "load_variable", "natural_exp_decay", "piecewise_constant", "polynomial_decay",
    "read_checkpoint", "remove_checkpoint", "update_checkpoint_state", "write_checkpoint",
]
