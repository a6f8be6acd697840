"""``tk.summary``: TensorFlow 1.x summaries and event files that TensorBoard reads as TF's own.

* ``scalar``, ``histogram``, ``image``, ``text``, ``merge``, ``merge_all`` create summary ops in the
  graph (:mod:`.summary_ops`); fetching one with ``Session.run`` gives serialized ``Summary`` bytes.
* :class:`FileWriter` writes ``events.out.tfevents.*`` files (TFRecords of ``Event`` protos): summaries,
  the graph (``graph=sess.graph``), run metadata.
* :mod:`.encode` builds ``Summary`` protos from numbers (scalars, histograms with TF's buckets, PNG
  images, text); :mod:`.graph_def` turns a neutral graph description into TensorBoard's ``GraphDef``.

Protos are TensorBoard's own compiled definitions (``tensorboard.compat.proto``). The graph-API half
is imported lazily, so the writer and encoders work without building a graph.
"""
from __future__ import annotations

from typing import Any

from .encode import (
    histogram_summary,
    image_summaries,
    merge_summaries,
    scalar_summary,
    text_summary,
)
from .event_writer import EventFileWriter
from .file_writer import FileWriter
from .graph_def import NodeSpec, build_graph_def

_GRAPH_API = ("scalar", "histogram", "image", "text", "merge", "merge_all", "string")

__all__ = [
    "FileWriter",
    "EventFileWriter",
    "NodeSpec",
    "build_graph_def",
    "scalar_summary",
    "histogram_summary",
    "image_summaries",
    "text_summary",
    "merge_summaries",
    *_GRAPH_API,
]


def __getattr__(name: str) -> Any:
    if name in _GRAPH_API:
        from . import summary_ops

        return getattr(summary_ops, name)
    raise AttributeError(f"module 'tensorkiln.summary' has no attribute {name!r}")
