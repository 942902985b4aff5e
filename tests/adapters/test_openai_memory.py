"""``openai_memory`` edges the golden and property suites cannot express: the other layouts, the
options, memories carried over from a ChatGPT export, and what the writer refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import memshift
from memshift.context import Context
from memshift.errors import ReadError, WriteError
from memshift.model import AnyRecord, MemoryItem, Scope, Triple
from memshift.registry import Registry
from memshift.sources import open_source
from memshift.testing.roundtrip import read_bytes, write_bytes

from ..conftest import FIXTURES

REG = Registry()


def _read(source: Any, **options: Any) -> list[AnyRecord]:
    adapter = REG.get("openai_memory")
    with open_source(source) as src:
        return list(adapter.read(src, adapter.ReadOptions(**options), Context()))


def test_jsonl_layout_round_trips_rows_exactly() -> None:
    path = FIXTURES / "openai_memory" / "memory-rows-jsonl" / "input.jsonl"
    records = _read(path)
    docs = write_bytes("openai_memory", records, options={"layout": "jsonl"}, registry=REG)
    written = [json.loads(line) for line in docs["memories.jsonl"].splitlines()]
    original = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert written == original
    assert read_bytes("openai_memory", docs, registry=REG) == records


def test_text_layout_is_the_list_chatgpt_shows() -> None:
    records = _read(FIXTURES / "openai_memory" / "memory-rows-json" / "input.json")
    docs = write_bytes("openai_memory", records, options={"layout": "text"}, registry=REG)
    text = docs["memories.txt"].decode()
    assert text.startswith(
        "1. [2025-11-02]. Is vegetarian and avoids mushrooms.\n\n2. [2025-11-20]."
    )
    back = _read(text.encode())
    assert [m.text for m in back] == [m.text for m in records]  # type: ignore[union-attr]
    assert [m.created_at.date() for m in back] == [m.created_at.date() for m in records]  # type: ignore[union-attr]


def test_numeric_ids_and_epoch_times_are_written_as_they_came() -> None:
    path = FIXTURES / "openai_memory" / "epoch-created-at" / "input.json"
    docs = write_bytes("openai_memory", _read(path), registry=REG)
    assert json.loads(docs["memories.json"]) == json.loads(path.read_text())


def test_naive_timezone_option() -> None:
    data = b'[{"id": "m1", "content": "x", "created_at": "2025-03-01T10:00:00"}]'
    with pytest.raises(ReadError, match="timestamp has no timezone"):
        _read(data)
    (item,) = _read(data, naive_timezone="Europe/Lisbon")
    assert item.created_at == datetime(2025, 3, 1, 10, 0, tzinfo=UTC)  # type: ignore[union-attr]


def test_dedupe_false_keeps_repeats_with_suffixed_ids() -> None:
    data = b"- Likes tea.\n- Likes tea.\n"
    assert [m.id for m in _read(data)] == ["mem-" + _read(data)[0].id[4:]]
    kept = [m.id for m in _read(data, dedupe=False)]
    assert kept == [kept[0], kept[0] + "-2"]


def test_user_id_option_and_scope_paths() -> None:
    (item,) = _read(b'[{"id": "m1", "content": "x"}]', user_id="alice")
    assert item.scope == Scope(user_id="alice")  # type: ignore[union-attr]
    body = b'{"scope": "org:acme/agent:helper", "rows": [{"id": "m1", "content": "x"}]}'
    (scoped,) = _read(body)
    assert scoped.scope == Scope(agent_id="helper")  # type: ignore[union-attr]


def test_memories_from_a_chatgpt_export_become_rows(tmp_path: Path) -> None:
    out = tmp_path / "memories.json"
    report = memshift.convert(
        FIXTURES / "openai" / "bio-memory-writes" / "input.json",
        out,
        src="openai",
        dst="openai_memory",
        src_options={"memories": True},
        on_loss="ignore",
        registry=REG,
    )
    rows = json.loads(out.read_text())
    assert [r["content"] for r in rows] == [
        "Preferred name: Sam",
        "Sam is training for a half marathon in October.",
        "Sam is allergic to peanuts.",
    ]
    assert rows[2]["created_at"] == "2025-08-05T06:28:47.143000Z"
    assert set(rows[2]) == {"id", "content", "created_at"}
    assert report.balanced and report.written == 3
    # what rows cannot hold is reported: the block label and ChatGPT's own references
    assert {"label", "extensions[openai:message_id]"} <= set(report.losses)


def test_the_writer_refuses_duplicate_ids_and_flattens_triples() -> None:
    items = [
        MemoryItem(
            id="k", type="triple", triple=Triple(subject="Ana", predicate="likes", object="tea")
        ),
        MemoryItem(id="k", text="again"),
    ]
    ctx = Context(on_error="skip", on_loss="ignore")
    from memshift.sinks import Sink

    sink = Sink("memory")
    REG.get("openai_memory").write(items, sink, REG.get("openai_memory").WriteOptions(), ctx)
    sink.commit()
    assert json.loads(sink.memory_documents["memories.json"]) == [
        {"id": "k", "content": "Ana likes tea"}
    ]
    assert ctx.report.rejected == 1 and "triple" in ctx.report.losses
    with pytest.raises(WriteError, match="duplicate memory id 'k'"):
        write_bytes_strict(items)


def write_bytes_strict(items: list[MemoryItem]) -> None:
    from memshift.sinks import Sink

    adapter = REG.get("openai_memory")
    adapter.write(items, Sink("memory"), adapter.WriteOptions(), Context(on_error="strict"))
