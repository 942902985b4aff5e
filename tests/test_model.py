"""The canonical model: aware UTC only, immutable records, namespaced extensions, a versioned
schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from memshift import model
from memshift.model import (
    MAX_TEXT,
    SCHEMA_VERSION,
    Conversation,
    MemoryItem,
    Message,
    Participant,
    Reaction,
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


# -- trusted(): the hot-path constructor -----------------------------------------------


def _fields(**over: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "id": "m1",
        "conversation_id": "c1",
        "timestamp": datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "timestamp_raw": "2024-01-02T03:04:05.678+00:00",
        "sender_id": "u1",
        "sender_name": "Ana",
        "text": "hello",
        "extensions": {"discord:type": "Reply"},
    }
    fields.update(over)
    return fields


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    """trusted() as it runs outside the test suite (no cross-check)."""
    monkeypatch.setattr(model, "CHECK_TRUSTED", False)


@pytest.mark.usefixtures("production")
def test_trusted_equals_the_validated_record() -> None:
    fields = _fields()
    trusted = model.trusted(Message, fields)
    validated = Message.model_validate(fields)
    assert trusted == validated
    assert trusted.model_fields_set == validated.model_fields_set
    assert trusted.model_dump() == validated.model_dump()
    assert model.trusted(Message, _fields(extensions={})).extensions == {}
    # Defaults are fresh per record, never shared.
    a, b = (
        model.trusted(Message, {"id": "a", "conversation_id": "c"}),
        model.trusted(Message, {"id": "b", "conversation_id": "c"}),
    )
    assert a.extensions == {} and a.extensions is not b.extensions


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize(
    "over",
    [
        {"text": "x" * (MAX_TEXT + 1)},  # refused, exactly as validation refuses it
        {"timestamp": datetime(2024, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))},
        {"edited_at": datetime(2024, 1, 2, 3, 4, 5)},  # naive: refused
    ],
)
def test_what_a_reader_cannot_cheaply_check_is_validated(over: dict[str, object]) -> None:
    fields = _fields(**over)
    try:
        expected: object = Message.model_validate(fields)
    except ValueError as exc:
        with pytest.raises(ValueError):
            model.trusted(Message, fields)
        assert "validation error" in str(exc)
    else:
        got = model.trusted(Message, fields)
        assert got == expected
        assert got.timestamp is not None and got.timestamp.tzinfo is UTC


def test_the_test_suite_checks_every_trusted_record() -> None:
    """Under the suite (CHECK_TRUSTED), a reader that passes a wrong type is caught."""
    assert model.CHECK_TRUSTED
    with pytest.raises(AssertionError, match="refuses"):
        model.trusted(Message, _fields(sender_name=42))
    with pytest.raises(AssertionError, match="differs"):
        model.trusted(Message, _fields(attachments=[]))  # a list where the model keeps a tuple
    with pytest.raises(AssertionError, match="refuses"):
        model.trusted(Reaction, {"emoji": 5})
