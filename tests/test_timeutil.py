"""Timestamps are exact: Slack ts strings to the microsecond, float epochs rounded to the
millisecond, ISO strings with any offset, naive values only with a declared zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memshift import timeutil as t


def test_slack_ts_string_is_exact() -> None:
    dt = t.from_epoch_seconds("1452845865.000008")
    assert dt == datetime(2016, 1, 15, 8, 17, 45, 8, tzinfo=UTC)
    assert t.to_epoch_micros(dt) == 1452845865000008


def test_float_epoch_rounds_to_millisecond() -> None:
    # 1700000000.1229999 is .123 s to the millisecond; truncation would give .122
    assert t.to_epoch_ms(t.from_epoch_float_ms(1700000000.1229999)) == 1700000000123


def test_iso_offsets_and_long_fractions() -> None:
    assert t.parse_iso("2024-03-01T10:00:00.1234567+05:30") == datetime(
        2024, 3, 1, 4, 30, 0, 123456, tzinfo=UTC
    )
    assert t.parse_iso("2024-03-01T10:00:00Z").tzinfo is UTC


def test_naive_needs_a_declared_zone() -> None:
    with pytest.raises(t.TimestampError, match="no timezone"):
        t.parse_iso("2024-03-01 10:00:00")
    assert t.parse_iso("2024-03-01 10:00:00", naive_tz="UTC") == datetime(
        2024, 3, 1, 10, tzinfo=UTC
    )
    assert t.parse_iso("2024-07-01 10:00:00", naive_tz="Europe/Berlin") == datetime(
        2024, 7, 1, 8, tzinfo=UTC
    )


@pytest.mark.parametrize("bad", ["abc", "", "nan", "1e400", 1e308, float("nan")])
def test_bad_epochs_are_errors(bad: str | float) -> None:
    with pytest.raises(t.TimestampError):
        t.from_epoch_seconds(bad)


def test_out_of_range_is_an_error() -> None:
    with pytest.raises(t.TimestampError, match="out of range"):
        t.from_epoch_ms(10**17)


def test_format_iso() -> None:
    dt = datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert t.format_iso_ms(dt) == "2024-01-01T00:00:00.123Z"
    assert t.format_iso_ms(dt.replace(microsecond=0)) == "2024-01-01T00:00:00Z"
