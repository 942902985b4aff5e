"""An opt-in conformance suite: subclass :class:`AdapterConformance` in your plugin's tests.

    from memshift.testing.conformance import AdapterConformance

    class TestTelegram(AdapterConformance):
        format = "telegram"
        fixtures = Path(__file__).parent / "fixtures"

Every built-in adapter runs the same checks through ``tests/properties``; this class packages
them for third parties (fsspec's abstract test suites are the model).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memshift.adapter import Adapter, Feature
from memshift.model import AnyRecord
from memshift.registry import Registry, default_registry
from memshift.testing import golden, strategies
from memshift.testing.roundtrip import assert_fixpoint, assert_roundtrip

__all__ = ["AdapterConformance", "examples_per_adapter", "strategy_for"]


def examples_per_adapter() -> int:
    """Examples per property: ``MEMSHIFT_PROPERTY_EXAMPLES``, default 200 (what CI runs)."""
    return int(os.environ.get("MEMSHIFT_PROPERTY_EXAMPLES", "200"))


def strategy_for(adapter: type[Adapter] | Adapter) -> st.SearchStrategy[list[AnyRecord]]:
    """The record streams an adapter should round-trip, chosen from its declared features, so a
    new adapter gets the property suite without writing a strategy."""
    features = adapter.features
    convs = Feature.CONVERSATIONS in features
    memory = Feature.MEMORY in features
    conv_type: str | None = None
    if Feature.GROUP in features and Feature.PERSONAL not in features:
        conv_type = "group"
    elif Feature.PERSONAL in features and Feature.GROUP not in features:
        conv_type = "personal"
    if convs and memory:
        return strategies.record_streams(type=conv_type)
    if convs:
        return strategies.record_streams(type=conv_type, with_memory=False)
    if memory:
        return strategies.memory_streams()
    return st.just([])


class AdapterConformance:
    """Round trip, fixpoint, golden fixtures and detection for one format."""

    format: ClassVar[str]
    fixtures: ClassVar[Path | None] = None
    write_options: ClassVar[dict[str, Any]] = {}
    read_options: ClassVar[dict[str, Any]] = {}

    def registry(self) -> Registry:
        return default_registry()

    def adapter(self) -> Adapter:
        return self.registry().get(self.format)

    def test_declares_itself(self) -> None:
        adapter = self.adapter()
        assert adapter.name == self.format
        assert adapter.description, "adapters describe themselves in one line"
        assert adapter.can_read() or adapter.can_write()

    def test_roundtrip(self) -> None:
        adapter = self.adapter()
        if not (adapter.can_read() and adapter.can_write()):
            return
        reg = self.registry()

        @settings(
            max_examples=examples_per_adapter(),
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(strategy_for(adapter))
        def check(records: list[AnyRecord]) -> None:
            assert_roundtrip(
                self.format,
                records,
                write_options=self.write_options,
                read_options=self.read_options,
                registry=reg,
            )

        check()

    def test_fixpoint(self) -> None:
        adapter = self.adapter()
        if not (adapter.can_read() and adapter.can_write()):
            return
        reg = self.registry()

        @settings(
            max_examples=max(examples_per_adapter() // 2, 10),
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(strategy_for(adapter))
        def check(records: list[AnyRecord]) -> None:
            assert_fixpoint(
                self.format,
                records,
                write_options=self.write_options,
                read_options=self.read_options,
                registry=reg,
            )

        check()

    def test_golden_fixtures(self) -> None:
        if self.fixtures is None:
            return
        cases = golden.find_cases(self.fixtures, self.format)
        assert cases, f"no fixture cases for {self.format} under {self.fixtures}"
        for case in cases:
            assert case.expected_path.exists(), f"{case.id}: expected.jsonl is missing"
            assert golden.read_case(case, self.registry()) == golden.load_expected(case), case.id

    def test_golden_round_trip(self) -> None:
        """Each golden case's records survive a trip through the format (projected)."""
        if self.fixtures is None:
            return
        from memshift.testing.roundtrip import write_read

        adapter = self.adapter()
        if not adapter.can_write():
            return
        for case in golden.find_cases(self.fixtures, self.format):
            expected = adapter.project(golden.load_expected(case))
            assert write_read(self.format, expected, registry=self.registry()) == expected, case.id

    def test_golden_reports_balance(self) -> None:
        """Converting each golden case accounts for every record: read = written + filtered +
        rejected, and any counts in the case's report.json match."""
        if self.fixtures is None:
            return
        import memshift

        for case in golden.find_cases(self.fixtures, self.format):
            docs = memshift.convert(
                case.input,
                None,
                src=self.format,
                dst="canonical",
                src_options=case.options,
                registry=self.registry(),
            )
            assert docs.report.balanced, (case.id, docs.report.to_dict())
            want = case.expected_report or {}
            got = docs.report.to_dict()
            for key, value in want.items():
                assert got[key] == value, f"{case.id}: report[{key}] = {got[key]!r} != {value!r}"

    def test_detects_fixtures(self) -> None:
        if self.fixtures is None:
            return
        from memshift.sources import open_source

        for case in golden.find_cases(self.fixtures, self.format):
            with open_source(case.input) as source:
                found = self.registry().detect(source)
            assert found and found[0].name == self.format, f"{case.id}: detected {found[:2]}"
