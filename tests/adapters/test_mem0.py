"""``mem0`` edges the golden and property suites cannot express: write modes and scope options,
chunking, provenance, determinism, losses and the report's accounting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import memshift
from memshift.context import Context
from memshift.errors import OptionsError, ReadError, WriteError
from memshift.model import Conversation, MemoryItem, Message, Participant, Scope, Triple
from memshift.registry import Registry
from memshift.sources import open_source
from memshift.testing.roundtrip import read_bytes, write_bytes

from ..conftest import FIXTURES

REG = Registry()
T0 = datetime(2024, 4, 5, 19, 33, 20, tzinfo=UTC)


def _conversation(n: int = 3, *, cid: str = "C01", personal: bool = True) -> list[Any]:
    people = (
        Participant(id="U1", name="Dana", role="user"),
        Participant(id="B1", name="Trip Assistant", role="assistant", is_bot=True),
    )
    conv = Conversation(id=cid, type="personal" if personal else "group", participants=people)
    msgs = [
        Message(
            id=f"{cid}-m{i}",
            conversation_id=cid,
            role="user" if i % 2 == 0 else "assistant",
            sender_id="U1" if i % 2 == 0 else "B1",
            sender_name="Dana" if i % 2 == 0 else "Trip Assistant",
            timestamp=T0 + timedelta(seconds=30 * i, microseconds=100 * i),
            text=f"message number {i}",
        )
        for i in range(n)
    ]
    return [conv, *msgs]


def _lines(docs: dict[str, bytes]) -> list[dict[str, Any]]:
    (data,) = docs.values()
    return [json.loads(line) for line in data.splitlines()]


def test_conversation_becomes_add_payloads_in_chunks() -> None:
    lines = _lines(write_bytes("mem0", _conversation(45), registry=REG))
    assert [len(p["messages"]) for p in lines] == [20, 20, 5]
    first = lines[0]
    assert first["user_id"] == "U1" and first["run_id"] == "C01"
    assert first["messages"][0] == {"role": "user", "content": "message number 0", "name": "Dana"}
    md = first["metadata"]
    assert md["source_conversation_id"] == "C01"
    assert md["source_message_ids"][:2] == ["C01-m0", "C01-m1"]
    assert md["source_sender_ids"][:2] == ["U1", "B1"]
    assert md["source_timestamps"][1] == "2024-04-05T19:33:50.000100+00:00"
    # The call is dated by its newest message, never by the import.
    assert first["timestamp"] == int((T0 + timedelta(seconds=30 * 19)).timestamp())


def test_chunk_size_option_and_limits_declared() -> None:
    adapter = REG.get("mem0")
    assert adapter.limits["messages_per_call"] == 20
    lines = _lines(write_bytes("mem0", _conversation(7), options={"messages_per_call": 3}))
    assert [len(p["messages"]) for p in lines] == [3, 3, 1]


def test_scope_templates_and_fixed_values() -> None:
    recs = _conversation(2)
    lines = _lines(
        write_bytes(
            "mem0",
            recs,
            options={"user_id": "alice", "agent_id": "planner-{conversation_id}", "run_id": ""},
        )
    )
    assert lines[0]["user_id"] == "alice"
    assert lines[0]["agent_id"] == "planner-C01"
    assert "run_id" not in lines[0]


def test_unknown_placeholder_is_an_options_error() -> None:
    with pytest.raises(OptionsError, match="unknown placeholder"):
        memshift.write(_conversation(1), None, "mem0", options={"user_id": "{channel}"})


def test_group_conversation_has_no_user_and_is_scoped_by_run() -> None:
    conv = Conversation(
        id="C0GENERAL",
        type="group",
        participants=(Participant(id="U1", name="A"), Participant(id="U2", name="B")),
    )
    msg = Message(id="1", conversation_id="C0GENERAL", sender_id="U1", text="hello", timestamp=T0)
    (line,) = _lines(write_bytes("mem0", [conv, msg]))
    assert "user_id" not in line and line["run_id"] == "C0GENERAL"


def test_conversation_without_any_scope_is_counted_not_written() -> None:
    conv = Conversation(id="C9", type="group")
    msgs = [Message(id=str(i), conversation_id="C9", text="x", timestamp=T0) for i in range(3)]
    docs = memshift.write([conv, *msgs], None, "mem0", options={"run_id": ""})
    assert list(docs) == []
    report = docs.report
    assert report.written == 0 and report.balanced
    assert sum(report.filtered.values()) == 3
    assert any("run_id" in reason for reason in report.filtered)


def test_whitespace_in_scope_id_is_rejected_with_write_error() -> None:
    with pytest.raises(WriteError, match="whitespace"):
        memshift.write(_conversation(1), None, "mem0", options={"user_id": "Dana Smith"})


def test_read_back_add_payloads_keeps_ids_times_and_senders() -> None:
    recs = _conversation(25)
    back = read_bytes("mem0", write_bytes("mem0", recs))
    assert isinstance(back[0], Conversation) and back[0].id == "C01"
    assert back[0].extensions == {"mem0:user_id": "U1", "mem0:run_id": "C01"}
    msgs = [r for r in back if isinstance(r, Message)]
    assert [m.id for m in msgs] == [m.id for m in recs[1:]]
    assert [m.timestamp for m in msgs] == [m.timestamp for m in recs[1:]]
    assert [m.sender_id for m in msgs] == [m.sender_id for m in recs[1:]]


def test_without_provenance_ids_are_derived_and_losses_reported() -> None:
    docs = memshift.write(_conversation(3), None, "mem0", options={"provenance": False})
    assert "metadata" not in docs[0]
    assert {"timestamp", "sender_id"} <= set(docs.report.losses)
    back = read_bytes("mem0", write_bytes("mem0", _conversation(3), options={"provenance": False}))
    msgs = [r for r in back if isinstance(r, Message)]
    assert [m.id for m in msgs] == ["C01:1", "C01:2", "C01:3"]
    assert all(m.timestamp is None and "mem0:timestamp" in m.extensions for m in msgs)


def test_oss_mode_without_timestamp_and_explicit_infer() -> None:
    (line,) = _lines(
        write_bytes("mem0", _conversation(2), options={"add_timestamp": False, "infer": False})
    )
    assert "timestamp" not in line and line["infer"] is False


def test_tool_role_and_unwritable_messages() -> None:
    conv, *msgs = _conversation(2)
    extra = [
        Message(id="t1", conversation_id="C01", role="tool", text="{'ok': true}", timestamp=T0),
        Message(id="e1", conversation_id="C01", type="tool_call", text="search()", timestamp=T0),
        Message(id="x1", conversation_id="C01", text="", timestamp=T0),
    ]
    docs = memshift.write([conv, *msgs, *extra], None, "mem0")
    (payload,) = list(docs)
    assert [m["role"] for m in payload["messages"]] == ["user", "assistant", "assistant"]
    report = docs.report
    assert "role" in report.losses
    assert report.written == 3 and sum(report.filtered.values()) == 2 and report.balanced


def test_memory_rows_shape_and_read_back() -> None:
    item = MemoryItem(
        id="x1",
        type="triple",
        scope=Scope(user_id="alice", run_id="r1"),
        triple=Triple(subject="Alice", predicate="LIVES_IN", object="Lisbon"),
        created_at=datetime(2026, 5, 1, 12, 34, 56, 789012, tzinfo=UTC),
        categories=("personal_details",),
        metadata={"source": "crm", "user_id": "evil"},
        extensions={"mem0:hash": "abc", "slack:blocks": []},
    )
    docs = memshift.write([item], None, "mem0")
    (row,) = list(docs)
    assert row == {
        "id": "x1",
        "memory": "Alice LIVES_IN Lisbon",
        "hash": "abc",
        "user_id": "alice",
        "run_id": "r1",
        "categories": ["personal_details"],
        "metadata": {"source": "crm"},
        "created_at": "2026-05-01T12:34:56.789012+00:00",
        "timestamp": 1777638896,
    }
    assert {"type", "metadata", "triple", "extensions[slack:blocks]"} <= set(docs.report.losses)


def test_memory_without_scope_uses_fallback_or_is_counted() -> None:
    item = MemoryItem(id="x1", text="Likes tea")
    docs = memshift.write([item], None, "mem0")
    assert list(docs) == [] and docs.report.balanced and docs.report.written == 0
    docs = memshift.write([item], None, "mem0", options={"fallback_user_id": "alice"})
    assert docs[0]["user_id"] == "alice"


def test_modes_select_what_is_written() -> None:
    recs = [*_conversation(2), MemoryItem(id="x1", scope=Scope(user_id="U1"), text="Likes tea")]
    rows = memshift.write(recs, None, "mem0", options={"mode": "rows"})
    assert [("memory" in r) for r in rows] == [True]
    assert rows.report.balanced and rows.report.written == 1
    adds = memshift.write(recs, None, "mem0", options={"mode": "add"})
    assert [("messages" in r) for r in adds] == [True]
    assert adds.report.balanced and adds.report.written == 2


def test_memory_item_mid_conversation_keeps_order() -> None:
    conv, m0, m1, m2 = _conversation(3)
    item = MemoryItem(id="x1", scope=Scope(user_id="U1"), text="Likes tea")
    back = read_bytes("mem0", write_bytes("mem0", [conv, m0, item, m1, m2]))
    assert [r.id for r in back] == ["C01", "C01-m0", "x1", "C01-m1", "C01-m2"]


def test_two_runs_give_identical_bytes(tmp_path: Path) -> None:
    src = FIXTURES / "mem0" / "add-payloads" / "input.jsonl"
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    memshift.convert(src, a, src="mem0", dst="mem0")
    memshift.convert(src, b, src="mem0", dst="mem0")
    assert a.read_bytes() == b.read_bytes()
    # Payloads are re-chunked (the two C01TRIP calls become one), and that output is a fixpoint.
    assert len(a.read_bytes().splitlines()) == 3
    c = tmp_path / "c.jsonl"
    memshift.convert(a, c, src="mem0", dst="mem0")
    assert c.read_bytes() == a.read_bytes()


def test_records_round_trip_keeps_offsets_and_extras(tmp_path: Path) -> None:
    src = FIXTURES / "mem0" / "results-envelope" / "input.json"
    out = tmp_path / "rows.jsonl"
    memshift.convert(src, out, src="mem0", dst="mem0")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["created_at"] == "2015-07-23T22:44:08-07:00"  # the source's own spelling
    assert rows[0]["structured_attributes"]["day_of_week"] == "friday"
    assert rows[1]["run_id"] == "chat-0411" and rows[1]["session_id"] == "chat-0411"
    assert rows[0]["timestamp"] == 1437716648


def test_reader_streams_stdin_jsonl_and_objects() -> None:
    data = (FIXTURES / "mem0" / "jsonl-records-and-rows" / "input.jsonl").read_bytes()
    from_bytes = list(memshift.read(data, "mem0"))
    objects = [json.loads(line) for line in data.splitlines() if line.strip()]
    from_objects = list(memshift.read(objects, "mem0"))
    assert [r.id for r in from_bytes] == [r.id for r in from_objects]
    assert len(from_bytes) == 4


def test_naive_time_error_suggests_the_option() -> None:
    data = b'[{"id": "a", "memory": "x", "created_at": "2024-08-14T16:20:11"}]'
    with pytest.raises(ReadError, match="naive_timezone"):
        list(memshift.read(data, "mem0"))


def test_skip_mode_balances_report(tmp_path: Path) -> None:
    src = FIXTURES / "bad" / "mem0-duplicate-id" / "input.json"
    report = memshift.convert(src, tmp_path / "o.jsonl", src="mem0", dst="mem0", on_error="skip")
    assert report.rejected == 1 and report.written == 2 and report.balanced


def test_detection_reasons() -> None:
    for case, fragment in [
        ("results-envelope", "get_all"),
        ("add-payloads", "add() payloads"),
        ("jsonl-records-and-rows", "'memory' text"),
    ]:
        path = next((FIXTURES / "mem0" / case).glob("input*"))
        with open_source(path) as source:
            found = REG.detect(source)
        assert found[0].name == "mem0" and fragment in found[0].reason


def test_context_counts_for_direct_writer_use() -> None:
    ctx = Context(on_loss="ignore")
    adapter = REG.get("mem0")
    from memshift.sinks import Sink

    sink = Sink("memory")
    adapter.write(_conversation(3), sink, adapter.WriteOptions(), ctx)
    sink.commit()
    assert ctx.write_dropped == 0
    assert list(sink.memory_documents) == ["memories.jsonl"]
