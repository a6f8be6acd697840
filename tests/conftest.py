"""Test-wide settings (verify the IR after every pass, keep hypothesis deterministic in CI) and the
`native_calls` fixture, which records every native call a test makes."""
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
