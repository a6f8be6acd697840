"""The Session's lock on its variable state: many concurrent readers (runs that only read
variables) or one writer (a run that assigns), so concurrent ``Session.run`` calls give the serial
results.

Fair to readers: when a writer releases the lock, the readers already waiting are let in before
the next writer. Without that, a thread running an update in a loop re-takes the lock before the
woken readers get the GIL back, and the readers can wait for as long as it keeps looping.
"""
from __future__ import annotations

import threading


class _RWLock:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting_readers = 0
        self._admit = 0  # readers that must enter before the next writer

    def acquire_read(self) -> None:
        with self._cond:
            self._waiting_readers += 1
            while self._writer:
                self._cond.wait()
            self._waiting_readers -= 1
            self._readers += 1
            if self._admit:
                self._admit -= 1
                if not self._admit:
                    self._cond.notify_all()  # a writer may be waiting for its turn

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    def acquire_write(self) -> None:
        with self._cond:
            while self._writer or self._readers or self._admit:
                self._cond.wait()
            self._writer = True

    def release_write(self) -> None:
        with self._cond:
            self._writer = False
            self._admit = self._waiting_readers
            self._cond.notify_all()
