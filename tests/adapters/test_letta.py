"""Letta edges the golden and property suites cannot express: the real agent files, writing
options, limits, streams, detection against neighbouring JSON formats."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import memshift
from memshift.context import Context
from memshift.errors import OptionsError, WriteError
from memshift.model import Conversation, MemoryItem, Message, Scope
from memshift.registry import Registry
from memshift.sinks import Sink
from memshift.sources import open_source
from memshift.testing.roundtrip import assert_fixpoint, assert_roundtrip, write_bytes

from ..conftest import FIXTURES

_REG = Registry()
LETTA = FIXTURES / "letta"


def _read(source: Any, **options: Any) -> list[Any]:
    return list(memshift.read(source, "letta", options=options, registry=_REG))


def _split(records: list[Any]) -> tuple[list[Conversation], list[Message], list[MemoryItem]]:
    return (
        [r for r in records if isinstance(r, Conversation)],
        [r for r in records if isinstance(r, Message)],
        [r for r in records if isinstance(r, MemoryItem)],
    )


# -- real samples -----------------------------------------------------------------------------------


def test_real_loop_af(real_samples: Path) -> None:
    convs, msgs, blocks = _split(_read(real_samples / "letta" / "loop.af"))
    assert [(c.id, c.name, c.timezone) for c in convs] == [("agent-0", "Loop", "UTC")]
    assert convs[0].description == "I'm Loop. I remember."
    agent = convs[0].extensions["letta:agent"]
    assert isinstance(agent, dict) and agent["agent_type"] == "letta_v1_agent"
    assert agent["llm_config"]["handle"] == "anthropic/claude-sonnet-4-5-20250929"  # type: ignore[index]
    tools = convs[0].extensions["letta:tools"]
    assert isinstance(tools, list)
    names = [t["name"] for t in tools]  # type: ignore[index]
    assert len(names) == 9 and names[0] == "web_search"  # in the agent's tool_ids order
    assert "memory_rethink" in names and "conversation_search" in names
    assert [b.label for b in blocks] == [
        "about_user", "active_hypotheses", "conversation_patterns", "custom_instructions",
        "learned_corrections", "persona", "preferences", "scratchpad", "soul",
    ]  # fmt: skip
    assert {b.limit for b in blocks} == {20000}
    assert blocks[0].text.startswith("Facts and context about the user.")
    assert all(b.scope.agent_id == "agent-0" for b in blocks)
    export = datetime(2026, 1, 22, 2, 6, 35, 101954, tzinfo=UTC)
    assert {b.observed_at for b in blocks} == {export}
    # system prompt, the send_message reply, its tool return
    assert [(m.id, m.type, m.role) for m in msgs] == [
        ("message-0", "message", "system"),
        ("message-1", "message", "assistant"),
        ("message-2", "tool_result", "tool"),
    ]
    assert msgs[1].text == "I'm Loop. I remember. What's on your mind?"
    assert msgs[1].timestamp == datetime(2026, 1, 22, 2, 6, 34, 48739, tzinfo=UTC)
    assert msgs[1].timestamp_raw == "2026-01-22T02:06:34.048739+00:00"
    assert msgs[2].text.startswith('{\n  "status": "OK"')


def test_real_double_encoded_memgpt_agent(real_samples: Path) -> None:
    ctx = Context()
    with open_source(real_samples / "letta" / "memgpt_agent.af") as src:
        records = list(_REG.get("letta").read(src, _REG.get("letta").ReadOptions(), ctx))
    convs, msgs, blocks = _split(records)
    assert ctx.report.notes["letta_encoding"].startswith("double-encoded")
    assert [c.name for c in convs] == ["memgpt_agent"]
    assert [(b.label, b.limit) for b in blocks] == [("human", 20000), ("persona", 20000)]
    assert blocks[0].description is not None and blocks[0].description.startswith("The human block")
    assert [(m.role, m.type) for m in msgs] == [("system", "message")]
    assert {b.observed_at for b in blocks} == {datetime(2025, 11, 21, 3, 5, 34, 611233, tzinfo=UTC)}
    tools = convs[0].extensions["letta:tools"]
    assert isinstance(tools, list)
    assert sorted(t["name"] for t in tools) == [  # type: ignore[index]
        "conversation_search", "memory_insert", "memory_replace",
    ]  # fmt: skip


def test_real_legacy_v1(real_samples: Path) -> None:
    ctx = Context()
    path = real_samples / "letta" / "legacy_v1_memgpt_agent_with_convo.af"
    with open_source(path) as src:
        records = list(_REG.get("letta").read(src, _REG.get("letta").ReadOptions(), ctx))
    convs, msgs, blocks = _split(records)
    assert any("legacy v1" in w and "UTC" in w for w in ctx.report.warnings)
    assert [(b.label, b.limit) for b in blocks] == [("persona", 5000), ("human", 5000)]
    assert blocks[1].updated_at == datetime(2025, 4, 1, 3, 57, 37, 273860, tzinfo=UTC)
    assert convs[0].name == "memgpt_agent"
    assert convs[0].created_at == datetime(2025, 4, 1, 3, 47, 27, tzinfo=UTC)
    raw_ids = {m.id.split(":")[0] for m in msgs}
    assert len(raw_ids) == 91  # every raw message, split parts share their id
    user = [m for m in msgs if m.role == "user" and m.type == "message"]
    events = [m for m in msgs if m.type == "event"]
    assert user[0].text == "hi my name is actually sarah not chad "
    assert user[0].timestamp == datetime(2025, 4, 1, 3, 51, 8, 745024, tzinfo=UTC)
    assert len(user) + len(events) == 29  # the 29 raw user turns: people, logins, heartbeats
    replies = [m for m in msgs if m.role == "assistant" and m.type == "message"]
    assert replies[0].text == "More human than human is our motto."
    in_context = convs[0].extensions["letta:in_context_message_ids"]
    assert isinstance(in_context, list) and in_context[0] == "message-89" and len(in_context) == 11


# -- writing ----------------------------------------------------------------------------------------


def _block(id: str, text: str, limit: int | None, label: str = "log") -> MemoryItem:
    return MemoryItem(id=id, type="block", label=label, text=text, limit=limit)


def test_block_over_limit_raises_limit_and_reports() -> None:
    report = memshift.write([_block("b", "x" * 300, 200)], None, "letta", registry=_REG).report
    docs = memshift.write([_block("b", "x" * 300, 200)], None, "letta", registry=_REG)
    (block,) = docs[0]["blocks"]
    assert (len(block["value"]), block["limit"]) == (300, 300)
    assert "block_overflow" in report.losses


def test_block_past_max_continues_in_numbered_blocks() -> None:
    docs = memshift.write(
        [_block("b", "abcdefghij" * 3, 5)],
        None,
        "letta",
        options={"max_block_chars": 12},
        registry=_REG,
    )
    blocks = docs[0]["blocks"]
    assert [(b["label"], b["value"], b["limit"]) for b in blocks] == [
        ("log", "abcdefghijab", 12),
        ("log_part2", "cdefghijabcd", 12),
        ("log_part3", "efghij", 12),
    ]
    assert blocks[1]["metadata"] == {"continues": "log", "part": 2}
    assert "".join(b["value"] for b in blocks) == "abcdefghij" * 3


def test_output_blocks_and_block_rows() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    records: list[Any] = [
        Conversation(id="c", type="personal"),
        Message(id="m", conversation_id="c", timestamp=t, text="hi"),
        MemoryItem(
            id="h",
            type="block",
            label="human",
            text="Name: Ana",
            limit=5000,
            description="About the user",
            metadata={"k": "v"},
        ),
        MemoryItem(id="f", type="fact", text="Is vegetarian"),
    ]
    docs = memshift.write(records, None, "letta", options={"output": "blocks"}, registry=_REG)
    assert docs[0] == [
        {
            "label": "human",
            "value": "Name: Ana",
            "limit": 5000,
            "description": "About the user",
            "metadata": {"k": "v"},
        },
        {"label": "f", "value": "Is vegetarian", "limit": 20000, "description": None},
    ]
    report = docs.report
    assert report.balanced and report.filtered_total == 1, report.to_dict()
    rows = memshift.write(records, None, "letta", options={"output": "block_rows"}, registry=_REG)
    assert list(rows) == [
        {"block_label": "human", "value": "Name: Ana", "limit": 5000},
        {"block_label": "f", "value": "Is vegetarian", "limit": 20000},
    ]
    # and they read back as blocks
    data = write_bytes("letta", records, options={"output": "block_rows"}, registry=_REG)
    back = _read(next(iter(data.values())))
    assert [(b.label, b.text, b.limit) for b in back] == [
        ("human", "Name: Ana", 5000), ("f", "Is vegetarian", 20000),
    ]  # fmt: skip


def test_roundtrip_holds_for_other_outputs() -> None:
    records = [_block("a", "one", 10, "human"), _block("b", "two", 20, "persona")]
    for output in ("blocks", "block_rows"):
        assert_fixpoint("letta", records, write_options={"output": output}, registry=_REG)
    assert_roundtrip("letta", records, registry=_REG)


def test_messages_of_a_finished_conversation_are_refused() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    records: list[Any] = [
        Conversation(id="a", type="personal"),
        Message(id="1", conversation_id="a", timestamp=t, text="x"),
        Conversation(id="b", type="personal"),
        Message(id="2", conversation_id="b", timestamp=t, text="y"),
        Message(id="3", conversation_id="a", timestamp=t, text="late"),
    ]
    adapter = _REG.get("letta")
    with pytest.raises(WriteError, match="arrive after another conversation"):
        adapter.write(records, Sink("memory"), adapter.WriteOptions(), Context())
    ctx = Context(on_error="skip")
    sink = Sink("memory")
    adapter.write(records, sink, adapter.WriteOptions(), ctx)
    assert ctx.write_dropped == 1


def test_write_options_are_checked() -> None:
    with pytest.raises(OptionsError, match="model"):
        memshift.write([], None, "letta", options={"model": "gpt-4o"}, registry=_REG)
    with pytest.raises(OptionsError, match="output"):
        memshift.write([], None, "letta", options={"output": "yaml"}, registry=_REG)
    with pytest.raises(OptionsError, match="legacy_timezone"):
        _read(LETTA / "blocks-array" / "input.json", legacy_timezone="Mars/Olympus")


def test_output_is_deterministic() -> None:
    records = _read(LETTA / "af-v2" / "input.af")
    assert write_bytes("letta", records, registry=_REG) == write_bytes(
        "letta", records, registry=_REG
    )


# -- reading ----------------------------------------------------------------------------------------


def test_stdin_stream_is_read_in_two_passes() -> None:
    data = (LETTA / "af-v2" / "input.af").read_bytes()
    from_stream = _read(io.BytesIO(data))
    assert from_stream == _read(LETTA / "af-v2" / "input.af")


def test_python_objects_and_json_in_string() -> None:
    doc = json.loads((LETTA / "af-v2" / "input.af").read_text())
    assert _read(doc) == _read(LETTA / "af-v2" / "input.af")
    double = json.dumps(json.dumps(doc)).encode()  # a JSON string holding the file
    assert _read(io.BytesIO(double)) == _read(LETTA / "af-v2" / "input.af")


def test_legacy_timezone_option() -> None:
    records = _read(LETTA / "af-v1-legacy" / "input.af", legacy_timezone="America/Los_Angeles")
    msgs = [r for r in records if isinstance(r, Message)]
    assert msgs[0].timestamp == datetime(2025, 4, 1, 10, 47, 27, 492924, tzinfo=UTC)


def test_observed_at_from_mtime_is_opt_in(tmp_path: Path) -> None:
    path = tmp_path / "blocks.json"
    path.write_text('[{"label": "human", "value": "Ana", "limit": 100}]')
    os.utime(path, (1767225600, 1767225600))
    assert _read(path)[0].observed_at is None
    (item,) = _read(path, observed_at_from_mtime=True)
    assert item.observed_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_agent_id_option_scopes_plain_blocks() -> None:
    items = _read(LETTA / "block-rows" / "input.jsonl", agent_id="agent-42")
    assert {i.scope.agent_id for i in items} == {"agent-42"}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'[{"id": "9b1c", "memory": "Is vegetarian", "user_id": "alice"}]', False),
        (b'[{"uuid": "e1", "fact": "Jane works at Acme", "name": "WORKS_AT"}]', False),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', False),
        (b'[{"label": "human", "value": "Ana", "limit": 5000}]', True),
        (b'{"block_label": "human", "value": "Ana", "limit": 10}\n', True),
    ],
)
def test_detection_tells_blocks_from_neighbours(payload: bytes, expected: bool) -> None:
    with open_source(io.BytesIO(payload)) as src:
        sniff = _REG.get("letta").sniff(src)
    assert (sniff.confidence >= 0.7) is expected, sniff


def test_report_balances_with_split_messages(real_samples: Path) -> None:
    report = memshift.convert(
        real_samples / "letta" / "legacy_v1_memgpt_agent_with_convo.af",
        None,
        src="letta",
        dst="everos",
        registry=_REG,
    ).report
    assert report.balanced, report.to_dict()


def test_foreign_scope_blocks_warn_when_unattached() -> None:
    docs = memshift.write(
        [MemoryItem(id="x", type="block", label="human", text="Ana", scope=Scope(user_id="u"))],
        None,
        "letta",
        registry=_REG,
    )
    assert any("belong to no agent" in w for w in docs.report.warnings)
    assert "scope" in docs.report.losses
