"""``zep`` edges the golden and property suites cannot express: batch files and their 50,000-item
split, over-long content, untimed messages, the v4 dialect, the three write modes, exact
bi-temporal facts, limits and the report's accounting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import memshift
from memshift.errors import WriteError
from memshift.model import Conversation, MemoryItem, Message, Participant, Scope, Triple
from memshift.registry import Registry
from memshift.testing.roundtrip import read_bytes, write_bytes

from ..conftest import FIXTURES

REG = Registry()
T0 = datetime(2025, 6, 1, 13, 11, 12, tzinfo=UTC)
ZEP = FIXTURES / "zep"


def _thread(n: int, tid: str = "t-42", *, text: str = "hello {i}") -> list[Any]:
    conv = Conversation(
        id=tid, type="personal", participants=(Participant(id="U1", name="Jane", role="user"),)
    )
    msgs = [
        Message(
            id=f"{tid}-{i}",
            conversation_id=tid,
            role="user" if i % 2 == 0 else "assistant",
            sender_id="U1" if i % 2 == 0 else None,
            sender_name="Jane" if i % 2 == 0 else "Support Bot",
            timestamp=T0 + timedelta(seconds=i),
            text=text.format(i=i),
        )
        for i in range(n)
    ]
    return [conv, *msgs]


def _lines(docs: dict[str, bytes]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in sorted(docs, key=lambda n: (n.count("."), n)):
        out.extend(json.loads(line) for line in docs[name].splitlines())
    return out


# -- batch files -----------------------------------------------------------------------------------


def test_batch_items_shape_v3() -> None:
    (a, b) = _lines(write_bytes("zep", _thread(2), registry=REG))
    assert a == {
        "type": "thread_message",
        "thread_id": "t-42",
        "role": "user",
        "name": "Jane",
        "content": "hello 0",
        "created_at": "2025-06-01T13:11:12Z",
        "metadata": {"source_id": "t-42-0", "source_sender_id": "U1"},
    }
    assert b["role"] == "assistant" and b["metadata"] == {"source_id": "t-42-1"}


def test_real_default_splits_at_50000_items(tmp_path: Path) -> None:
    conv = Conversation(id="big", type="personal")
    stamp = T0
    msgs = [
        Message(id=str(i), conversation_id="big", timestamp=stamp, text="x") for i in range(50_001)
    ]
    out = tmp_path / "batch.jsonl"
    report = memshift.write([conv, *msgs], out, "zep")
    second = tmp_path / "batch.0002.jsonl"
    assert report.written == 50_001 and report.balanced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch.0002.jsonl", "batch.jsonl"]
    with open(out, "rb") as fh:
        assert sum(1 for _ in fh) == 50_000
    (last,) = second.read_text().splitlines()
    assert json.loads(last)["metadata"]["source_id"] == "50000"
    assert report.notes["zep:batch_files"] == 2


def test_small_max_items_per_file_keeps_source_order(tmp_path: Path) -> None:
    recs = _thread(7)
    memshift.write(recs, tmp_path / "batch.jsonl", "zep", options={"max_items_per_file": 3})
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["batch.0002.jsonl", "batch.0003.jsonl", "batch.jsonl"]
    sizes = [len((tmp_path / n).read_text().splitlines()) for n in names]
    assert sorted(sizes) == [1, 3, 3]
    back = list(memshift.read(tmp_path, "zep"))  # the folder: parts in part order
    assert [r.id for r in back] == [r.id for r in recs]


def test_two_runs_are_byte_identical(tmp_path: Path) -> None:
    src = ZEP / "batch-items" / "input.jsonl"
    memshift.convert(src, tmp_path / "a.jsonl", src="zep", dst="zep")
    memshift.convert(src, tmp_path / "b.jsonl", src="zep", dst="zep")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_items_of_one_thread_stay_in_source_order_and_episodes_in_place() -> None:
    conv, m0, m1, m2 = _thread(3)
    item = MemoryItem(id="f1", scope=Scope(user_id="jane"), text="Jane is on the Pro plan")
    lines = _lines(write_bytes("zep", [conv, m0, item, m1, m2]))
    assert [line["type"] for line in lines] == [
        "thread_message",
        "graph_episode",
        "thread_message",
        "thread_message",
    ]
    assert [line.get("content") for line in lines if "content" in line] == [
        "hello 0",
        "hello 1",
        "hello 2",
    ]


# -- content limits --------------------------------------------------------------------------------


def test_long_message_split_at_sentence_boundaries_and_rejoined() -> None:
    sentence = "The replica lag caused the errors. "
    text = sentence * 100  # 3,500 characters
    conv, msg = _thread(1, text=text)
    docs = memshift.write([conv, msg], None, "zep")
    parts = list(docs)
    assert len(parts) == 2
    assert all(len(p["content"]) <= 2500 for p in parts)
    assert all(p["content"].endswith(". ") or p is parts[-1] for p in parts)
    assert "".join(p["content"] for p in parts) == text
    assert [p["metadata"]["source_part"] for p in parts] == ["1/2", "2/2"]
    assert docs.report.notes["zep:split_messages"] == 1
    assert any("split" in w for w in docs.report.warnings)
    back = read_bytes("zep", write_bytes("zep", [conv, msg]))
    assert [m.text for m in back if isinstance(m, Message)] == [text]
    paid = list(memshift.write([conv, msg], None, "zep", options={"max_message_chars": 14000}))
    assert len(paid) == 1


def test_split_is_deterministic_without_sentences() -> None:
    text = "word " * 700 + "x" * 3000
    _conv, msg = _thread(1, text=text)
    one = write_bytes("zep", [msg])
    two = write_bytes("zep", [msg])
    assert one == two
    parts = [line["content"] for line in _lines(one)]
    assert "".join(parts) == text and all(len(p) <= 2500 for p in parts)


def test_long_memory_item_becomes_episode_parts() -> None:
    item = MemoryItem(
        id="doc1",
        type="document",
        scope=Scope(group_id="handbook"),
        text="Section one explains the rules. " * 400,
    )
    lines = _lines(write_bytes("zep", [item]))
    assert len(lines) == 2 and all(len(line["data"]) <= 10_000 for line in lines)
    assert lines[0]["graph_id"] == "handbook"
    (back,) = read_bytes("zep", write_bytes("zep", [item]))
    assert back.text == item.text and back.id == "doc1" and back.type == "document"


def test_limits_declared_and_violations_reported() -> None:
    adapter = REG.get("zep")
    assert adapter.limits["messages_per_call"] == 30
    assert adapter.limits["message_chars"] == 2500
    assert adapter.limits["items_per_call"] == 500
    assert adapter.limits["items_per_batch"] == 50_000
    records = list(memshift.read(ZEP / "over-limit-content" / "input.json", "zep"))
    problems = [p for r in records for p in adapter.limit_violations(r)]
    assert problems == ["message_chars: 2545 > 2500"]
    wide = Message(
        id="m",
        conversation_id="t",
        text="x",
        extensions={"zep:metadata": {str(i): i for i in range(12)}},
    )
    assert adapter.limit_violations(wide) == ["metadata_keys: 12 > 10"]
    big = MemoryItem(id="d", scope=Scope(user_id="u"), text="y" * 10_001)
    assert adapter.limit_violations(big) == ["episode_chars: 10001 > 10000"]


def test_metadata_trimmed_to_zep_rules() -> None:
    md = {f"k{i}": i for i in range(10)} | {"nested": {"a": 1}}
    msg = Message(
        id="m1", conversation_id="t", text="hi", timestamp=T0, extensions={"zep:metadata": md}
    )
    docs = memshift.write([msg], None, "zep")
    (line,) = list(docs)
    assert len(line["metadata"]) == 10 and line["metadata"]["source_id"] == "m1"
    assert "nested" not in line["metadata"]
    assert "metadata" in docs.report.losses


# -- times -----------------------------------------------------------------------------------------


def _untimed() -> list[Any]:
    conv = Conversation(id="t", type="personal")
    return [
        conv,
        Message(id="sys", conversation_id="t", role="system", text="You are helpful."),
        Message(id="a", conversation_id="t", text="one", timestamp=T0),
        Message(id="b", conversation_id="t", role="assistant", text="two"),
        Message(id="c", conversation_id="t", text="three", timestamp=T0 + timedelta(minutes=1)),
    ]


def test_untimed_inherit_is_the_default_and_never_the_import_time() -> None:
    docs = memshift.write(_untimed(), None, "zep")
    times = [line["created_at"] for line in docs]
    assert times == ["2025-06-01T13:11:12Z"] * 3 + ["2025-06-01T13:12:12Z"]
    assert docs.report.losses["timestamp"].count == 2


def test_untimed_omit_and_reject() -> None:
    docs = memshift.write(_untimed(), None, "zep", options={"untimed": "omit"})
    assert [("created_at" in line) for line in docs] == [False, True, False, True]
    with pytest.raises(WriteError, match="no time"):
        memshift.write(_untimed(), None, "zep", options={"untimed": "reject"})


def test_thread_without_any_time_is_sent_without_created_at() -> None:
    conv = Conversation(id="t")
    msgs = [Message(id=str(i), conversation_id="t", text="x") for i in range(2)]
    docs = memshift.write([conv, *msgs], None, "zep")
    assert all("created_at" not in line for line in docs)
    assert "ingestion" in docs.report.losses["timestamp"].detail


def test_raw_time_spelling_is_kept() -> None:
    msg = Message(
        id="m",
        conversation_id="t",
        text="x",
        timestamp=datetime(2025, 6, 1, 13, 11, 15, 7000, tzinfo=UTC),
        timestamp_raw="2025-06-01T13:11:15.007Z",
    )
    (line,) = _lines(write_bytes("zep", [msg]))
    assert line["created_at"] == "2025-06-01T13:11:15.007Z"


# -- dialects and modes ----------------------------------------------------------------------------


def test_v4_field_names() -> None:
    conv, msg = _thread(1)
    msg = msg.model_copy(update={"extensions": {"zep:role": "norole"}})
    item = MemoryItem(
        id="f",
        scope=Scope(user_id="jane"),
        text="t",
        created_at=T0,
        extensions={"zep:data_type": "fact_triple"},
    )
    a, b = _lines(write_bytes("zep", [conv, msg, item], options={"api": "v4"}))
    assert a["thread_uuid"] == "t-42" and a["reference_time"] == "2025-06-01T13:11:12Z"
    assert a["role"] == "user" and "thread_id" not in a and "created_at" not in a
    assert b["user_uuid"] == "jane" and b["reference_time"] and b["data_type"] == "text"
    back = read_bytes("zep", write_bytes("zep", [conv, msg, item], options={"api": "v4"}))
    assert [r.id for r in back] == ["t-42", "t-42-0", "f"]


def test_messages_mode_chunks_of_30() -> None:
    lines = _lines(write_bytes("zep", _thread(65), options={"mode": "messages"}))
    assert [len(line["messages"]) for line in lines] == [30, 30, 5]
    assert set(lines[0]) == {"thread_id", "messages"}
    assert set(lines[0]["messages"][0]) == {"role", "name", "content", "created_at", "metadata"}
    back = read_bytes("zep", write_bytes("zep", _thread(65), options={"mode": "messages"}))
    assert [r.id for r in back] == [r.id for r in _thread(65)]


def test_modes_count_what_they_cannot_hold() -> None:
    recs = [*_thread(2), MemoryItem(id="f", scope=Scope(user_id="u"), text="fact")]
    facts = memshift.write(recs, None, "zep", options={"mode": "facts"})
    assert len(facts) == 1 and facts.report.balanced and facts.report.written == 1
    msgs = memshift.write(recs, None, "zep", options={"mode": "messages"})
    assert msgs.report.balanced and msgs.report.written == 2


def test_memory_targets() -> None:
    items = [
        MemoryItem(id="a", text="no graph"),
        MemoryItem(id="b", scope=Scope(user_id="u", group_id="g"), text="both"),
        MemoryItem(id="c", scope=Scope(agent_id="bot"), text="agent only"),
    ]
    docs = memshift.write(items, None, "zep")
    assert [line.get("graph_id") for line in docs] == ["g"]
    assert docs.report.balanced and sum(docs.report.filtered.values()) == 2
    assert "scope.user_id" in docs.report.losses
    docs = memshift.write(items, None, "zep", options={"graph_id": "shared"})
    assert [line["graph_id"] for line in docs] == ["shared", "g", "shared"]


# -- bi-temporal facts -----------------------------------------------------------------------------


def test_edges_to_fact_rows_and_back_are_exact(tmp_path: Path) -> None:
    src = ZEP / "graph-edges-bitemporal" / "input.json"
    edges = list(memshift.read(src, "zep", options={"user_id": "jane"}))
    out = tmp_path / "facts.jsonl"
    memshift.convert(
        src,
        out,
        src="zep",
        dst="zep",
        src_options={"user_id": "jane"},
        dst_options={"mode": "facts"},
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["created_at"] == "2025-06-01T13:11:20.123456789Z"
    assert rows[1]["valid_from"] == "2019-05-13T00:00:00Z"
    assert rows[1]["valid_to"] == "2024-02-29T00:00:00Z"
    assert rows[1]["expired_at"] == "2025-06-02T09:15:00.000000001Z"
    assert rows[2]["valid_from"] == "2025-06-03T07:00:00+02:00"
    assert "source_node_name" not in rows[2]  # it had only node uuids
    assert list(memshift.read(out, "zep")) == edges


def test_edges_in_batch_mode_report_what_episodes_cannot_hold() -> None:
    src = ZEP / "graph-edges-bitemporal" / "input.json"
    docs = memshift.convert(
        src, None, src="zep", dst="zep", src_options={"user_id": "jane"}, on_loss="ignore"
    )
    assert {"valid_to", "expired_at", "triple", "created_at"} <= set(docs.report.losses)
    first = docs[0]
    assert first["created_at"] == "2024-03-01T00:00:00Z"  # dated by valid_at
    assert first["metadata"] == {
        "source_id": "e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8",
        "source_type": "triple",
    }


def test_fact_rows_round_trip_triples_from_other_sources() -> None:
    item = MemoryItem(
        id="m1",
        type="triple",
        scope=Scope(user_id="alice"),
        text="Alice lives in Lisbon",
        triple=Triple(subject="Alice", predicate="LIVES_IN", object="Lisbon"),
        valid_from=datetime(2025, 9, 1, tzinfo=UTC),
        created_at=T0,
    )
    (back,) = read_bytes("zep", write_bytes("zep", [item], options={"mode": "facts"}))
    assert back == item


# -- reading ---------------------------------------------------------------------------------------


def test_interleaved_threads_yield_each_conversation_once() -> None:
    data = b"\n".join(
        json.dumps(
            {"type": "thread_message", "thread_id": t, "role": "user", "content": c}
        ).encode()
        for t, c in [("a", "1"), ("b", "2"), ("a", "3")]
    )
    recs = list(memshift.read(data, "zep"))
    assert [(type(r).__name__, r.id) for r in recs] == [
        ("Conversation", "a"),
        ("Message", "a:1"),
        ("Conversation", "b"),
        ("Message", "b:1"),
        ("Message", "a:2"),
    ]


def test_thread_id_from_member_context_or_file_name(tmp_path: Path) -> None:
    doc = {"messages": [{"role": "user", "content": "hi", "created_at": "2025-01-01T00:00:00Z"}]}
    path = tmp_path / "thread-77.json"
    path.write_text(json.dumps(doc))
    assert next(iter(memshift.read(path, "zep"))).id == "thread-77"
    path.write_text(json.dumps({"thread_id": "th-1", **doc}))
    assert next(iter(memshift.read(path, "zep"))).id == "th-1"
    assert next(iter(memshift.read(path, "zep", options={"thread_id": "x"}))).id == "th-1"


def test_report_balances_with_rejects(tmp_path: Path) -> None:
    src = FIXTURES / "bad" / "zep-duplicate-uuid" / "input.json"
    report = memshift.convert(src, tmp_path / "o.jsonl", src="zep", dst="zep", on_error="skip")
    assert report.rejected == 1 and report.written == 1 and report.balanced


def test_bitemporal_times_survive_zep_envelope_zep(tmp_path: Path) -> None:
    if "envelope" not in REG.names():
        pytest.skip("the envelope adapter is not installed")
    src = ZEP / "graph-edges-bitemporal" / "input.json"
    opts = {"mode": "facts"}
    memshift.convert(
        src,
        tmp_path / "env.jsonl",
        src="zep",
        dst="envelope",
        src_options={"user_id": "jane"},
        registry=REG,
    )
    memshift.convert(
        tmp_path / "env.jsonl",
        tmp_path / "via.jsonl",
        src="envelope",
        dst="zep",
        dst_options=opts,
        registry=REG,
    )
    memshift.convert(
        src,
        tmp_path / "direct.jsonl",
        src="zep",
        dst="zep",
        src_options={"user_id": "jane"},
        dst_options=opts,
        registry=REG,
    )
    assert (tmp_path / "via.jsonl").read_bytes() == (tmp_path / "direct.jsonl").read_bytes()
