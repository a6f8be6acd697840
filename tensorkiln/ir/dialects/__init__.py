"""Dialects: ``builtin`` (return), ``graph`` (tensor ops) and ``loops`` (buffers and loop nests)."""
