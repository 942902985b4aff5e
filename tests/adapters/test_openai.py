"""``openai`` (ChatGPT export) edges the golden and property suites cannot express: the real
samples, branch round trips, streaming, the writer's tree for messages from other formats, edits
made between reading and writing, and the accounting of broken trees."""

from __future__ import annotations

import io
import json
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import memshift
from memshift.context import Context
from memshift.errors import ReadError
from memshift.model import AnyRecord, Attachment, Conversation, MemoryItem, Message
from memshift.registry import Registry
from memshift.sources import Source, open_source
from memshift.testing.roundtrip import read_bytes, write_bytes

from ..conftest import FIXTURES

REG = Registry()
OPTION_SETS: list[dict[str, Any]] = [
    {},
    {"branches": "all"},
    {"branches": "all", "include_hidden": True},
    {"include_reasoning": False, "include_tools": False, "include_empty": False},
    {"citations": "keep"},
]


def _read(source: Any, **options: Any) -> list[AnyRecord]:
    adapter = REG.get("openai")
    with open_source(source) as src:
        return list(adapter.read(src, adapter.ReadOptions(**options), Context()))


def _export(conversations: list[dict[str, Any]]) -> bytes:
    return json.dumps(conversations).encode()


def _node(
    key: str,
    parent: str | None,
    children: list[str],
    role: str = "user",
    text: str = "hi",
    t: float | None = 1700000000.0,
    **extra: Any,
) -> dict[str, Any]:
    message = {
        "id": key,
        "author": {"role": role, "name": None, "metadata": {}},
        "create_time": t,
        "content": {"content_type": "text", "parts": [text]},
        "recipient": "all",
        **extra,
    }
    return {"id": key, "message": message, "parent": parent, "children": children}


# -- real samples ----------------------------------------------------------------------------


def _samples(real_samples: Path) -> list[Path]:
    found = sorted((real_samples / "chatgpt").glob("*/*.json"))
    if not found:
        pytest.skip("no ChatGPT samples")
    return found


@pytest.mark.real_samples
def test_real_samples_convert_with_exit_0(real_samples: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from memshift.cli import cli

    for path in _samples(real_samples):
        out = tmp_path / f"{path.stem}.jsonl"
        result = CliRunner().invoke(
            cli, ["convert", str(path), "-f", "openai", "-t", "canonical", "-o", str(out)]
        )
        assert result.exit_code == 0, f"{path.name}: {result.output}"
        assert out.read_text().count('"kind":"message"') > 0


@pytest.mark.real_samples
@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(o) or "default")
def test_real_samples_round_trip_identically(real_samples: Path, options: dict[str, Any]) -> None:
    """read -> write -> read gives the same canonical records, and writing again the same bytes."""
    for path in _samples(real_samples):
        first = _read(path, **options)
        docs = write_bytes("openai", first, registry=REG)
        again = read_bytes("openai", docs, options=options, registry=REG)
        assert again == first, path.name
        assert write_bytes("openai", again, registry=REG) == docs, path.name


@pytest.mark.real_samples
def test_real_sample_branch_points_are_kept_as_alternatives(real_samples: Path) -> None:
    path = real_samples / "chatgpt" / "mitkury-chatgpt-export-parser" / "example-conversation.json"
    if not path.exists():
        pytest.skip("sample missing")
    active = [r for r in _read(path) if isinstance(r, Message)]
    everything = [r for r in _read(path, branches="all") if isinstance(r, Message)]
    assert [m.id for m in active] == ["msg-1", "msg-2", "msg-3", "msg-4", "msg-6"]
    alternative = [m for m in everything if not m.active]
    assert [(m.id, m.parent_id) for m in alternative] == [("msg-5", "msg-3")]
    # never spliced into the active path: the active records are the same, in the same order
    assert [m for m in everything if m.active] == active


# -- trees -----------------------------------------------------------------------------------


def test_branches_all_round_trips_through_the_writer() -> None:
    case = FIXTURES / "openai" / "branches-all" / "input.json"
    first = _read(case, branches="all")
    docs = write_bytes("openai", first, registry=REG)
    assert read_bytes("openai", docs, options={"branches": "all"}, registry=REG) == first
    # the default reader of the same output shows the active path only
    active = read_bytes("openai", docs, registry=REG)
    assert all(r.active for r in active if isinstance(r, Message))
    written = json.loads(docs["conversations.json"])[0]
    assert written["current_node"] == "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f"
    branch = written["mapping"]["0e6f1a2b-3c4d-4e5f-9a8b-7c6d5e4f3a21"]["children"]
    # the alternative first, the active child last, as ChatGPT orders a regeneration
    assert branch == [
        "aaa2c9d1-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
        "aaa2f0e1-7a8b-4c9d-8e0f-2a3b4c5d6e7f",
    ]


