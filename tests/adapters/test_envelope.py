"""Envelope edges the golden and property suites cannot express: scope templates, request bodies,
idempotency keys, the observed_at chain, cross-format round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import memshift
from memshift.context import Context
from memshift.errors import OptionsError, WriteError
from memshift.model import Conversation, MemoryItem, Message, Participant, Scope, Triple
from memshift.registry import Registry
from memshift.sinks import Sink
from memshift.testing.roundtrip import read_bytes, write_bytes

from ..conftest import FIXTURES

_REG = Registry()
T0 = datetime(2026, 5, 15, 10, 42, tzinfo=UTC)


def _chat() -> list[Any]:
    return [
        Conversation(
            id="conv-1",
            type="personal",
            participants=(Participant(id="alice", role="user"), Participant(id="bot", is_bot=True)),
        ),
        Message(
            id="m1",
            conversation_id="conv-1",
            role="user",
            sender_id="alice",
            timestamp=T0,
            text="Just got off a call with Priya at Acme.",
        ),
        Message(
            id="m2",
            conversation_id="conv-1",
            role="assistant",
            sender_id="bot",
            timestamp=T0.replace(second=4),
            text="How did it go?",
        ),
    ]


def _lines(records: list[Any], **options: Any) -> list[dict[str, Any]]:
    docs = write_bytes("envelope", records, options=options, registry=_REG)
    (data,) = docs.values()
    return [json.loads(line) for line in data.splitlines()]


def test_message_lines_follow_the_cortexdb_envelope() -> None:
    lines = _lines(_chat(), scope_template="org:acme/user:{user_id}")
    first = lines[0]
    assert first["user_id"] == "alice"
    assert first["modality"] == "conversation"
    assert first["content"] == {
        "kind": "message", "role": "user", "text": "Just got off a call with Priya at Acme.",
    }  # fmt: skip
    assert first["context"] == {"observed_at": "2026-05-15T10:42:00Z"}
    assert len(first["idempotency_key"]) <= 64
    assert "scope" not in first


def test_idempotency_keys_are_deterministic_and_namespaced() -> None:
    a = write_bytes("envelope", _chat(), registry=_REG)
    b = write_bytes("envelope", _chat(), registry=_REG)
    assert a == b
    keys = [line["idempotency_key"] for line in _lines(_chat())]
    other = [line["idempotency_key"] for line in _lines(_chat(), key_namespace="export-2")]
    assert len(set(keys)) == 2 and not set(keys) & set(other)
    assert all(len(k) <= 64 for k in keys + other)


def test_unknown_placeholder_is_an_options_error_naming_it() -> None:
    with pytest.raises(OptionsError, match=r"\{tenant\}"):
        memshift.write(
            _chat(), None, "envelope", options={"scope_template": "org:{tenant}"}, registry=_REG
        )
    with pytest.raises(OptionsError, match="scope_template"):
        memshift.write(_chat(), None, "envelope", options={"request_body": "jsonl"}, registry=_REG)


def test_record_lacking_a_template_field_is_rejected_with_the_reason() -> None:
    records = [
        Conversation(id="g", type="group"),
        Message(id="1", conversation_id="g", sender_id="U1", timestamp=T0, text="hi"),
    ]
    adapter = _REG.get("envelope")
    opts = adapter.WriteOptions(scope_template="org:acme/user:{user_id}")
    with pytest.raises(WriteError, match="no user_id for scope_template"):
        adapter.write(records, Sink("memory"), opts, Context())
    ctx = Context(on_error="skip")
    adapter.write(records, Sink("memory"), opts, ctx)
    assert ctx.report.rejected == 1 and ctx.write_dropped == 1
    # a template on the sender works for group chats
    lines = _lines(records, scope_template="org:acme/user:{sender_id}", resolve_scope=True)
    assert lines[0]["scope"] == "org:acme/user:U1"


def test_scope_segment_rules_are_enforced() -> None:
    item = MemoryItem(id="x", scope=Scope(user_id="a/b"), text="t", created_at=T0)
    adapter = _REG.get("envelope")
    opts = adapter.WriteOptions(scope_template="org:acme/user:{user_id}")
    with pytest.raises(WriteError, match="not type:id"):
        adapter.write([item], Sink("memory"), opts, Context())


def test_zep_triples_keep_bitemporal_fields_exactly() -> None:
    edge = MemoryItem(
        id="e2b3c4d5",
        type="triple",
        scope=Scope(user_id="jane"),
        text="Jane worked at Initech",
        triple=Triple(subject="Jane", predicate="WORKED_AT", object="Initech"),
        created_at=datetime(2025, 6, 1, 13, 11, 20, 500000, tzinfo=UTC),
        valid_from=datetime(2019, 5, 13, tzinfo=UTC),
        valid_to=datetime(2024, 2, 29, tzinfo=UTC),
        extensions={"zep:expired_at": "2025-06-02T09:15:00.000000001Z"},
    )
    (line,) = _lines([edge])
    assert line["content"]["kind"] == "triple"
    assert line["content"]["triple"] == {
        "subject": "Jane",
        "predicate": "WORKED_AT",
        "object": "Initech",
    }
    assert line["context"] == {
        "observed_at": "2025-06-01T13:11:20.500000Z",
        "source_recorded_at": "2025-06-01T13:11:20.500000Z",
        "valid_from": "2019-05-13T00:00:00Z",
        "valid_to": "2024-02-29T00:00:00Z",
    }
    back = read_bytes("envelope", write_bytes("envelope", [edge], registry=_REG), registry=_REG)
    assert back == [edge]


def test_zep_to_envelope_to_canonical_loses_nothing() -> None:
    case = FIXTURES / "zep" / "graph-edges-bitemporal"
    if "zep" not in _REG.names() or not case.exists():
        pytest.skip("the zep adapter or its fixture is not here")
    options = (
        json.loads((case / "options.json").read_text()) if (case / "options.json").exists() else {}
    )
    src = next(p for p in case.iterdir() if p.name.startswith("input"))
    direct = list(memshift.read(src, "zep", options=options, registry=_REG))
    via = read_bytes("envelope", write_bytes("envelope", direct, registry=_REG), registry=_REG)
    assert via == direct


def test_mem0_memories_map_text_time_and_labels() -> None:
    mem = MemoryItem(
        id="055f1c3a",
        scope=Scope(user_id="user_reducted"),
        text="Read the book 'Extraordinaires' 10 years ago.",
        created_at=datetime(2015, 7, 24, 5, 44, 8, tzinfo=UTC),
        updated_at=datetime(2025, 7, 24, 8, 44, 19, 391303, tzinfo=UTC),
        categories=("entertainment",),
        metadata={"favorite_book": "Extraordinaires"},
    )
    (line,) = _lines([mem])
    assert line["modality"] == "imported"
    assert line["content"] == {"kind": "text", "text": mem.text}
    assert line["context"]["observed_at"] == "2015-07-24T05:44:08Z"
    assert line["context"]["labels"] == ["entertainment"]
    (row_body,) = memshift.write(
        [mem],
        None,
        "envelope",
        options={"request_body": "mem0", "scope_template": "org:acme/user:{user_id}"},
        registry=_REG,
    )
    assert row_body == {
        "scope_template": "org:acme/user:{user_id}",
        "rows": [
            {
                "user_id": "user_reducted",
                "memory": mem.text,
                "timestamp": "2015-07-24T05:44:08Z",
                "metadata": {"favorite_book": "Extraordinaires", "categories": ["entertainment"]},
            }
        ],
    }


def test_letta_blocks_become_documents_with_label_as_intent(real_samples: Path) -> None:
    records = list(memshift.read(real_samples / "letta" / "loop.af", "letta", registry=_REG))
    docs = memshift.convert(
        real_samples / "letta" / "loop.af", None, src="letta", dst="envelope", registry=_REG
    )
    blocks = [d for d in docs if d["modality"] == "document"]
    assert [b["context"]["intent"] for b in blocks][:2] == ["about_user", "active_hypotheses"]
    assert {b["context"]["observed_at"] for b in blocks} == {"2026-01-22T02:06:35.101954Z"}
    assert docs.report.notes["observed_at_source"] == {"message timestamp": 3, "observed_at": 9}
    assert docs.report.balanced
    back = read_bytes("envelope", write_bytes("envelope", records, registry=_REG), registry=_REG)
    assert [r for r in back if isinstance(r, MemoryItem)] == [
        r for r in records if isinstance(r, MemoryItem)
    ]


def test_blocks_without_time_wait_for_the_option() -> None:
    block = MemoryItem(id="human", type="block", label="human", text="Ana", limit=100)
    docs = memshift.write([block], None, "envelope", registry=_REG)
    assert list(docs) == [] and docs.report.balanced
    assert docs.report.filtered_total == 1
    docs = memshift.write(
        [block], None, "envelope", options={"observed_at": "2026-01-01T00:00:00Z"}, registry=_REG
    )
    (line,) = docs
    assert line["context"]["observed_at"] == "2026-01-01T00:00:00Z"
    assert docs.report.notes["observed_at_source"] == {"option observed_at": 1}
    back = read_bytes(
        "envelope",
        write_bytes(
            "envelope",
            [block],
            options={"observed_at": "2026-01-01T00:00:00Z"},
            registry=_REG,
        ),
        registry=_REG,
    )
    assert back == [block]  # the option's time is not passed off as the block's own
    with pytest.raises(OptionsError, match="observed_at"):
        memshift.write(
            [block], None, "envelope", options={"observed_at": "2026-01-01T00:00:00"}, registry=_REG
        )


@pytest.mark.parametrize("mode", ["jsonl", "mem0", "zep", "letta", "openai"])
def test_request_bodies_read_back(mode: str) -> None:
    records: list[Any] = [
        *_chat(),
        MemoryItem(
            id="f1",
            scope=Scope(user_id="alice", agent_id="bot"),
            text="Is vegetarian",
            created_at=T0,
            label="diet",
            limit=500,
        ),
        MemoryItem(
            id="f2",
            scope=Scope(user_id="alice", agent_id="bot"),
            text="Lives in Lisbon",
            created_at=T0,
            valid_from=T0,
            label="home",
            limit=500,
        ),
    ]
    template = "org:acme/user:{user_id}"
    options = {"request_body": mode, "scope_template": template, "rows_per_request": 2}
    docs = write_bytes("envelope", records, options=options, registry=_REG)
    bodies = [json.loads(v) for v in docs.values()]
    back = read_bytes("envelope", docs, registry=_REG)
    if mode == "jsonl":
        assert [len(b["lines"]) for b in bodies] == [2, 2]
        assert all(b["scope_template"] == template for b in bodies)
        assert back == records
        return
    (body,) = bodies
    if mode in ("letta", "openai"):
        assert body["scope"] == "org:acme/user:alice"
    else:
        assert body["scope_template"] == template
    assert len(body["rows"]) == 2
    assert [m.text for m in back] == ["Is vegetarian", "Lives in Lisbon"]
    if mode == "letta":
        assert body["rows"][0] == {"block_label": "diet", "value": "Is vegetarian", "limit": 500}
        assert back[0].scope == Scope(user_id="alice")
    if mode == "zep":
        assert body["rows"][1]["valid_from"] == "2026-05-15T10:42:00Z"
        assert back[1].valid_from == T0


def test_messages_are_counted_when_the_body_holds_memories_only() -> None:
    docs = memshift.write(
        _chat(),
        None,
        "envelope",
        options={"request_body": "mem0", "scope_template": "u:{user_id}"},
        registry=_REG,
    )
    assert docs.report.balanced and docs.report.filtered_total == 2


def test_foreign_envelopes_group_by_user() -> None:
    records = list(
        memshift.read(
            FIXTURES / "envelope" / "conversation" / "input.jsonl", "envelope", registry=_REG
        )
    )
    assert isinstance(records[0], Conversation) and records[0].id == "alice"
    assert [m.role for m in records[1:]] == ["user", "assistant", "user", "tool"]
    assert records[3].timestamp == datetime(2026, 5, 15, 10, 43, 10, tzinfo=UTC)
