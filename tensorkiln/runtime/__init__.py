"""Runtime: native executables, argument checking, compiled modules (and, later, Sessions)."""