def test_missing_current_node_takes_the_newest_leaf() -> None:
    conv = {
        "conversation_id": "c1",
        "title": "t",
        "create_time": 1700000000.0,
        "mapping": {
            "r": {"id": "r", "message": None, "parent": None, "children": ["u"]},
            "u": _node("u", "r", ["a", "b"]),
            "a": _node("a", "u", [], "assistant", "old", 1700000001.0),
            "b": _node("b", "u", [], "assistant", "newer", 1700000009.0),
        },
        "current_node": "gone",
    }
    ctx = Context()
    adapter = REG.get("openai")
    with open_source(_export([conv])) as src:
        records = list(adapter.read(src, adapter.ReadOptions(), ctx))
    assert [r.id for r in records if isinstance(r, Message)] == ["u", "b"]
    assert any("current_node" in w for w in ctx.report.warnings)


def test_unreachable_nodes_are_rejected_not_dropped(tmp_path: Path) -> None:
    conv = {
        "conversation_id": "c1",
        "mapping": {
            "r": {"id": "r", "message": None, "parent": None, "children": ["u"]},
            "u": _node("u", "r", []),
            "x": _node("x", "y", [], text="in a loop"),
            "y": _node("y", "x", [], text="in a loop too"),
        },
        "current_node": "u",
    }
    path = tmp_path / "conversations.json"
    path.write_bytes(_export([conv]))
    report = memshift.convert(
        path,
        tmp_path / "out.jsonl",
        src="openai",
        dst="canonical",
        src_options={"branches": "all"},
        on_error="skip",
        registry=REG,
    )
    assert report.rejected == 2 and report.written == 1 and report.balanced
    with pytest.raises(ReadError, match=r"mapping\.x\.parent: node is not reachable"):
        memshift.convert(path, None, src="openai", dst="canonical", src_options={"branches": "all"})


def test_a_conversation_without_any_time_stays_without_time() -> None:
    conv = {
        "conversation_id": "c1",
        "create_time": None,
        "mapping": {"u": _node("u", None, [], t=None)},
        "current_node": "u",
    }
    conv_rec, msg = _read(_export([conv]))
    assert isinstance(conv_rec, Conversation) and conv_rec.created_at is None
    assert isinstance(msg, Message) and msg.timestamp is None and msg.timestamp_raw is None
    assert "openai:time_inferred" not in msg.extensions


# -- sources ---------------------------------------------------------------------------------


def test_reads_one_conversation_at_a_time() -> None:
    """The first conversation's records come out before the parser reaches the broken second
    one: the file is streamed, not loaded."""
    good = _export([{"conversation_id": "c1", "mapping": {"u": _node("u", None, [])}}])
    stream = io.BufferedReader(io.BytesIO(good[:-1] + b', {"conversation_id": "c2", "mapping": {'))
    records = REG.get("openai").read(
        Source("stream", "<stdin>", stream=stream), REG.get("openai").ReadOptions(), Context()
    )
    first = next(records)
    assert isinstance(first, Conversation) and first.id == "c1"
    assert isinstance(next(records), Message)
    with pytest.raises(ReadError, match="truncated JSON"):
        next(records)


def test_zip_with_an_enclosing_folder_and_python_objects(tmp_path: Path) -> None:
    conv = {"conversation_id": "c1", "mapping": {"u": _node("u", None, [])}, "current_node": "u"}
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("chatgpt-export/conversations.json", _export([conv]))
        zf.writestr("chatgpt-export/user.json", json.dumps({"id": "user-abc", "name": "Ana"}))
    from_zip = _read(archive)
    assert from_zip[0].participants[0].name == "Ana"  # type: ignore[union-attr]
    assert from_zip[0].participants[0].extensions == {"openai:user_id": "user-abc"}  # type: ignore[union-attr]
    from_objects = _read([conv])
    assert [r.id for r in from_objects] == [r.id for r in from_zip]
    assert REG.detect(open_source(archive))[0].name == "openai"


# -- writing ---------------------------------------------------------------------------------


