"""Golden fixtures for every format: reading ``fixtures/<format>/<case>/input*`` gives exactly
``expected.jsonl``; the records survive a round trip through their own format (projected); the
conversion report adds up; and detection names the right format."""

from __future__ import annotations

import pytest

import memshift
from memshift.registry import Registry
from memshift.sources import open_source
from memshift.testing import golden
from memshift.testing.roundtrip import write_read

from ..conftest import FIXTURES

_REG = Registry()
CASES = [c for c in golden.find_cases(FIXTURES) if c.format in _REG.names()]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reader_matches_expected(case: golden.GoldenCase) -> None:
    assert case.expected_path.exists(), (
        f"{case.id}: expected.jsonl missing (python -m memshift.testing.golden)"
    )
    assert golden.read_case(case, _REG) == golden.load_expected(case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_roundtrip_through_own_format(case: golden.GoldenCase) -> None:
    adapter = _REG.get(case.format)
    if not adapter.can_write():
        pytest.skip(f"{case.format} is read-only")
    expected = adapter.project(golden.load_expected(case))
    assert write_read(case.format, expected, registry=_REG) == expected


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_report_accounts_for_every_record(case: golden.GoldenCase) -> None:
    docs = memshift.convert(
        case.input, None, src=case.format, dst="canonical", src_options=case.options, registry=_REG
    )
    report = docs.report
    assert report.balanced, report.to_dict()
    want = case.expected_report
    if want:
        got = report.to_dict()
        for key, value in want.items():
            assert got[key] == value, f"{case.id}: report[{key}] = {got[key]!r}, expected {value!r}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_detects_format(case: golden.GoldenCase) -> None:
    if (case.directory / "no-detect").exists():
        pytest.skip("case documents input that is deliberately ambiguous")
    with open_source(case.input) as source:
        found = _REG.detect(source)
    assert found, f"{case.id}: nothing detected"
    assert found[0].name == case.format, f"{case.id}: detected {found[:3]}"
