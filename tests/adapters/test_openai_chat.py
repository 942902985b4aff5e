"""``openai_chat`` edges the golden and property suites cannot express: content-derived ids,
output layouts, records from richer formats, and the optional synthetic clock."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import memshift
from memshift.context import Context
from memshift.errors import OptionsError, ReadError
from memshift.model import AnyRecord, Attachment, Conversation, Message
from memshift.registry import Registry
from memshift.sinks import Sink
from memshift.sources import open_source
from memshift.testing.roundtrip import read_bytes, write_bytes

from ..conftest import FIXTURES

REG = Registry()
LINE = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Largest planet?"},
        {"role": "assistant", "content": "Jupiter."},
    ]
}


def _read(source: Any, **options: Any) -> list[AnyRecord]:
    adapter = REG.get("openai_chat")
    with open_source(source) as src:
        return list(adapter.read(src, adapter.ReadOptions(**options), Context()))


def test_conversation_ids_come_from_content_not_from_where_it_is_stored(tmp_path: Path) -> None:
    as_line = tmp_path / "train.jsonl"
    as_line.write_text(json.dumps(LINE) + "\n")
    as_array = tmp_path / "renamed-copy.json"
    as_array.write_text(json.dumps(LINE["messages"], indent=2))
    as_object = json.dumps({"messages": LINE["messages"]}).encode()
    ids = {tuple(r.id for r in _read(src)) for src in (as_line, as_array, as_object)}
    assert len(ids) == 1
    conv, *messages = _read(as_line)
    assert conv.id.startswith("chat-") and conv.extensions["openai_chat:synthetic_id"] is True
    assert [m.id for m in messages] == [f"{conv.id}-{i}" for i in range(3)]
    assert all(m.timestamp is None for m in messages if isinstance(m, Message))


def test_identical_lines_get_distinct_ids() -> None:
    data = (json.dumps(LINE) + "\n") * 3
    convs = [r.id for r in _read(data.encode()) if isinstance(r, Conversation)]
    assert convs[1:] == [f"{convs[0]}-2", f"{convs[0]}-3"]


def test_mixed_jsonl_kinds_are_rejected_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(LINE) + "\n" + json.dumps({"role": "user", "content": "x"}) + "\n")
    with pytest.raises(ReadError, match="line 2: a message line in a file of conversations"):
        memshift.convert(path, None, src="openai_chat", dst="canonical", registry=REG)
    report = memshift.convert(
        path, tmp_path / "o.jsonl", src="openai_chat", dst="canonical", on_error="skip"
    )
    assert report.rejected == 1 and report.written == 3 and report.balanced


@pytest.mark.parametrize("layout", ["jsonl", "json", "messages"])
def test_layouts_read_back(layout: str) -> None:
    records = _read(FIXTURES / "openai_chat" / "finetune-jsonl" / "input.jsonl")
    docs = write_bytes("openai_chat", records, options={"layout": layout}, registry=REG)
    if layout == "messages":
        assert sorted(docs) == [
            "conversations.0002.json",
            "conversations.0003.json",
            "conversations.json",
        ]
        first = json.loads(docs["conversations.json"])
        assert isinstance(first, list) and first[0]["role"] == "system"
        return
    back = read_bytes("openai_chat", docs, registry=REG)
    assert back == records


def test_sanitize_names_follows_the_api_pattern() -> None:
    conv = Conversation(id="g1", type="group")
    msg = Message(
        id="m1", conversation_id="g1", sender_id="U1", sender_name="José Ñúñez (ops)", text="hi"
    )
    docs = write_bytes("openai_chat", [conv, msg], options={"sanitize_names": True}, registry=REG)
    line = json.loads(docs["conversations.jsonl"])
    assert line["messages"][0]["name"] == "Jos_____ez__ops_"


def test_records_from_a_richer_format_are_written_with_their_losses_reported() -> None:
    t0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    records: list[AnyRecord] = [
        Conversation(id="c", type="personal"),
        Message(
            id="1",
            conversation_id="c",
            sender_id="user",
            timestamp=t0,
            text="What is in this picture?",
            attachments=(Attachment(url="https://example.com/cat.jpg", mime_type="image/jpeg"),),
        ),
        Message(
            id="2",
            conversation_id="c",
            role="assistant",
            type="reasoning",
            sender_id="assistant",
            timestamp=t0,
            text="thinking...",
        ),
        Message(
            id="3", conversation_id="c", role="assistant", sender_id="assistant", text="A cat."
        ),
    ]
    ctx = Context(on_loss="ignore")
    sink = Sink("memory")
    REG.get("openai_chat").write(records, sink, REG.get("openai_chat").WriteOptions(), ctx)
    sink.commit()
    line = json.loads(sink.memory_documents["conversations.jsonl"])
    assert line["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ],
        },
        {"role": "assistant", "content": "A cat."},
    ]
    assert ctx.report.filtered == {"reasoning messages (chat completions have none)": 1}
    assert ctx.write_dropped == 1
    assert "timestamp" in ctx.report.losses


def test_start_time_gives_deterministic_times(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(LINE) + "\n")
    os.utime(path, (1714550400, 1714550400))
    messages = [r for r in _read(path, start_time="mtime", time_step=2) if isinstance(r, Message)]
    assert [m.timestamp for m in messages] == [
        datetime(2024, 5, 1, 8, 0, s, tzinfo=UTC) for s in (0, 2, 4)
    ]
    assert all(m.extensions["openai_chat:synthetic_time"] is True for m in messages)
    with pytest.raises(OptionsError, match="start_time"):
        memshift.convert(
            path, None, src="openai_chat", dst="canonical", src_options={"start_time": "noon"}
        )
    with pytest.raises(OptionsError, match="not a stream"):
        list(memshift.read(path.read_bytes(), "openai_chat", options={"start_time": "mtime"}))


def test_tool_calls_keep_their_ids_and_arguments_verbatim() -> None:
    path = FIXTURES / "openai_chat" / "chat-tool-calls" / "input.jsonl"
    records = _read(path)
    call = next(r for r in records if isinstance(r, Message) and r.type == "tool_call")
    assert [c["id"] for c in call.extensions["openai_chat:tool_calls"]] == [  # type: ignore[union-attr,index]
        "call_Qh3fX9",
        "call_Lm0pR2",
    ]
    docs = write_bytes("openai_chat", records, registry=REG)
    assert json.loads(docs["conversations.jsonl"]) == json.loads(path.read_text())