def _foreign_stream() -> list[AnyRecord]:
    t0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    conv = Conversation(id="C024BE91L", type="group", name="general")
    return [
        conv,
        Message(
            id="1714554000.000100",
            conversation_id="C024BE91L",
            sender_id="U1",
            sender_name="Ana",
            timestamp=t0,
            timestamp_raw="1714554000.000100",
            text="Deploy is done",
            attachments=(Attachment(name="log.txt", url="https://files.example.com/log.txt"),),
        ),
        Message(
            id="1714554060.000200",
            conversation_id="C024BE91L",
            role="assistant",
            sender_id="B1",
            sender_name="deploybot",
            timestamp=t0.replace(minute=1),
            text="All green.",
        ),
    ]


def test_messages_from_another_format_make_a_valid_export() -> None:
    ctx = Context(on_loss="ignore")
    adapter = REG.get("openai")
    from memshift.sinks import Sink

    sink = Sink("memory")
    adapter.write(_foreign_stream(), sink, adapter.WriteOptions(), ctx)
    sink.commit()
    (data,) = sink.memory_documents.values()
    (conv,) = json.loads(data)
    mapping = conv["mapping"]
    root = mapping["client-created-root"]
    assert root["message"] is None and root["parent"] is None
    assert root["children"] == ["1714554000.000100"]
    assert mapping["1714554060.000200"]["parent"] == "1714554000.000100"
    assert conv["current_node"] == "1714554060.000200"
    assert conv["conversation_id"] == conv["id"] == "C024BE91L"
    first = mapping["1714554000.000100"]["message"]
    assert first["create_time"] == 1714554000.0 and first["author"]["name"] == "Ana"
    assert first["metadata"]["attachments"] == [
        {"name": "log.txt", "url": "https://files.example.com/log.txt"}
    ]
    assert "sender_id" in ctx.report.losses
    # and it reads back as ChatGPT would show it
    back = [r for r in _read(data) if isinstance(r, Message)]
    assert [(m.sender_id, m.sender_name, m.text) for m in back] == [
        ("user", "Ana", "Deploy is done"),
        ("assistant", "deploybot", "All green."),
    ]


def test_an_edited_text_is_written_not_the_stale_raw_content() -> None:
    records = _read(FIXTURES / "openai" / "tool-calls" / "input.json")
    answer = records[-1]
    assert isinstance(answer, Message) and "openai:content" in answer.extensions
    redacted = answer.model_copy(update={"text": "[redacted]"})
    docs = write_bytes("openai", [*records[:-1], redacted], registry=REG)
    back = read_bytes("openai", docs, registry=REG)
    assert back[-1].text == "[redacted]"  # type: ignore[union-attr]
    (conv,) = json.loads(docs["conversations.json"])
    written = conv["mapping"][answer.id]["message"]
    assert written["content"] == {"content_type": "text", "parts": ["[redacted]"]}


def test_an_unchanged_multimodal_message_keeps_its_raw_content() -> None:
    source = FIXTURES / "openai" / "multimodal-image" / "input.json"
    docs = write_bytes("openai", _read(source), registry=REG)
    original = json.loads(source.read_bytes())[0]["mapping"]
    written = json.loads(docs["conversations.json"])[0]["mapping"]
    for key in ("72605258-161d-4cdc-afb1-6ed56b33120c", "d2e4f6a8-1b3c-4d5e-8f70-9a1b2c3d4e5f"):
        assert written[key]["message"]["content"] == original[key]["message"]["content"]
        assert written[key]["message"]["metadata"] == original[key]["message"]["metadata"]


def test_export_zip_attachments_point_at_their_files() -> None:
    records = _read(FIXTURES / "openai" / "export-zip" / "input.zip")
    (att,) = next(r for r in records if isinstance(r, Message) and r.attachments).attachments
    assert att.path == "file-2bQp8zRk1Yw7Hs5Ud3Fe-IMG_0042.jpg"
    assert att.url == "file-service://file-2bQp8zRk1Yw7Hs5Ud3Fe"


def test_citations_keep_option() -> None:
    kept = _read(FIXTURES / "openai" / "tool-calls" / "input.json", citations="keep")
    assert "\ue200cite" in kept[-1].text  # type: ignore[union-attr]


