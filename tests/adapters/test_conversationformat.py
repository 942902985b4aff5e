"""EverCore ConversationFormat: the validator (every rule), the real EverCore samples, and the
writer's promises (valid output, both generations, user_details after the streamed list)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from memshift_adapters.conversationformat import validate_document

import memshift
from memshift import Attachment, Conversation, Message, Participant
from memshift.errors import OptionsError, ReadError, WriteError
from memshift.model import AnyRecord
from memshift.registry import Registry
from memshift.sources import open_source
from memshift.testing import strategies
from memshift.testing.roundtrip import write_bytes, write_read

REG = Registry()
T0 = datetime(2025, 2, 1, 2, 0, tzinfo=UTC)

#: The minimal valid file of the research notes (mirrors the real samples).
VALID: dict[str, Any] = {
    "version": "1.0.0",
    "session_meta": {
        "scene": "team",
        "scene_desc": {},
        "name": "Sales Assistant Project Team",
        "description": "Dev discussion group",
        "group_id": "group_sales_ai_2025",
        "created_at": "2025-02-01T02:00:00Z",
        "default_timezone": "UTC",
        "user_details": {
            "user_102": {"full_name": "Betty", "role": "user", "custom_role": "Product Manager"},
            "user_103": {"full_name": "Chen", "role": "user"},
        },
        "tags": [],
    },
    "conversation_list": [
        {
            "message_id": "msg_0001",
            "create_time": "2025-02-01T02:00:00Z",
            "sender": "user_103",
            "sender_name": "Chen",
            "type": "text",
            "content": "Good morning, how is it going?",
            "refer_list": [],
        },
        {
            "message_id": "msg_0002",
            "create_time": "2025-02-01T02:01:00Z",
            "sender": "user_102",
            "sender_name": "Betty",
            "type": "text",
            "content": "Let's align on the goal first.",
            "refer_list": [{"message_id": "msg_0001", "content": "Good morning"}],
        },
    ],
}


def msg(i: int, cid: str = "g1", **kw: Any) -> Message:
    fields: dict[str, Any] = {
        "id": f"m{i}",
        "conversation_id": cid,
        "sender_id": "u1",
        "timestamp": T0 + timedelta(seconds=i),
        "text": f"hello {i}",
    }
    fields.update(kw)
    return Message(**fields)


def write(records: list[Any], **options: Any) -> Any:
    return memshift.write(
        records, None, "conversationformat", options=options, on_loss="ignore", registry=REG
    )


# -- the validator: every rule has a failing case ------------------------------------------------


def test_the_minimal_file_is_valid() -> None:
    assert validate_document(VALID) == []


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is _DELETE:
        del node[key]
    else:
        node[key] = value


_DELETE = object()
RULES: list[tuple[str, Any, str]] = [
    ("version", _DELETE, "version: missing"),
    ("version", 1, "version: expected a string"),
    ("session_meta", _DELETE, "session_meta: missing (legacy files use conversation_meta)"),
    ("session_meta", [], "session_meta: expected an object"),
    ("session_meta.name", _DELETE, "session_meta.name: missing"),
    ("session_meta.name", None, "session_meta.name: expected a string"),
    ("session_meta.user_details", _DELETE, "session_meta.user_details: missing"),
    ("session_meta.user_details", [], "user_details: expected an object keyed by user id"),
    ("session_meta.user_details.user_103", "Chen", "user_details.user_103: expected an object"),
    ("session_meta.user_details.user_103.role", "admin", "user_103.role: must be 'user' or"),
    ("session_meta.user_details.user_103.full_name", 7, "user_103.full_name: expected a string"),
    ("session_meta.user_details.user_103.extra", "x", "user_103.extra: expected an object"),
    ("session_meta.scene", "group_chat", "'group_chat' is the legacy spelling"),
    ("session_meta.scene", "party", "session_meta.scene: must be 'solo' or 'team'"),
    ("session_meta.scene_desc", "x", "session_meta.scene_desc: expected an object"),
    ("session_meta.description", 3, "session_meta.description: expected a string"),
    ("session_meta.created_at", "2025-02-01 02:00:00", "created_at: '2025-02-01 02:00:00' has no"),
    ("session_meta.default_timezone", "Mars/Base", "default_timezone: unknown timezone"),
    ("session_meta.tags", "sales", "session_meta.tags: expected an array of strings"),
    ("conversation_list", _DELETE, "conversation_list: missing"),
    ("conversation_list", {}, "conversation_list: expected an array of messages"),
    ("conversation_list.0", "hi", "conversation_list[0]: expected a message object"),
    ("conversation_list.0.message_id", _DELETE, "conversation_list[0].message_id: missing"),
    ("conversation_list.0.create_time", _DELETE, "conversation_list[0].create_time: missing"),
    ("conversation_list.0.sender", _DELETE, "conversation_list[0].sender: missing"),
    ("conversation_list.0.type", _DELETE, "conversation_list[0].type: missing"),
    ("conversation_list.0.content", _DELETE, "conversation_list[0].content: missing"),
    ("conversation_list.0.message_id", "", "[0].message_id: expected a non-empty string"),
    ("conversation_list.1.message_id", "msg_0001", "[1].message_id: duplicate 'msg_0001'"),
    ("conversation_list.0.create_time", "2025-02-01T02:00:00", "has no UTC offset"),
    ("conversation_list.0.create_time", "yesterday", "is not an ISO 8601 time"),
    ("conversation_list.0.sender", "user_999", "'user_999' is not a key of session_meta.user"),
    ("conversation_list.0.sender", 103, "[0].sender: expected a user id string"),
    ("conversation_list.0.sender_name", None, "[0].sender_name: expected a string"),
    ("conversation_list.0.type", "sticker", "[0].type: must be one of audio, file, image"),
    ("conversation_list.0.content", None, "[0].content: expected a string"),
    ("conversation_list.0.role", "system", "[0].role: must be 'user' or 'assistant'"),
    ("conversation_list.1.refer_list", "msg_0001", "[1].refer_list: expected an array"),
    ("conversation_list.1.refer_list.0", 5, "[1].refer_list[0]: expected a message id"),
    ("conversation_list.1.refer_list.0.message_id", _DELETE, "refer_list[0].message_id: missing"),
    ("conversation_list.1.refer_list.0.sender", "nobody", "refer_list[0].sender: 'nobody' is not"),
    ("conversation_list.0.extra", [], "[0].extra: expected an object"),
]


@pytest.mark.parametrize(
    ("path", "value", "fragment"), RULES, ids=[r[0] + "=" + repr(r[1])[:12] for r in RULES]
)
def test_each_rule_fails(path: str, value: Any, fragment: str) -> None:
    doc = copy.deepcopy(VALID)
    _set(doc, path, value)
    problems = validate_document(doc)
    assert any(fragment in p for p in problems), problems


def test_a_top_level_that_is_not_an_object() -> None:
    assert validate_document([VALID]) == ["top level: expected a JSON object, got list"]


def test_both_generations_at_once() -> None:
    doc = copy.deepcopy(VALID)
    doc["conversation_meta"] = doc["session_meta"]
    assert any("not both" in p for p in validate_document(doc))


def test_timezone_spelling_is_flagged() -> None:
    doc = copy.deepcopy(VALID)
    doc["session_meta"]["timezone"] = doc["session_meta"].pop("default_timezone")
    assert validate_document(doc) == [
        "session_meta.timezone: EverCore reads default_timezone, not timezone"
    ]


def test_legacy_generation_rules() -> None:
    doc = copy.deepcopy(VALID)
    doc["conversation_meta"] = doc.pop("session_meta")
    doc["conversation_meta"]["scene"] = "group_chat"
    assert validate_document(doc) == []
    doc["conversation_meta"]["scene"] = "team"
    assert validate_document(doc) == [
        "conversation_meta.scene: must be 'assistant' or 'group_chat', got 'team' "
        "('team' is the current spelling)"
    ]


def test_problem_cap() -> None:
    doc = copy.deepcopy(VALID)
    doc["conversation_list"] = [{"message_id": str(i)} for i in range(50)]
    problems = validate_document(doc, limit=10)
    assert len(problems) == 11 and problems[-1].startswith("... and ")


def test_validate_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(VALID))
    bad = tmp_path / "bad.json"
    doc = copy.deepcopy(VALID)
    doc["conversation_list"][1]["sender"] = "ghost"
    bad.write_text(json.dumps(doc))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(VALID)[:-40])
    adapter = REG.get("conversationformat")
    with open_source(good) as source:
        assert adapter.validate(source) == []
    with open_source(bad) as source:
        assert adapter.validate(source) == [
            f"{bad}: conversation_list[1].sender: 'ghost' is not a key of session_meta.user_details"
        ]
    with open_source(broken) as source:
        problems = adapter.validate(source)
    assert len(problems) == 1 and problems[0].startswith(f"{broken}: invalid JSON: truncated")
    with open_source(tmp_path) as source:  # a directory: every document
        assert len(adapter.validate(source)) == 2


# -- the real EverCore samples -------------------------------------------------------------------


def _sample(real_samples: Path, name: str) -> Path:
    return real_samples / "evercore" / name


def test_real_samples_validate(real_samples: Path) -> None:
    adapter = REG.get("conversationformat")
    for name in ("solo_chat_en.json", "legacy_assistant_chat_en.json"):
        with open_source(_sample(real_samples, name)) as source:
            assert adapter.validate(source) == [], name
    path = _sample(real_samples, "team_chat_en.json")
    with open_source(path) as source:
        # EverMind's own sample repeats msg_0425; its validators never check ids, ours does.
        assert adapter.validate(source) == [
            f"{path}: conversation_list[425].message_id: duplicate 'msg_0425' "
            "(first at conversation_list[424])"
        ]


@pytest.mark.parametrize("name", ["solo_chat_en.json", "legacy_assistant_chat_en.json"])
def test_real_solo_samples_read(real_samples: Path, name: str) -> None:
    records = list(memshift.read(_sample(real_samples, name), "conversationformat", registry=REG))
    conv, messages = records[0], records[1:]
    assert isinstance(conv, Conversation)
    assert conv.id == "chat_user_001_assistant" and conv.type == "personal"
    assert conv.timezone == "UTC" and conv.created_at == datetime(2025, 6, 26, tzinfo=UTC)
    assert [(p.id, p.name, p.role) for p in conv.participants] == [
        ("user_001", "User", "user"),
        ("robot_001", "AI Assistant", "assistant"),
    ]
    assert conv.participants[0].extensions["conversationformat:extra"] == {
        "height": 170,
        "weight": 86,
        "bmi": 29.8,
        "waist_circumference": 104,
        "origin": "Sichuan",
        "preferences": {"food": "hot pot", "activities": "Group activities"},
    }
    assert len(messages) == 104
    assert all(isinstance(m, Message) for m in messages)
    first, last = messages[0], messages[-1]
    assert isinstance(first, Message) and isinstance(last, Message)
    assert (first.id, first.sender_id, first.role, first.sender_name) == (
        "msg_001",
        "user_001",
        "user",
        "user",
    )
    assert first.timestamp == datetime(2025, 6, 26, tzinfo=UTC)
    assert last.timestamp == datetime(2025, 11, 28, 18, 36, 30, tzinfo=UTC)
    roles = {m.sender_id: m.role for m in messages if isinstance(m, Message)}
    assert roles == {"user_001": "user", "robot_001": "assistant"}


def test_real_team_sample_reads(real_samples: Path) -> None:
    path = _sample(real_samples, "team_chat_en.json")
    docs = memshift.convert(path, None, src="conversationformat", dst="canonical", registry=REG)
    assert docs.report.read == 509 and docs.report.rejected == 0
    assert any("read as 'msg_0425~2'" in w for w in docs.report.warnings)
    records = list(memshift.read(path, "conversationformat", registry=REG))
    conv = records[0]
    assert isinstance(conv, Conversation) and conv.type == "group"
    assert [p.name for p in conv.participants] == ["Chen", "Betty", "Alex", "Dylan", "Emily"]
    betty = conv.participants[1]
    assert betty.job_title == "Product Manager" and betty.email == "betty@example.com"
    assert betty.extensions["conversationformat:fields"] == {"department": "Product Department"}
    with pytest.raises(ReadError, match=r"conversation_list\[425\].message_id: duplicate"):
        list(memshift.read(path, "conversationformat", options={"duplicate_ids": "reject"}))


def test_real_samples_survive_a_round_trip(real_samples: Path) -> None:
    adapter = REG.get("conversationformat")
    for name in ("solo_chat_en.json", "team_chat_en.json", "legacy_assistant_chat_en.json"):
        records = list(memshift.read(_sample(real_samples, name), "conversationformat"))
        expected = adapter.project(records)
        assert write_read("conversationformat", expected, registry=REG) == expected, name


# -- the writer ----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.record_streams())
def test_written_files_always_validate(records: list[AnyRecord]) -> None:
    for generation in ("current", "legacy"):
        docs = write_bytes("conversationformat", records, options={"generation": generation})
        for name, data in docs.items():
            doc = json.loads(data)
            assert validate_document(doc) == [], (generation, name)
            if generation == "current":
                # The legacy importer (run_memorize.py --validate-only) needs the same message
                # keys and user_details under the old meta key; nothing else differs.
                legacy = {"conversation_meta": doc["session_meta"], **doc}
                del legacy["session_meta"]
                del legacy["conversation_meta"]["scene"]
                assert validate_document(legacy) == [], name


def test_session_meta_follows_the_streamed_list() -> None:
    people = (
        Participant(id="u1", name="Ada", role="user", job_title="SRE"),
        Participant(id="deploybot", name="Deploy", is_bot=True),
        Participant(id="silent"),
    )
    c = Conversation(id="g1", name="eng", participants=people)
    records: list[AnyRecord] = [
        c,
        msg(1, sender_name="Ada L."),
        msg(2, sender_id="deploybot", role="assistant"),
        msg(3, sender_id="u9", sender_name="Guest"),
        msg(4, sender_id=None, role="assistant", reply_to="m1"),
    ]
    text = write_bytes("conversationformat", records)["g1.json"].decode()
    assert text.startswith('{"version":"1.0.0","conversation_list":[\n{"message_id":"m1"')
    assert text.index('"conversation_list"') < text.index('"session_meta"')
    doc = json.loads(text)
    details = doc["session_meta"]["user_details"]
    assert list(details) == ["u1", "deploybot", "silent", "u9", "assistant"]
    assert details["u1"] == {"full_name": "Ada", "role": "user", "custom_role": "SRE"}
    assert details["deploybot"] == {
        "full_name": "Deploy",
        "role": "assistant",
        "extra": {"is_bot": True},
    }
    assert details["silent"] == {"role": "user"}
    assert details["u9"] == {"full_name": "Guest", "role": "user"}
    assert details["assistant"] == {"role": "assistant"}  # a sender-less message: its role
    first = doc["conversation_list"][0]
    assert first == {
        "message_id": "m1",
        "create_time": "2025-02-01T02:00:01Z",
        "sender": "u1",
        "sender_name": "Ada L.",
        "role": "user",
        "type": "text",
        "content": "hello 1",
        "refer_list": [],
    }
    assert doc["conversation_list"][1]["sender_name"] == "Deploy"  # filled from participants
    assert doc["conversation_list"][3]["refer_list"] == [{"message_id": "m1"}]
    assert validate_document(doc) == []


def test_legacy_generation_is_written_on_request() -> None:
    personal = Conversation(id="p1", type="personal")
    doc = write([personal, msg(1, "p1")], generation="legacy")[0]
    assert "session_meta" not in doc and doc["conversation_meta"]["scene"] == "assistant"
    group = write([Conversation(id="g1"), msg(1)], generation="legacy")[0]
    assert group["conversation_meta"]["scene"] == "group_chat"
    assert (
        write([Conversation(id="g1"), msg(1)], scene="solo")[0]["session_meta"]["scene"] == "solo"
    )


def test_everything_the_model_holds_travels_in_extra() -> None:
    rich = msg(
        1,
        role="tool",
        type="tool_result",
        thread_id="t0",
        edited_at=T0 + timedelta(minutes=5),
        markup="*bold*",
        sender_is_bot=True,
        attachments=(Attachment(name="a.png", url="https://x/a.png", mime_type="image/png"),),
        text="",
    )
    records: list[AnyRecord] = [Conversation(id="g1"), rich]
    item = write(records)[0]["conversation_list"][0]
    assert item["type"] == "image" and item["content"] == "https://x/a.png"
    assert item["role"] == "assistant"
    assert item["extra"] == {
        "role": "tool",
        "message_type": "tool_result",
        "thread_id": "t0",
        "edited_at": "2025-02-01T02:05:00Z",
        "attachments": [{"name": "a.png", "url": "https://x/a.png", "mime_type": "image/png"}],
        "markup": "*bold*",
        "sender_is_bot": True,
    }
    adapter = REG.get("conversationformat")
    assert write_read("conversationformat", records, registry=REG) == adapter.project(records)


def test_empty_conversation_is_a_valid_file() -> None:
    doc = write([Conversation(id="quiet", name="nobody talks")])[0]
    assert doc["conversation_list"] == [] and validate_document(doc) == []


def test_senders_and_times_policies() -> None:
    records = [Conversation(id="g1"), msg(1, sender_id=None)]
    with pytest.raises(WriteError, match="no sender"):
        write(records, missing_sender="reject")
    assert write(records, unknown_sender_id="anon")[0]["conversation_list"][0]["sender"] == "anon"
    untimed = [Conversation(id="g1"), msg(1, timestamp=None), msg(2)]
    item = write(untimed)[0]["conversation_list"][0]
    assert item["create_time"] == "2025-02-01T02:00:02Z"
    with pytest.raises(WriteError, match="no timestamp"):
        write(untimed, missing_time="reject")


def test_source_time_spelling_is_kept() -> None:
    m = msg(1, timestamp_raw="2025-02-01T10:00:01+08:00")
    item = write([Conversation(id="g1"), m])[0]["conversation_list"][0]
    assert item["create_time"] == "2025-02-01T10:00:01+08:00"
    slack = msg(1, timestamp_raw="1738375201.000100")  # not ISO: written as UTC
    item = write([Conversation(id="g1"), slack])[0]["conversation_list"][0]
    assert item["create_time"] == "2025-02-01T02:00:01Z"


# -- reading -------------------------------------------------------------------------------------


def test_reads_a_stream_with_meta_after_the_list() -> None:
    body = write_bytes("conversationformat", [Conversation(id="g1", name="eng"), msg(1), msg(2)])
    records = list(memshift.read(body["g1.json"], "conversationformat", registry=REG))
    assert records[0].id == "g1" and len(records) == 3


def test_naive_times_need_a_zone() -> None:
    doc = copy.deepcopy(VALID)
    del doc["session_meta"]["default_timezone"]
    doc["conversation_list"][0]["create_time"] = "2025-02-01 10:00:00"
    data = json.dumps(doc).encode()
    with pytest.raises(ReadError, match=r"conversation_list\[0\].create_time: .*no UTC offset"):
        list(memshift.read(data, "conversationformat", registry=REG))
    records = list(
        memshift.read(data, "conversationformat", options={"assume_timezone": "Asia/Tokyo"})
    )
    assert records[1].timestamp == datetime(2025, 2, 1, 1, 0, tzinfo=UTC)  # type: ignore[union-attr]
    doc["session_meta"]["timezone"] = "Asia/Shanghai"  # the spelling EverCore does not read
    records = list(memshift.read(json.dumps(doc).encode(), "conversationformat"))
    assert records[1].timestamp == datetime(2025, 2, 1, 2, 0, tzinfo=UTC)  # type: ignore[union-attr]
    with pytest.raises(OptionsError):
        list(memshift.read(data, "conversationformat", options={"assume_timezone": "Nowhere/X"}))


def test_references_as_strings_and_objects() -> None:
    doc = copy.deepcopy(VALID)
    doc["conversation_list"][1]["refer_list"] = ["msg_0001", {"message_id": "msg_x"}]
    records = list(memshift.read([doc], "conversationformat", registry=REG))
    second = records[2]
    assert isinstance(second, Message) and second.reply_to == "msg_0001"
    assert second.extensions["conversationformat:refer_list"] == [
        "msg_0001",
        {"message_id": "msg_x"},
    ]
    item = write(records)[0]["conversation_list"][1]
    assert item["refer_list"] == ["msg_0001", {"message_id": "msg_x"}]


def test_detection() -> None:
    body = write_bytes("conversationformat", [Conversation(id="g1"), msg(1)])["g1.json"]
    found = REG.detect(open_source(body))
    assert found[0].name == "conversationformat"
    assert REG.resolve("evercore") == "conversationformat"
