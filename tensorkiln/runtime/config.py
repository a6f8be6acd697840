"""Session configuration and run records: ``ConfigProto``, ``RunOptions``, ``RunMetadata`` (TF's
protocol messages as plain Python objects) and the device check used at run time.

``ConfigProto`` accepts TF's common fields. ``intra_op_parallelism_threads`` caps the threads a
compiled function's parallel loops use (0 = the runtime's default, ``TENSORKILN_NUM_THREADS`` or
the CPUs available); ``inter_op_parallelism_threads`` is recorded (one native call runs per
``run``, so there is no op-level scheduling to parallelize); ``log_device_placement`` prints each
op's device to stderr when a signature is first run in a Session; ``allow_soft_placement`` places
ops on unknown devices on the CPU instead of failing.
An unknown field is a ``ValueError``, as with TF's protobuf messages.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class _Message:
    """Keyword-initialised fields with defaults; unknown fields raise ValueError."""

    _fields: dict[str, Any] = {}

    def __init__(self, **kwargs: Any):
        for k, v in self._fields.items():
            setattr(self, k, v() if callable(v) else v)
        for k, v in kwargs.items():
            if k not in self._fields:
                raise ValueError(f'Protocol message {type(self).__name__} has no "{k}" field.')
            setattr(self, k, v)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._fields if getattr(self, k) != (
            self._fields[k]() if callable(self._fields[k]) else self._fields[k]))
        return f"{type(self).__name__}({body})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, k) == getattr(other, k) for k in self._fields)


class GPUOptions(_Message):
    _fields = {"allow_growth": False, "per_process_gpu_memory_fraction": 0.0, "visible_device_list": ""}


class GraphOptions(_Message):
    _fields = {"build_cost_model": 0, "infer_shapes": False, "place_pruned_graph": False,
               "enable_bfloat16_sendrecv": False, "timeline_step": 0, "optimizer_options": None}


class ConfigProto(_Message):
    _fields = {
        "device_count": dict,
        "intra_op_parallelism_threads": 0,
        "inter_op_parallelism_threads": 0,
        "use_per_session_threads": False,
        "allow_soft_placement": False,
        "log_device_placement": False,
        "operation_timeout_in_ms": 0,
        "isolate_session_state": False,
        "gpu_options": GPUOptions,
        "graph_options": GraphOptions,
    }


class RunOptions(_Message):
    NO_TRACE = 0
    SOFTWARE_TRACE = 1
    HARDWARE_TRACE = 2
    FULL_TRACE = 3
    _fields = {"trace_level": 0, "timeout_in_ms": 0, "inter_op_thread_pool": 0,
               "output_partition_graphs": False, "report_tensor_allocations_upon_oom": False}


@dataclass
class _NodeExecStats:
    node_name: str
    all_start_micros: int
    all_end_micros: int

    @property
    def all_end_rel_micros(self) -> int:
        return self.all_end_micros - self.all_start_micros

    @property
    def timeline_label(self) -> str:
        return f"{self.node_name} = native call"


@dataclass
class DeviceStepStats:
    device: str
    node_stats: list[_NodeExecStats] = field(default_factory=list)


@dataclass
class StepStats:
    dev_stats: list[DeviceStepStats] = field(default_factory=list)

    def record(self, device: str, stats: _NodeExecStats) -> None:
        for d in self.dev_stats:
            if d.device == device:
                d.node_stats.append(stats)
                return
        self.dev_stats.append(DeviceStepStats(device, [stats]))


class RunMetadata:
    """What a ``run`` recorded (see :mod:`tensorkiln.runtime.session` for the fields)."""

    def __init__(self) -> None:
        self.step_stats = StepStats()
        self.partition_graphs: list[str] = []
        self.cost_graph = None
        self.signature: str | None = None
        self.compiled = False
        self.compile_seconds = 0.0
        self.run_seconds = 0.0

    def __repr__(self) -> str:
        return f"RunMetadata(signature={self.signature!r}, compiled={self.compiled}, run_seconds={self.run_seconds:.6f})"


@dataclass(frozen=True)
class DeviceAttributes:
    name: str
    device_type: str
    memory_limit_bytes: int = 0
    incarnation: int = 0


def is_local_cpu(spec: str) -> bool:
    """Whether a canonical device string (``/job:…/replica:…/task:…/device:TYPE:N``) names this
    process's CPU; unset fields match."""
    if not spec:
        return True
    fields: dict[str, str] = {}
    for part in spec.split("/"):
        if not part:
            continue
        key, _, value = part.partition(":")
        fields[key.lower()] = value
    dev = fields.get("device", "CPU:0").upper()
    dtype, _, index = dev.partition(":")
    return (fields.get("job", "localhost") == "localhost" and fields.get("replica", "0") == "0"
            and fields.get("task", "0") == "0" and dtype == "CPU" and index in ("", "0", "*"))