def test_memories_are_scoped_to_the_export_owner(tmp_path: Path) -> None:
    conv = {
        "conversation_id": "c1",
        "mapping": {
            "u": _node("u", None, ["b"], text="remember I live in Oslo"),
            "b": _node("b", "u", [], "assistant", "Lives in Oslo.", 1700000002.0, recipient="bio"),
        },
        "current_node": "b",
    }
    (tmp_path / "conversations.json").write_bytes(_export([conv]))
    (tmp_path / "user.json").write_text(json.dumps({"id": "user-xyz"}))
    memories = [r for r in _read(tmp_path, memories=True) if isinstance(r, MemoryItem)]
    assert [(m.text, m.scope.user_id, m.type) for m in memories] == [
        ("Lives in Oslo.", "user-xyz", "fact")
    ]
    # the same memory text gives the same id as openai_memory's list reader
    listed = list(memshift.read(b"- Lives in Oslo.\n", "openai_memory"))
    assert listed[0].id == memories[0].id


def test_sniff_tells_the_three_openai_formats_apart() -> None:
    chat = b'[{"role": "user", "content": "hi"}]'
    rows = b'[{"id": "m1", "content": "likes tea", "created_at": "2025-01-01T00:00:00Z"}]'
    export = (FIXTURES / "openai" / "active-path-default" / "input.json").read_bytes()
    for data, want in ((chat, "openai_chat"), (rows, "openai_memory"), (export, "openai")):
        scores = {d.name: d.confidence for d in REG.detect(open_source(data))}
        assert max(scores, key=lambda k: scores[k]) == want, scores
        others = {"openai", "openai_chat", "openai_memory"} - {want}
        assert all(scores.get(o, 0.0) == 0.0 for o in others), scores


# -- a richer property than the shared suite's streams -----------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from memshift.testing import strategies  # noqa: E402


@st.composite
def _chatgpt_like_streams(draw: st.DrawFn) -> list[AnyRecord]:
    """Conversations as ChatGPT has them: tool calls and results, reasoning, missing times,
    alternatives hanging off earlier messages, and raw ``openai:*`` fields."""
    stream = draw(strategies.conversation_streams(type="personal", rich=False))
    conv, messages = stream[0], [m for m in stream[1:] if isinstance(m, Message)]
    out: list[AnyRecord] = [conv]
    seen: list[str] = []
    for m in messages:
        kind = draw(
            st.sampled_from(["message", "message", "tool_call", "tool_result", "reasoning"])
        )
        role = {"tool_call": "assistant", "tool_result": "tool"}.get(kind, m.role)
        ext: dict[str, Any] = {}
        if kind == "tool_call" and draw(st.booleans()):
            ext["openai:recipient"] = draw(st.sampled_from(["python", "web.run", "bio"]))
        if draw(st.booleans()):
            ext["openai:metadata"] = {"model_slug": "gpt-4o"}
        if draw(st.booleans()):
            ext["openai:channel"] = draw(st.sampled_from(["final", "commentary"]))
        active = not seen or draw(st.integers(0, 4)) > 0
        update: dict[str, Any] = {
            "type": kind,
            "role": role,
            "sender_name": "python" if role == "tool" else m.sender_name,
            "timestamp": None if draw(st.integers(0, 5)) == 0 else m.timestamp,
            "active": active,
            "parent_id": draw(st.sampled_from(seen)) if seen and not active else None,
            "extensions": ext,
        }
        out.append(m.model_copy(update=update))
        seen.append(m.id)
    if any(r.parent_id for r in out if isinstance(r, Message)):
        # a consistent tree: active messages chained, alternatives off earlier messages
        last: str | None = None
        fixed: list[AnyRecord] = [conv]
        for r in out[1:]:
            assert isinstance(r, Message)
            if r.active:
                fixed.append(r.model_copy(update={"parent_id": last}))
                last = r.id
            else:
                fixed.append(r)
        out = fixed
    return out


@settings(
    max_examples=int(os.environ.get("MEMSHIFT_PROPERTY_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_chatgpt_like_streams())
def test_chatgpt_shaped_streams_round_trip(records: list[AnyRecord]) -> None:
    adapter = REG.get("openai")
    projected = adapter.project(records)
    docs = write_bytes("openai", projected, registry=REG)
    assert read_bytes("openai", docs, registry=REG) == projected
    everything = write_bytes("openai", records, registry=REG)
    branches = read_bytes("openai", everything, options={"branches": "all"}, registry=REG)
    assert write_bytes("openai", branches, registry=REG) == everything
