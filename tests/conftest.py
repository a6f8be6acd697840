"""Test-wide settings: verify the IR after every pass, and keep hypothesis deterministic in CI."""
import os

os.environ.setdefault("TENSORKILN_VERIFY", "1")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")
