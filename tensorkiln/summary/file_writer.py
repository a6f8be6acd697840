"""``tk.summary.FileWriter``: TensorFlow 1.x's ``tf.summary.FileWriter`` over :class:`EventFileWriter`.

::

    with tk.summary.FileWriter("logs/train", graph=sess.graph, flush_secs=10) as writer:
        for step in range(100):
            summary, _ = sess.run([merged, train_op], feed_dict=...)
            writer.add_summary(summary, step)

``add_summary`` takes a ``Summary`` proto or its serialized bytes (what fetching a summary op returns).
Like TF, the plugin metadata of a tag is written only the first time the tag is seen by this writer.
"""
from __future__ import annotations

import time
from typing import Any, Optional

from tensorboard.compat.proto import config_pb2, event_pb2, graph_pb2

from .encode import SummaryLike, as_summary
from .event_writer import EventFileWriter
from .graph_def import as_graph_def

__all__ = ["FileWriter", "graph_to_graph_def"]


def graph_to_graph_def(graph: Any) -> graph_pb2.GraphDef:
    """``GraphDef`` of a tensorkiln ``Graph``, a ``GraphDef`` (proto or bytes) or a list of ``NodeSpec``."""
    try:
        from .framework_graph import framework_graph_def  # the graph API's adapter, when present
    except ImportError:  # pragma: no cover - graph API not built yet
        framework_graph_def = None
    if framework_graph_def is not None:
        gd = framework_graph_def(graph)
        if gd is not None:
            return gd
    return as_graph_def(graph)


class FileWriter:
    """Writes summaries, graphs and run metadata to an event file in ``logdir`` for TensorBoard.

    Args:
      logdir: directory of this run (created if needed); TensorBoard shows each directory as a run.
      graph: a graph to write right away (TF: ``graph=sess.graph``).
      max_queue: records buffered in Python before they are pushed to the OS.
      flush_secs: a background thread flushes to disk this often (seconds).
      graph_def: a ``GraphDef`` to write right away (deprecated in TF in favour of ``graph``).
      filename_suffix: appended to the event file's name.
      session: accepted for TF compatibility and ignored.
    """

    def __init__(
        self,
        logdir: str,
        graph: Any = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        graph_def: Any = None,
        filename_suffix: Optional[str] = None,
        session: Any = None,
    ):
        self._writer = EventFileWriter(str(logdir), max_queue, flush_secs, filename_suffix or "")
        self._seen_summary_tags: set[str] = set()
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)

    # ------------------------------------------------------------------ events

    def add_event(self, event: event_pb2.Event) -> None:
        """Write one ``Event`` as given (``wall_time`` is set to now when it is 0)."""
        if not event.wall_time:
            event = _copy(event)
            event.wall_time = time.time()
        self._writer.add_event(event)

    def _add(self, event: event_pb2.Event, global_step: Optional[int]) -> None:
        event.wall_time = time.time()
        if global_step is not None:
            event.step = int(global_step)
        self._writer.add_event(event)

    def add_summary(self, summary: SummaryLike, global_step: Optional[int] = None) -> None:
        """Write a ``Summary`` (proto, or serialized bytes as fetched from a summary op) at ``global_step``."""
        summ = _copy_summary(as_summary(summary))
        for value in summ.value:
            if not value.HasField("metadata"):
                continue
            if value.tag in self._seen_summary_tags:
                value.ClearField("metadata")
            else:
                self._seen_summary_tags.add(value.tag)
        self._add(event_pb2.Event(summary=summ), global_step)

    def add_session_log(self, session_log: Any, global_step: Optional[int] = None) -> None:
        """Write a ``SessionLog`` (e.g. ``SessionLog(status=SessionLog.START)``)."""
        self._add(event_pb2.Event(session_log=session_log), global_step)

    def add_graph(self, graph: Any = None, global_step: Optional[int] = None, graph_def: Any = None) -> None:
        """Write the graph for TensorBoard's Graphs dashboard (a tensorkiln Graph, or a ``GraphDef``)."""
        if graph is not None and graph_def is not None:
            raise ValueError("Please pass only graph, or graph_def (deprecated), but not both.")
        source = graph if graph is not None else graph_def
        if source is None:
            raise ValueError("add_graph needs a graph or a graph_def")
        gd = graph_to_graph_def(source)
        self._add(event_pb2.Event(graph_def=gd.SerializeToString()), global_step)

    def add_run_metadata(self, run_metadata: Any, tag: str, global_step: Optional[int] = None) -> None:
        """Write a ``RunMetadata`` (proto or bytes) under ``tag``, shown by the Graphs dashboard."""
        if isinstance(run_metadata, (bytes, bytearray)):
            data = bytes(run_metadata)
        elif isinstance(run_metadata, config_pb2.RunMetadata) or hasattr(run_metadata, "SerializeToString"):
            data = run_metadata.SerializeToString()
        else:
            raise TypeError(f"expected a RunMetadata proto, got {type(run_metadata).__name__}")
        tagged = event_pb2.TaggedRunMetadata(tag=tag, run_metadata=data)
        self._add(event_pb2.Event(tagged_run_metadata=tagged), global_step)

    # ------------------------------------------------------------------ lifecycle

    def get_logdir(self) -> str:
        """The directory this writer writes to."""
        return self._writer.get_logdir()

    @property
    def event_file(self) -> str:
        """Path of the current event file."""
        return self._writer.path

    def flush(self) -> None:
        """Make everything written so far visible to readers."""
        self._writer.flush()

    def close(self) -> None:
        """Flush and close; later writes are dropped until ``reopen``. Safe to call twice."""
        self._writer.close()

    def reopen(self) -> None:
        """Start a new event file in the same directory after ``close``."""
        if self._writer.closed:
            self._seen_summary_tags.clear()
        self._writer.reopen()

    def __enter__(self) -> "FileWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _copy(event: event_pb2.Event) -> event_pb2.Event:
    out = event_pb2.Event()
    out.CopyFrom(event)
    return out


def _copy_summary(summary: Any) -> Any:
    """A copy of a ``Summary`` proto (``add_summary`` must not strip metadata from the caller's proto)."""
    out = type(summary)()
    out.CopyFrom(summary)
    return out
