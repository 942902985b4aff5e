"""EverOS documents: what the golden and property suites cannot express (API rules, options,
report accounting, the real EverCore samples converted to EverOS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from memshift_adapters.everos._common import parse_timestamp

import memshift
from memshift import Attachment, Conversation, MemoryItem, Message, Participant
from memshift.errors import OptionsError, WriteError
from memshift.model import AnyRecord
from memshift.registry import Registry
from memshift.sources import open_source
from memshift.testing.roundtrip import read_bytes, write_bytes

REG = Registry()
T0 = datetime(2024, 6, 11, 9, 0, tzinfo=UTC)
T0_MS = 1718096400000


def conv(cid: str = "C1", type: str = "group", **kw: Any) -> Conversation:
    return Conversation(id=cid, type=type, **kw)


def msg(i: int, cid: str = "C1", **kw: Any) -> Message:
    fields: dict[str, Any] = {
        "id": f"m{i}",
        "conversation_id": cid,
        "sender_id": "U01AAA",
        "sender_name": "Ada",
        "timestamp": T0 + timedelta(seconds=i),
        "text": f"hello {i}",
    }
    fields.update(kw)
    return Message(**fields)


def write(records: list[Any], **options: Any) -> Any:
    return memshift.write(records, None, "everos", options=options, on_loss="ignore", registry=REG)


def balanced(report: Any) -> bool:
    return bool(report.read == report.written + report.filtered_total + report.rejected)


# -- the real EverCore samples ------------------------------------------------------------------


def _sample(real_samples: Path, name: str) -> Path:
    return real_samples / "evercore" / name


@pytest.mark.parametrize("name", ["solo_chat_en.json", "legacy_assistant_chat_en.json"])
def test_real_solo_samples_become_personal_documents(real_samples: Path, name: str) -> None:
    docs = memshift.convert(
        _sample(real_samples, name),
        None,
        src="conversationformat",
        dst="everos",
        on_loss="ignore",
        registry=REG,
    )
    assert docs.report.read == docs.report.written == 104
    assert len(docs) == 1
    doc = docs[0]
    assert doc["user_id"] == "user_001"
    assert doc["session_id"] == "chat_user_001_assistant"
    assert "group_id" not in doc
    messages = doc["messages"]
    assert len(messages) == 104
    assert [m["message_id"] for m in messages[:3]] == ["msg_001", "msg_002", "msg_003"]
    assert messages[0]["timestamp"] == 1750896000000  # 2025-06-26T00:00:00Z
    assert messages[1]["timestamp"] == 1750896030000
    assert messages[-1]["timestamp"] == 1764354990000  # 2025-11-28T18:36:30Z
    users = [m for m in messages if m["role"] == "user"]
    assistants = [m for m in messages if m["role"] == "assistant"]
    assert len(users) + len(assistants) == 104 and users and assistants
    assert all("sender_id" not in m for m in users)  # the server attributes them to user_id
    assert {m["sender_id"] for m in assistants} == {"robot_001"}
    assert {m["sender_name"] for m in users} == {"user"}  # the sample's own spelling
    assert all(isinstance(m["content"], str) and m["content"] for m in messages)


def test_real_team_sample_becomes_a_group_document(real_samples: Path) -> None:
    path = _sample(real_samples, "team_chat_en.json")
    docs = memshift.convert(
        path, None, src="conversationformat", dst="everos", on_loss="ignore", registry=REG
    )
    report = docs.report
    assert report.read == report.written == 509 and balanced(report)
    (doc,) = docs
    assert doc["group_id"] == "group_sales_ai_2025"
    assert doc["group_meta"] == {
        "name": "Intelligent Sales Assistant Project Team",
        "description": "Development Discussion Group for the Intelligent Sales Assistant Project",
    }
    messages = doc["messages"]
    assert len(messages) == 509
    assert {m["sender_id"] for m in messages} == {f"user_10{i}" for i in range(1, 6)}
    assert {m["role"] for m in messages} == {"user"}
    assert messages[0]["timestamp"] == 1738375200000  # 2025-02-01T02:00:00Z
    stamps = [m["timestamp"] for m in messages]
    assert stamps == sorted(stamps)
    ids = [m["message_id"] for m in messages]
    assert len(set(ids)) == 509  # the sample repeats msg_0425: the second is read as msg_0425~2
    assert "msg_0425~2" in ids
    assert report.notes["everos"]["documents_over_500"] == 1
    assert any("more than 500 messages" in w for w in report.warnings)


def test_real_team_sample_split_into_api_calls(real_samples: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = memshift.convert(
        _sample(real_samples, "team_chat_en.json"),
        out,
        src="conversationformat",
        dst="everos",
        dst_options={"max_messages": 500},
        on_loss="ignore",
        registry=REG,
    )
    names = sorted(p.name for p in out.glob("*.json"))
    assert names == ["group_sales_ai_2025.0002.json", "group_sales_ai_2025.json"]
    sizes = {p.name: len(json.loads(p.read_bytes())["messages"]) for p in out.glob("*.json")}
    assert sizes == {"group_sales_ai_2025.json": 500, "group_sales_ai_2025.0002.json": 9}
    assert report.notes["everos"]["split_conversations"] == 1
    back = list(memshift.read(out, "everos", registry=REG))
    assert [type(r).__name__ for r in back].count("Conversation") == 1
    assert len(back) == 510


# -- document shape ------------------------------------------------------------------------------


def test_group_document_shape() -> None:
    c = conv(name="eng-platform", description="Platform team")
    docs = write_bytes("everos", [c, msg(1), msg(2, sender_id="U01BBB", sender_name=None)])
    assert list(docs) == ["C1.json"]
    text = docs["C1.json"].decode()
    assert text.startswith(
        '{"group_id":"C1","group_meta":{"name":"eng-platform","description":"Platform team"},'
        '"messages":[\n{"message_id":"m1","role":"user","sender_id":"U01AAA"'
    )
    doc = json.loads(text)
    assert doc["messages"][1] == {
        "message_id": "m2",
        "role": "user",
        "sender_id": "U01BBB",
        "timestamp": T0_MS + 2000,
        "content": "hello 2",
    }


def test_personal_document_puts_the_owner_last() -> None:
    c = conv("chat-1", "personal", participants=(Participant(id="u1", name="Mia", role="user"),))
    records: list[AnyRecord] = [
        c,
        msg(1, "chat-1", sender_id="u1", sender_name=None),
        msg(2, "chat-1", role="assistant", sender_id="gpt-4o", sender_name="ChatGPT"),
    ]
    text = write_bytes("everos", records)["chat-1.json"].decode()
    assert text.endswith('],"user_id":"u1","session_id":"chat-1"}\n')
    doc = json.loads(text)
    assert doc["messages"][0] == {
        "message_id": "m1",
        "role": "user",
        "sender_name": "Mia",  # filled from the participant
        "timestamp": T0_MS + 1000,
        "content": "hello 1",
    }
    assert doc["messages"][1]["sender_id"] == "gpt-4o"


def test_personal_without_sessions() -> None:
    c = conv("chat-1", "personal")
    doc = write([c, msg(1, "chat-1", sender_id="u1")], sessions=False)[0]
    assert doc["user_id"] == "u1" and "session_id" not in doc


def test_output_is_deterministic() -> None:
    records: list[AnyRecord] = [conv(), *(msg(i) for i in range(20))]
    assert write_bytes("everos", records) == write_bytes("everos", records)


# -- ids -----------------------------------------------------------------------------------------


def test_gen_prefixed_ids_are_rewritten_and_reported() -> None:
    records = [
        conv("gen_solo_abc"),
        msg(1, "gen_solo_abc", id="gen_msg_1", sender_id="gen_sdr_9"),
        msg(2, "gen_solo_abc"),
    ]
    docs = write(records)
    doc = docs[0]
    assert doc["group_id"] == "memshift_gen_solo_abc"
    assert doc["messages"][0]["message_id"] == "memshift_gen_msg_1"
    assert doc["messages"][0]["sender_id"] == "memshift_gen_sdr_9"
    assert doc["messages"][1]["message_id"] == "m2"
    assert docs.report.notes["everos"]["rewritten_ids"] == 3
    assert any("reserved by EverOS" in w for w in docs.report.warnings)


def test_reserved_session_id_is_rewritten() -> None:
    doc = write([conv("-1", "personal"), msg(1, "-1", sender_id="u1")])[0]
    assert doc["session_id"] == "memshift_-1"


def test_duplicate_message_ids_in_a_conversation_are_rejected() -> None:
    with pytest.raises(WriteError, match="duplicate message_id 'm1'"):
        write([conv(), msg(1), msg(1, timestamp=T0 + timedelta(seconds=5))])


# -- splitting and limits ------------------------------------------------------------------------


def test_max_messages_splits_into_numbered_documents() -> None:
    records: list[AnyRecord] = [conv(name="random"), *(msg(i) for i in range(5))]
    docs = write_bytes("everos", records, options={"max_messages": 2})
    assert list(docs) == ["C1.json", "C1.0002.json", "C1.0003.json"]
    sizes = [len(json.loads(d)["messages"]) for d in docs.values()]
    assert sizes == [2, 2, 1]
    assert all(json.loads(d)["group_meta"] == {"name": "random"} for d in docs.values())
    back = read_bytes("everos", docs)
    assert [r.id for r in back] == ["C1", "m0", "m1", "m2", "m3", "m4"]


def test_max_messages_bounds() -> None:
    with pytest.raises(OptionsError):
        write([conv(), msg(1)], max_messages=501)
    with pytest.raises(OptionsError):
        write([conv(), msg(1)], max_messages=0)


def test_documents_over_the_api_limit_are_reported() -> None:
    docs = write([conv(), *(msg(i) for i in range(501))])
    assert docs.report.notes["everos"]["documents_over_500"] == 1
    assert any("max_messages=500" in w for w in docs.report.warnings)


def test_limits_are_declared() -> None:
    limits = REG.adapter_class("everos").limits
    assert limits["messages_per_call"] == 500
    assert limits["min_messages_per_call"] == 1
    assert limits["min_timestamp_ms"] == 10**12
    adapter = REG.get("everos")
    assert adapter.limit_violations(msg(1, text="")) == [
        "min_content_chars: empty message (EverOS refuses empty content)"
    ]
    old = msg(1, timestamp=datetime(1999, 1, 1, tzinfo=UTC))
    assert adapter.limit_violations(old)[0].startswith("min_timestamp_ms")


def test_times_before_2001_are_sent_in_seconds() -> None:
    """The server reads values below 1e12 as seconds, so an instant before 2001-09-09 is sent in
    seconds and reads back as the same instant; only its sub-second part is lost (reported)."""
    early = datetime(2000, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)
    docs = write([conv(), msg(1, timestamp=early)])
    assert docs[0]["messages"][0]["timestamp"] == 946684800
    assert "timestamp" in docs.report.losses
    back = list(memshift.read({"a.json": json.dumps(docs[0]).encode()}, "everos"))
    assert back[1].timestamp == early.replace(microsecond=0)


def test_times_at_the_epoch_are_refused() -> None:
    with pytest.raises(WriteError, match="Unix epoch"):
        write([conv(), msg(1, timestamp=datetime(1970, 1, 1, 0, 0, 0, 500000, tzinfo=UTC))])


def test_empty_conversations_write_no_document() -> None:
    docs = write([conv("A"), conv("B"), msg(1, "B")])
    assert [d["group_id"] for d in docs] == ["B"]
    assert docs.report.notes["everos"]["empty_conversations"] == 1


# -- content -------------------------------------------------------------------------------------


def test_attachment_only_messages_send_their_names() -> None:
    one = (Attachment(name="report.pdf", url="https://f.example.com/r.pdf"),)
    two = (Attachment(url="https://f.example.com/a.png"), Attachment(path="files/b.txt"))
    docs = write([conv(), msg(1, text="", attachments=one), msg(2, text="", attachments=two)])
    contents = [m["content"] for m in docs[0]["messages"]]
    assert contents == [
        "[attachment: report.pdf]",
        "[attachments: https://f.example.com/a.png, files/b.txt]",
    ]
    assert docs.report.losses["attachments"].count == 2
    assert "sent as their names" in docs.report.losses["attachments"].detail
    assert docs.report.notes["everos"]["attachment_only_messages"] == 2


def test_empty_messages_are_skipped_and_counted() -> None:
    docs = write([conv(), msg(1), msg(2, text=""), msg(3)])
    assert [m["message_id"] for m in docs[0]["messages"]] == ["m1", "m3"]
    report = docs.report
    assert report.filtered == {"empty messages (-O empty_messages=placeholder to send them)": 1}
    assert report.written == 2 and balanced(report)


def test_empty_messages_placeholder_and_reject() -> None:
    docs = write([conv(), msg(1, text="")], empty_messages="placeholder")
    assert docs[0]["messages"][0]["content"] == "[empty message]"
    with pytest.raises(WriteError, match="empty message"):
        write([conv(), msg(1, text="")], empty_messages="reject")


def test_content_items_from_a_read_document_are_sent_back_as_they_were() -> None:
    items = [{"type": "text", "text": "look:"}, {"type": "image", "uri": "https://x/a.png"}]
    m = msg(1, text="look:", extensions={"everos:content": items})
    assert write([conv(), m])[0]["messages"][0]["content"] == items
    changed = m.model_copy(update={"text": "edited"})  # a transform changed the text
    assert write([conv(), changed])[0]["messages"][0]["content"] == "edited"


# -- roles ---------------------------------------------------------------------------------------


def test_system_and_tool_roles_are_mapped_and_reported() -> None:
    records = [
        conv("s", "personal"),
        msg(1, "s", role="system", sender_id=None, text="Be brief."),
        msg(2, "s", sender_id="u1"),
        msg(3, "s", role="tool", sender_id=None, text='{"temp": 14}'),
    ]
    docs = write(records)
    assert [m["role"] for m in docs[0]["messages"]] == ["user", "user", "assistant"]
    assert docs.report.losses["role"].count == 2
    assert docs.report.notes["everos"]["system_as_user"] == 1
    assert docs.report.notes["everos"]["tool_as_assistant"] == 1


def test_roles_can_be_skipped() -> None:
    docs = write([conv(), msg(1, role="system"), msg(2)], system_role="skip", tool_role="user")
    assert [m["message_id"] for m in docs[0]["messages"]] == ["m2"]
    assert docs.report.filtered == {"system messages (-O system_role=user or assistant)": 1}
    assert balanced(docs.report)


def test_reasoning_is_left_out_unless_asked() -> None:
    think = msg(2, role="assistant", type="reasoning", text="thinking...")
    docs = write([conv(), msg(1), think])
    assert len(docs[0]["messages"]) == 1
    assert docs.report.filtered == {"reasoning messages (-O include_reasoning=true)": 1}
    assert len(write([conv(), msg(1), think], include_reasoning=True)[0]["messages"]) == 2


# -- times ---------------------------------------------------------------------------------------


def test_missing_times_borrow_the_nearest_one() -> None:
    created = T0 - timedelta(hours=1)
    with_created = [
        conv(created_at=created),
        msg(1, timestamp=None),
        msg(2),
        msg(3, timestamp=None),
    ]
    stamps = [m["timestamp"] for m in write(with_created)[0]["messages"]]
    assert stamps == [T0_MS - 3600_000, T0_MS + 2000, T0_MS + 2000]
    leading = [conv(), msg(1, timestamp=None), msg(2, timestamp=None), msg(3)]
    docs = write(leading)
    assert [m["timestamp"] for m in docs[0]["messages"]] == [T0_MS + 3000] * 3
    assert [m["message_id"] for m in docs[0]["messages"]] == ["m1", "m2", "m3"]
    assert docs.report.losses["timestamp"].count == 2
    assert docs.report.notes["everos"]["filled_timestamps"] == 2


def test_conversations_without_any_time() -> None:
    untimed = [conv(), msg(1, timestamp=None), msg(2, timestamp=None)]
    docs = write(untimed)
    assert len(docs) == 0
    reason = "messages in a conversation without any time (-O default_time=ISO 8601 to send them)"
    assert docs.report.filtered == {reason: 2} and balanced(docs.report)
    docs = write(untimed, default_time="2024-01-01T00:00:00Z")
    assert [m["timestamp"] for m in docs[0]["messages"]] == [1704067200000] * 2
    with pytest.raises(WriteError, match="no timestamp"):
        write(untimed, missing_time="reject")


def test_writer_warns_about_disorder() -> None:
    docs = write([conv(), msg(5), msg(1)])
    assert any("not in chronological order" in w for w in docs.report.warnings)


# -- senders and owners --------------------------------------------------------------------------


def test_group_messages_without_sender() -> None:
    records = [conv(), msg(1, sender_id=None, role="assistant", sender_name=None)]
    docs = write(records)
    assert docs[0]["messages"][0]["sender_id"] == "assistant"
    assert any("role as sender_id" in w for w in docs.report.warnings)
    assert write(records, unknown_sender_id="UNKNOWN")[0]["messages"][0]["sender_id"] == "UNKNOWN"
    with pytest.raises(WriteError, match="need a sender_id"):
        write(records, missing_sender="reject")


def test_owner_precedence() -> None:
    people = (
        Participant(id="bot", is_bot=True),
        Participant(id="human"),
        Participant(id="declared", role="user"),
    )
    c = conv("p", "personal", participants=people)
    spoken = [c, msg(1, "p", sender_id="speaker")]
    assert write(spoken)[0]["user_id"] == "declared"
    assert write(spoken, user_id="given")[0]["user_id"] == "given"
    undeclared = c.model_copy(update={"participants": people[:2]})
    assert write([undeclared, msg(1, "p", sender_id="speaker")])[0]["user_id"] == "speaker"
    only_assistant = [undeclared, msg(1, "p", role="assistant", sender_id="gpt")]
    assert write(only_assistant)[0]["user_id"] == "human"
    nobody = [conv("p", "personal"), msg(1, "p", role="assistant", sender_id="gpt")]
    docs = write(nobody)
    assert docs[0]["user_id"] == "p"
    assert any("-O user_id=ID" in w for w in docs.report.warnings)


def test_personal_losses_are_reported() -> None:
    c = conv(
        "p",
        "personal",
        name="Trip planning",
        timezone="Europe/Berlin",
        participants=(Participant(id="u1", role="user"),),
    )
    docs = write([c, msg(1, "p", sender_id="u1"), msg(2, "p", sender_id="u2")])
    losses = docs.report.losses
    assert "conversation name/description" in losses and "timezone" in losses
    assert losses["sender_id"].count == 1  # u2 spoke as user but the document belongs to u1


def test_mode_can_be_forced() -> None:
    personal = [conv("p", "personal"), msg(1, "p", sender_id="u1")]
    assert write(personal, mode="group")[0]["group_id"] == "p"
    assert write([conv(), msg(1)], mode="personal")[0]["user_id"] == "U01AAA"


def test_memory_items_and_inactive_branches_are_counted() -> None:
    records = [conv(), msg(1), msg(2, active=False), MemoryItem(id="f1", text="likes tea")]
    docs = write(records)
    report = docs.report
    assert report.read == 3 and report.written == 1 and balanced(report)
    assert report.filtered == {
        "inactive branches (the destination keeps the active path only)": 1,
        "memory items (the destination holds conversations only)": 1,
    }


# -- reading -------------------------------------------------------------------------------------


def test_reads_a_stream_whose_owner_comes_last() -> None:
    body = (
        b'{"messages":[{"message_id":"a","role":"user","timestamp":1704103200000,"content":"hi"},'
        b'{"message_id":"b","role":"assistant","timestamp":1704103201000,"content":"yo"}],'
        b'"user_id":"acct_42","session_id":"s9"}'
    )
    records = list(memshift.read(body, "everos", registry=REG))
    assert records[0] == Conversation(
        id="s9", type="personal", participants=(Participant(id="acct_42", role="user"),)
    )
    assert [r.sender_id for r in records[1:]] == ["acct_42", None]  # type: ignore[union-attr]


def test_reads_python_objects() -> None:
    item = {"role": "user", "sender_id": "u", "timestamp": 1_700_000_000_000, "content": "x"}
    doc = {"group_id": "g", "messages": [item]}
    records = list(memshift.read([doc], "everos", registry=REG))
    assert records[1].id.startswith("gen_msg_")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1718096400, "2024-06-11T09:00:00+00:00"),
        (1718096400000, "2024-06-11T09:00:00+00:00"),
        (1718096400.5, "2024-06-11T09:00:00.500000+00:00"),
        ("1718096400123", "2024-06-11T09:00:00.123000+00:00"),
        (1718096400000.0, "2024-06-11T09:00:00+00:00"),
    ],
)
def test_seconds_and_milliseconds_are_told_apart(value: Any, expected: str) -> None:
    assert parse_timestamp(value).isoformat() == expected


@pytest.mark.parametrize("value", [0, -5, "soon", None, True, float("nan"), 999_999_999_999])
def test_unusable_timestamps(value: Any) -> None:
    # 999_999_999_999 is below 1e12, so seconds (as the server reads it): the year 33658.
    with pytest.raises(ValueError):
        parse_timestamp(value)


def test_detects_documents(tmp_path: Path) -> None:
    personal = tmp_path / "p.json"
    personal.write_text(
        '{"messages":[{"message_id":"a","role":"user","timestamp":1704103200000,"content":"hi"}],'
        '"user_id":"u"}'
    )
    with open_source(personal) as source:
        assert REG.detect(source)[0].name == "everos"
    out = tmp_path / "out"
    memshift.convert(personal, out, src="everos", dst="everos", registry=REG)
    with open_source(out) as source:
        assert REG.detect(source)[0].name == "everos"
