"""Device strings: parsing, merging nested ``tk.device`` scopes, and which devices exist.

TF spells a device ``/job:NAME/replica:N/task:N/device:TYPE:N`` (``/cpu:0`` and ``/gpu:0`` are the
short forms). Ops record the canonical string of the merged scope (``/device:CPU:0``). The only
device this runtime has is the host CPU, ``/job:localhost/replica:0/task:0/device:CPU:0``; an op
placed anywhere else fails at run time unless soft placement is allowed (checked by the Session).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..runtime.config import is_local_cpu as _runtime_is_local_cpu

LOCAL_CPU = "/job:localhost/replica:0/task:0/device:CPU:0"


@dataclass(frozen=True)
class DeviceSpec:
    job: str | None = None
    replica: int | None = None
    task: int | None = None
    device_type: str | None = None
    device_index: int | None = None

    @staticmethod
    def from_string(spec: str) -> "DeviceSpec":
        job = replica = task = dtype = index = None
        for part in (spec or "").split("/"):
            if not part:
                continue
            fields = part.split(":")
            key = fields[0].lower()
            try:
                if key == "job" and len(fields) == 2:
                    job = fields[1]
                elif key == "replica" and len(fields) == 2:
                    replica = int(fields[1])
                elif key == "task" and len(fields) == 2:
                    task = int(fields[1])
                elif key == "device" and len(fields) in (2, 3):
                    dtype = fields[1].upper()
                    index = None if len(fields) == 2 or fields[2] == "*" else int(fields[2])
                elif len(fields) in (1, 2) and key and key != "device":
                    dtype = fields[0].upper()
                    index = None if len(fields) == 1 or fields[1] == "*" else int(fields[1])
                else:
                    raise ValueError
            except ValueError:
                raise ValueError(f"Unknown attribute: '{part}' in '{spec}'") from None
        return DeviceSpec(job, replica, task, dtype, index)

    def merge_from(self, inner: "DeviceSpec") -> "DeviceSpec":
        """Fields set in ``inner`` override this spec's (TF's nested device scopes)."""
        out = self
        for f in ("job", "replica", "task", "device_type", "device_index"):
            v = getattr(inner, f)
            if v is not None:
                out = replace(out, **{f: v})
        if inner.device_type is not None and inner.device_index is None:
            out = replace(out, device_index=None)
        return out

    def to_string(self) -> str:
        s = ""
        if self.job is not None:
            s += f"/job:{self.job}"
        if self.replica is not None:
            s += f"/replica:{self.replica}"
        if self.task is not None:
            s += f"/task:{self.task}"
        if self.device_type is not None:
            s += f"/device:{self.device_type}:{'*' if self.device_index is None else self.device_index}"
        return s


def canonical(spec: str | None) -> str:
    return DeviceSpec.from_string(spec or "").to_string()


def merge(outer: str, inner: str) -> str:
    return DeviceSpec.from_string(outer).merge_from(DeviceSpec.from_string(inner)).to_string()


def is_local_cpu(spec: str) -> bool:
    """Whether a device string can be placed on this process's CPU."""
    try:
        spec = canonical(spec)
    except ValueError:
        return False
    return _runtime_is_local_cpu(spec)
