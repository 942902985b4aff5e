"""Hypothesis settings for the plugin's own properties (the conformance kit sets its own)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "plugin",
    max_examples=int(os.environ.get("MEMSHIFT_PROPERTY_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("plugin")
