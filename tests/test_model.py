"""The canonical model: aware UTC only, immutable records, namespaced extensions, a versioned
schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from memshift.model import (
    SCHEMA_VERSION,
    Conversation,
    MemoryItem,
    Message,
    Participant,
    record_from_dict,
    record_json_schema,
)

SCHEMA_SNAPSHOT = Path(__file__).parent / "snapshots" / "record-schema.json"


def test_naive_datetime_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="naive datetime"):
        Message(id="1", conversation_id="c", timestamp=datetime(2024, 1, 1))


def test_aware_datetimes_are_normalised_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    msg = Message(id="1", conversation_id="c", timestamp=datetime(2024, 1, 1, 12, tzinfo=cet))
    assert msg.timestamp == datetime(2024, 1, 1, 11, tzinfo=UTC)
    assert msg.timestamp.tzinfo is UTC


def test_records_are_immutable() -> None:
    msg = Message(id="1", conversation_id="c")
    with pytest.raises(ValidationError):
        msg.text = "changed"  # type: ignore[misc]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        Message(id="1", conversation_id="c", colour="red")  # type: ignore[call-arg]


def test_extension_keys_must_be_namespaced() -> None:
    with pytest.raises(ValidationError, match="should match pattern"):
        Message(id="1", conversation_id="c", extensions={"blocks": []})
    assert Message(id="1", conversation_id="c", extensions={"slack:blocks": []}).extensions


def test_discriminated_union_round_trip() -> None:
    records = [
        Conversation(id="c", participants=(Participant(id="U1", name="Ann"),)),
        Message(id="1", conversation_id="c", timestamp=datetime(2024, 1, 1, tzinfo=UTC)),
        MemoryItem(id="m", type="triple", valid_from=datetime(2024, 1, 1, tzinfo=UTC)),
    ]
    for rec in records:
        assert record_from_dict(rec.model_dump(mode="json")) == rec


def test_json_schema_matches_snapshot() -> None:
    """A change to the model changes this snapshot: bump SCHEMA_VERSION (major for a break) and
    regenerate with ``MEMSHIFT_UPDATE_SNAPSHOTS=1``."""
    import os

    schema = record_json_schema()
    assert SCHEMA_VERSION in schema["$comment"]
    text = json.dumps(schema, indent=1, sort_keys=True) + "\n"
    if os.environ.get("MEMSHIFT_UPDATE_SNAPSHOTS") or not SCHEMA_SNAPSHOT.exists():
        SCHEMA_SNAPSHOT.parent.mkdir(exist_ok=True)
        SCHEMA_SNAPSHOT.write_text(text)
    assert SCHEMA_SNAPSHOT.read_text() == text
