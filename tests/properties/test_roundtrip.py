"""The shared round-trip property suite, run for every registered adapter that reads and writes.

A new adapter gets it for free: the strategy comes from its declared features
(:func:`memshift.testing.conformance.strategy_for`).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from memshift.model import AnyRecord
from memshift.registry import Registry
from memshift.testing.conformance import examples_per_adapter, strategy_for
from memshift.testing.roundtrip import assert_fixpoint, assert_roundtrip

_REG = Registry()
BOTH = [f.name for f in _REG.formats() if f.can_read and f.can_write]


def _settings(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.mark.parametrize("fmt", BOTH)
def test_read_write_project_is_identity(fmt: str) -> None:
    """read(write(project(x))) == project(x)"""
    adapter = _REG.adapter_class(fmt)

    @_settings(examples_per_adapter())
    @given(strategy_for(adapter))
    def check(records: list[AnyRecord]) -> None:
        assert_roundtrip(fmt, records, registry=_REG)

    check()


@pytest.mark.parametrize("fmt", BOTH)
def test_write_is_a_fixpoint(fmt: str) -> None:
    """write(read(write(x))) == write(x)"""
    adapter = _REG.adapter_class(fmt)

    @_settings(max(examples_per_adapter() // 2, 10))
    @given(strategy_for(adapter))
    def check(records: list[AnyRecord]) -> None:
        assert_fixpoint(fmt, records, registry=_REG)

    check()


def test_suite_covers_every_built_in() -> None:
    assert {"canonical"} <= set(BOTH)
