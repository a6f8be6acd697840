"""Test-wide settings (verify the IR after every pass, keep hypothesis deterministic in CI), the
`native_calls` fixture, which records every native call a test makes, and `run_error`, the message
of the InvalidArgumentError a `Session.run` raises."""
import os
import tempfile

os.environ.setdefault("TENSORKILN_VERIFY", "1")
# Tests never share a compile cache with the user's (or with an earlier run).
os.environ["TENSORKILN_CACHE_DIR"] = tempfile.mkdtemp(prefix="tk-test-cache-")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


import pytest  # noqa: E402


@pytest.fixture
def native_calls(monkeypatch):
    """The names of the native functions called while the test runs, in order."""
    from tensorkiln.runtime.executable import NativeFunction

    calls: list[str] = []
    original = NativeFunction.call_prepared  # every native call, checked (call) or not, goes through it

    def spy(self, arrays):
        calls.append(self.name)
        return original(self, arrays)
    monkeypatch.setattr(NativeFunction, "call_prepared", spy)
    return calls


@pytest.fixture
def run_error():
    """``run_error(sess, fetches, feed)``: the text of the InvalidArgumentError that
    ``sess.run(fetches, feed)`` raises (the test fails if it raises none)."""
    import tensorkiln as tk

    def error(sess, fetches, feed=None) -> str:
        with pytest.raises(tk.errors.InvalidArgumentError) as info:
            sess.run(fetches, feed)
        return str(info.value)
    return error
