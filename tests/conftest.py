import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import microgd as mg

settings.register_profile("ci", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def _fresh_state():
    """Every test starts with float32 default, recording on and no anomaly mode."""
    mg.set_default_dtype(np.float32)
    yield
    mg.set_default_dtype(np.float32)
    mg.state.STATE.grad_enabled = True
    mg.state.STATE.detect_anomaly = False
    mg.state.STATE.scope = None


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
