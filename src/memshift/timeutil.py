"""Timestamps: parse every spelling the sources use into aware UTC, exactly.

``datetime.fromisoformat`` is the fast path (about 90x faster than dateutil's ``isoparse``), and
dateutil is the fallback for the rare spellings it refuses. Epoch values are converted with integer
arithmetic so that ``1452845865.000008`` stays exact to the microsecond and float epochs round to
the nearest millisecond instead of truncating.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation

from dateutil import parser as _du_parser

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_YEAR, _MAX_YEAR = 1970, 2200


class TimestampError(ValueError):
    """A value is not a usable timestamp; the message says why in a few words."""


def _check_range(dt: datetime, raw: object) -> datetime:
    if not _MIN_YEAR <= dt.year <= _MAX_YEAR:
        raise TimestampError(f"timestamp out of range: {raw!r}")
    return dt


def parse_iso(value: str, *, naive_tz: str | None = None) -> datetime:
    """Parse ISO 8601 / RFC 3339 into aware UTC.

    A value without an offset is an error unless ``naive_tz`` says what it means (``"UTC"`` for
    Discord's data package, a ConversationFormat ``default_timezone``); we never assume local time.
    """
    if not isinstance(value, str):
        raise TimestampError(f"not an ISO 8601 timestamp: {value!r}")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        try:
            dt = _du_parser.isoparse(value)
        except (ValueError, OverflowError):
            raise TimestampError(f"not an ISO 8601 timestamp: {value!r}") from None
    if dt.tzinfo is None:
        if naive_tz is None:
            raise TimestampError(f"timestamp has no timezone: {value!r}")
        dt = dt.replace(tzinfo=zone(naive_tz))
    return _check_range(dt.astimezone(UTC), value)


def zone(name: str) -> tzinfo:
    """An IANA zone by name (``UTC`` is special-cased so the common case needs no tz database)."""
    if name.upper() in ("UTC", "Z", "GMT", "ETC/UTC"):
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimestampError(f"unknown timezone: {name!r}") from None


def from_epoch_seconds(value: float | int | str) -> datetime:
    """Unix seconds (int, float or decimal string) to aware UTC, exact to the microsecond for
    strings and ints, rounded to the nearest microsecond for floats."""
    if isinstance(value, bool):
        raise TimestampError(f"not a Unix timestamp: {value!r}")
    if isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise TimestampError(f"not a Unix timestamp: {value!r}") from None
        if not d.is_finite():
            raise TimestampError(f"not a Unix timestamp: {value!r}")
        micros = int((d * 1_000_000).to_integral_value())
    elif isinstance(value, int):
        micros = value * 1_000_000
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TimestampError(f"not a Unix timestamp: {value!r}")
        try:
            micros = round(value * 1_000_000)
        except OverflowError:
            raise TimestampError(f"timestamp out of range: {value!r}") from None
    else:
        raise TimestampError(f"not a Unix timestamp: {value!r}")
    try:
        return _check_range(EPOCH + timedelta(microseconds=micros), value)
    except OverflowError:
        raise TimestampError(f"timestamp out of range: {value!r}") from None


def from_epoch_float_ms(value: float | int) -> datetime:
    """Float Unix seconds (ChatGPT ``create_time``) rounded to the nearest millisecond: floats
    carry ~0.1 us of noise, and truncating turns ``.1229999`` into the wrong millisecond."""
    dt = from_epoch_seconds(value)
    return round_ms(dt)


def from_epoch_ms(value: int | float) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TimestampError(f"not a millisecond timestamp: {value!r}")
    try:
        return _check_range(EPOCH + timedelta(milliseconds=value), value)
    except OverflowError:
        raise TimestampError(f"timestamp out of range: {value!r}") from None


def to_epoch_ms(dt: datetime) -> int:
    """Milliseconds since the epoch, truncated toward the earlier millisecond (floor)."""
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def to_epoch_micros(dt: datetime) -> int:
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def round_ms(dt: datetime) -> datetime:
    micros = dt.microsecond
    rounded = (micros + 500) // 1000 * 1000
    if rounded == micros:
        return dt
    return dt.replace(microsecond=0) + timedelta(microseconds=rounded)


def floor_ms(dt: datetime) -> datetime:
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


def format_iso(dt: datetime, *, timespec: str = "auto") -> str:
    """RFC 3339 in UTC with a ``Z`` suffix, the spelling importers accept most widely."""
    text = dt.astimezone(UTC).isoformat(timespec=timespec)
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def format_iso_ms(dt: datetime) -> str:
    """RFC 3339 UTC with milliseconds only when they are non-zero."""
    dt = dt.astimezone(UTC)
    if dt.microsecond:
        return format_iso(floor_ms(dt), timespec="milliseconds")
    return format_iso(dt, timespec="seconds")
