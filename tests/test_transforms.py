"""Built-in transforms, each counted in the report with the flag that would undo it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import memshift
from memshift.errors import OptionsError, UsageError
from memshift.model import AnyRecord, Attachment, Conversation, MemoryItem, Message, Participant

T0 = datetime(2024, 1, 10, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def dump(tmp_path: Path, records: list[AnyRecord]) -> Path:
    path = tmp_path / "in.jsonl"
    memshift.write(records, path, "canonical")
    return path


def run(
    path: Path, *transforms: object, **kw: object
) -> tuple[list[dict[str, object]], memshift.Report]:
    docs = memshift.convert(
        path, None, src="canonical", dst="canonical", transforms=transforms, **kw
    )  # type: ignore[arg-type]
    assert docs.report.balanced, docs.report.to_dict()
    return [d for d in docs if "kind" in d], docs.report


def ids(docs: list[dict[str, object]]) -> list[object]:
    return [d["id"] for d in docs if d["kind"] == "message"]


@pytest.fixture
def chat(tmp_path: Path) -> Path:
    conv = Conversation(
        id="c1",
        name="general",
        participants=(
            Participant(id="U1", name="Ann"),
            Participant(id="B1", name="CI", is_bot=True),
        ),
    )
    msgs = [
        Message(
            id="root", conversation_id="c1", sender_id="U1", timestamp=day(-5), text="old root"
        ),
        Message(
            id="r1",
            conversation_id="c1",
            sender_id="U1",
            timestamp=day(-4),
            thread_id="root",
            text="old reply",
        ),
        Message(
            id="r2",
            conversation_id="c1",
            sender_id="U1",
            timestamp=day(1),
            thread_id="root",
            text="new reply",
        ),
        Message(id="solo-old", conversation_id="c1", sender_id="U1", timestamp=day(-3), text="old"),
        Message(id="bot", conversation_id="c1", sender_id="B1", timestamp=day(2), text="build ok"),
        Message(
            id="bot2",
            conversation_id="c1",
            sender_id="X9",
            sender_is_bot=True,
            timestamp=day(2),
            text="hook",
        ),
        Message(
            id="join",
            conversation_id="c1",
            sender_id="U1",
            timestamp=day(3),
            type="event",
            text="joined",
        ),
        Message(id="late-root", conversation_id="c1", sender_id="U1", timestamp=day(4), text="q?"),
        Message(
            id="late-reply",
            conversation_id="c1",
            sender_id="U1",
            timestamp=day(40),
            thread_id="late-root",
            text="a",
        ),
        Message(id="after", conversation_id="c1", sender_id="U1", timestamp=day(41), text="later"),
    ]
    other = Conversation(id="c2", name="random")
    m2 = Message(id="x", conversation_id="c2", sender_id="U2", timestamp=day(1), text="hi")
    return dump(tmp_path, [conv, *msgs, other, m2])


def test_exclude_bots_uses_participants_and_message_flags(chat: Path) -> None:
    docs, report = run(chat, "exclude_bots")
    assert "bot" not in ids(docs) and "bot2" not in ids(docs)
    assert report.filtered["bot messages (drop --exclude-bots)"] == 2


def test_exclude_events(chat: Path) -> None:
    docs, report = run(chat, "exclude_events", include_events=True)
    assert "join" not in ids(docs)
    assert report.filtered["events (drop --exclude-events)"] == 1


def test_since_keeps_whole_threads_crossing_the_boundary(chat: Path) -> None:
    docs, report = run(chat, ("date_range", {"since": "2024-01-10"}), include_events=True)
    kept = ids(docs)
    assert {"root", "r1", "r2"} <= set(kept)  # the old root and old reply come with the new reply
    assert "solo-old" not in kept
    assert report.filtered["messages outside the date range (widen --since/--until)"] == 1


def test_until_keeps_late_replies_of_threads_in_range(chat: Path) -> None:
    docs, _ = run(chat, ("date_range", {"until": "2024-02-01"}), include_events=True)
    kept = ids(docs)
    assert "late-reply" in kept and "after" not in kept


def test_date_range_needs_a_rereadable_input(chat: Path) -> None:
    with pytest.raises(UsageError, match="twice"):
        memshift.convert(
            open(chat, "rb"),
            None,
            src="canonical",
            dst="canonical",
            transforms=[("date_range", {"since": "2024-01-01"})],
        )


def test_bad_transform_option() -> None:
    with pytest.raises(OptionsError, match="since"):
        from memshift_adapters.transforms import DateRange

        DateRange({"since": "yesterday"})


def test_select_conversations_and_participants(chat: Path) -> None:
    docs, report = run(chat, ("select", {"conversations": ["rand*"]}))
    assert ids(docs) == ["x"]
    assert report.filtered["messages in conversations not selected (--conversation)"] == 10
    docs, report = run(chat, ("select", {"participants": ["B1"]}))
    assert ids(docs) == ["bot"]


def test_unknown_transform_is_a_usage_error(chat: Path) -> None:
    with pytest.raises(UsageError, match="unknown transform 'nope'"):
        run(chat, "nope")


def test_redact(tmp_path: Path) -> None:
    text = "mail ann@example.com or call +1 (415) 555-0100; key sk-abcdefghijklmnopqrstuvwx ts 1452845865.000008"
    recs: list[AnyRecord] = [
        Conversation(id="c"),
        Message(
            id="1",
            conversation_id="c",
            timestamp=T0,
            text=text,
            attachments=(Attachment(name="f", url="https://files.slack.com/f.js?t=xoxe-123-abc"),),
        ),
        MemoryItem(id="m", text="Ann's email is ann@example.com"),
    ]
    docs, report = run(dump(tmp_path, recs), "redact")
    msg = next(d for d in docs if d["kind"] == "message")
    assert msg["text"] == "mail [email] or call [phone]; key [token] ts 1452845865.000008"
    assert msg["attachments"][0]["url"] == "https://files.slack.com/f.js?t=[token]"  # type: ignore[index]
    assert report.notes["redactions"] == {"emails": 2, "phones": 1, "tokens": 2}
