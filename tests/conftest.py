"""Shared fixtures: an isolated registry, the fixtures and real-samples folders, hypothesis
profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import memshift.model
from memshift.registry import Registry

# Readers that build records with memshift.model.trusted are checked against full
# validation in every test: a reader that breaks the contract fails here, not in production.
memshift.model.CHECK_TRUSTED = True

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
REAL_SAMPLES = Path(
    os.environ.get("MEMSHIFT_REAL_SAMPLES", ROOT.parent / "shared" / "real-samples")
)

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The installed plugins, loaded into a fresh Registry (never the module default)."""
    return Registry()


@pytest.fixture
def real_samples() -> Path:
    if not REAL_SAMPLES.is_dir():
        pytest.skip(f"real samples not present at {REAL_SAMPLES}")
    return REAL_SAMPLES


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
