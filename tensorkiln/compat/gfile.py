"""``tf.gfile``: TF 1.x's file API on the local file system (``Exists``, ``MakeDirs``, ``GFile``…).

Errors are TensorFlow's: a missing path is ``tk.errors.NotFoundError``, an existing target that may
not be overwritten is ``AlreadyExistsError``. Only local paths are supported.
"""
from __future__ import annotations

import glob as _glob
import os
import shutil
from typing import Any, Iterator, Optional

from .. import errors

__all__ = ["Exists", "IsDirectory", "MakeDirs", "MkDir", "DeleteRecursively", "Remove", "Rename", "Copy",
           "Glob", "ListDirectory", "Walk", "Stat", "GFile", "Open", "FastGFile"]


def _not_found(path: Any, what: str = "") -> errors.NotFoundError:
    return errors.NotFoundError(None, None, f"{path}; No such file or directory{what}")


def Exists(filename: Any) -> bool:
    return os.path.exists(os.fspath(filename))


def IsDirectory(dirname: Any) -> bool:
    return os.path.isdir(os.fspath(dirname))


def MakeDirs(dirname: Any) -> None:
    """Create a directory and its parents; an existing directory is fine."""
    os.makedirs(os.fspath(dirname), exist_ok=True)


def MkDir(dirname: Any) -> None:
    path = os.fspath(dirname)
    if os.path.exists(path):
        raise errors.AlreadyExistsError(None, None, f"{path}; File exists")
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise _not_found(os.path.dirname(path))
    os.mkdir(path)


def DeleteRecursively(dirname: Any) -> None:
    path = os.fspath(dirname)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)
    else:
        raise _not_found(path)


def Remove(filename: Any) -> None:
    path = os.fspath(filename)
    if not os.path.lexists(path):
        raise _not_found(path)
    os.remove(path)


def Rename(oldname: Any, newname: Any, overwrite: bool = False) -> None:
    old, new = os.fspath(oldname), os.fspath(newname)
    if not os.path.lexists(old):
        raise _not_found(old)
    if os.path.exists(new) and not overwrite:
        raise errors.AlreadyExistsError(None, None, f"{new}; File exists")
    os.replace(old, new)


def Copy(oldpath: Any, newpath: Any, overwrite: bool = False) -> None:
    old, new = os.fspath(oldpath), os.fspath(newpath)
    if not os.path.exists(old):
        raise _not_found(old)
    if os.path.exists(new) and not overwrite:
        raise errors.AlreadyExistsError(None, None, f"{new}; File exists")
    shutil.copyfile(old, new)


def Glob(filename: Any) -> list[str]:
    return sorted(_glob.glob(os.fspath(filename)))


def ListDirectory(dirname: Any) -> list[str]:
    path = os.fspath(dirname)
    if not os.path.isdir(path):
        raise _not_found(path)
    return sorted(os.listdir(path))


def Walk(top: Any, in_order: bool = True) -> Iterator[tuple[str, list[str], list[str]]]:
    yield from os.walk(os.fspath(top), topdown=in_order)


class _FileStat:
    def __init__(self, st: os.stat_result, is_dir: bool):
        self.length = st.st_size
        self.mtime_nsec = st.st_mtime_ns
        self.is_directory = is_dir


def Stat(filename: Any) -> _FileStat:
    path = os.fspath(filename)
    if not os.path.exists(path):
        raise _not_found(path)
    return _FileStat(os.stat(path), os.path.isdir(path))


class GFile:
    """``tf.gfile.GFile(name, mode)``: a file object (text in ``"r"``/``"w"``, bytes with ``"b"``)."""

    def __init__(self, name: Any, mode: str = "r"):
        self.name = os.fspath(name)
        self.mode = mode
        if "r" in mode and not os.path.exists(self.name):
            raise _not_found(self.name)
        self._f = open(self.name, mode)

    def read(self, n: int = -1) -> Any:
        return self._f.read(n)

    def readline(self) -> Any:
        return self._f.readline()

    def readlines(self) -> list:
        return self._f.readlines()

    def write(self, data: Any) -> None:
        if "b" in self.mode and isinstance(data, str):
            data = data.encode()
        self._f.write(data)

    def seek(self, offset: int, whence: int = 0) -> Any:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def size(self) -> int:
        return os.path.getsize(self.name)

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._f)

    def __next__(self) -> Any:
        return next(self._f)

    def __enter__(self) -> "GFile":
        return self

    def __exit__(self, *exc: Optional[Any]) -> None:
        self.close()


Open = GFile
FastGFile = GFile
