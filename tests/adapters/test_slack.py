"""Slack: what the golden and property suites cannot express.

Real exports (every sample reads, converts with exit 0 and survives slack -> slack), in-memory
message lists, zips (UTF-8 names without the UTF-8 flag), token hygiene, streaming memory, the
writer's handling of other formats' records (ids, threads, bots, markup, missing times), folder
naming, day files, and the located error messages.

The zip fixtures are built here, deterministically: ``python -m tests.adapters.test_slack``
rewrites them, and a test checks the committed bytes still match.
"""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memshift
from memshift import Attachment, Conversation, Mention, Message, Participant, Reaction
from memshift.cli import cli
from memshift.context import Context
from memshift.errors import OptionsError, ReadError
from memshift.model import AnyRecord, Provenance
from memshift.registry import Registry
from memshift.sources import Source, open_source
from memshift.testing import strategies
from memshift.testing.roundtrip import assert_fixpoint, assert_roundtrip, read_bytes, write_bytes

from ..conftest import FIXTURES

REG = Registry()
SLACK = FIXTURES / "slack"
T0 = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


def read(source: Any, **options: Any) -> list[AnyRecord]:
    return list(memshift.read(source, "slack", options=options, registry=REG))


def messages(records: list[AnyRecord]) -> list[Message]:
    return [r for r in records if isinstance(r, Message)]


def chronological(records: list[AnyRecord]) -> list[AnyRecord]:
    """Each conversation's messages in time order (stable), as the writer receives them."""
    out: list[AnyRecord] = []
    buf: list[Message] = []
    for r in records:
        if isinstance(r, Message):
            buf.append(r)
            continue
        out.extend(sorted(buf, key=lambda m: m.timestamp or T0))
        buf = []
        out.append(r)
    out.extend(sorted(buf, key=lambda m: m.timestamp or T0))
    return out


# -- zip fixtures ----------------------------------------------------------------------------


def _zip(files: dict[str, bytes], *, utf8_flag: bool = True) -> bytes:
    """A stored (uncompressed, so byte-stable) zip with fixed dates. With ``utf8_flag=False`` the
    names are written as raw UTF-8 bytes without the flag, as macOS and Linux zip tools do."""
    placeholders: dict[bytes, bytes] = {}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for n, (name, data) in enumerate(files.items()):
            raw = name.encode("utf-8")
            if not utf8_flag and not name.isascii():
                stand_in = (f"~{n}~" * len(raw))[: len(raw)].encode("ascii")
                placeholders[stand_in] = raw
                name = stand_in.decode("ascii")
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 31, 12, 0, 0)), data)
    out = buf.getvalue()
    for stand_in, raw in placeholders.items():
        assert out.count(stand_in) == 2  # the local header and the central directory
        out = out.replace(stand_in, raw)
    return out


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=4, ensure_ascii=False) + "\n").encode("utf-8")


def _user(uid: str, name: str, real: str) -> dict[str, Any]:
    return {
        "id": uid,
        "team_id": "T0ACME001",
        "name": name,
        "deleted": False,
        "real_name": real,
        "profile": {"real_name": real, "display_name": name},
        "is_bot": False,
    }


def _message(uid: str, text: str, ts: str) -> dict[str, Any]:
    return {"type": "message", "user": uid, "text": text, "ts": ts}


def utf8_names_zip() -> bytes:
    users = [_user("U01ADA0001", "ada", "Ada Lovelace"), _user("U05KENJI01", "kenji", "森 健二")]
    channels = [
        {"id": "C06CAFE001", "name": "café", "created": 1704067200, "members": ["U01ADA0001"]},
        {"id": "C07NIHON01", "name": "日本語", "created": 1704067200, "members": ["U05KENJI01"]},
    ]
    return _zip(
        {
            "channels.json": _json(channels),
            "users.json": _json(users),
            "café/2024-01-15.json": _json(
                [_message("U01ADA0001", "Un café, s'il vous plaît", "1705312800.000100")]
            ),
            "日本語/2024-01-15.json": _json(
                [_message("U05KENJI01", "こんにちは <#C06CAFE001>", "1705312900.000200")]
            ),
        },
        utf8_flag=False,
    )


def wrapped_export_zip() -> bytes:
    """What "Export" in Slack's admin pages gives after a round through macOS Finder: one
    enclosing folder, plus a ``__MACOSX`` folder of resource forks beside it."""
    top = "Acme Slack export Jan 1 2024 - Jan 31 2024"
    users = [_user("U01ADA0001", "ada", "Ada Lovelace"), _user("U02GRACE01", "grace", "Grace")]
    channels = [
        {
            "id": "C01GENERAL",
            "name": "general",
            "created": "1704067200",
            "members": ["U01ADA0001", "U02GRACE01"],
            "purpose": {"value": "Announcements", "creator": "U01ADA0001", "last_set": 0},
        }
    ]
    return _zip(
        {
            f"{top}/channels.json": _json(channels),
            f"{top}/users.json": _json(users),
            f"{top}/integration_logs.json": _json([]),
            f"{top}/general/2024-01-15.json": _json(
                [
                    _message("U01ADA0001", "Zipped, with a folder around it", "1705312800.000001"),
                    _message("U02GRACE01", "and Finder's __MACOSX next to it", "1705312801.000002"),
                ]
            ),
            f"__MACOSX/{top}/._channels.json": b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X",
        }
    )


def quickstart_zip() -> bytes:
    """The export docs/getting-started.md converts: three channels, 42 messages (four of them
    joins), two threads and a few reactions."""
    people = [
        ("U024BE7LH", "ada", "Ada Lovelace"),
        ("U02GRACE0", "grace", "Grace Hopper"),
        ("U03LINUS0", "linus", "Linus Torvalds"),
        ("U04MARGE0", "margaret", "Margaret Hamilton"),
    ]
    users = [_user(uid, name, real) for uid, name, real in people]
    ids = [uid for uid, _, _ in people]
    chans = [
        ("C024BE91L", "general", "Launch week: everything ships Friday"),
        ("C02ABCDEF", "random", "Lunch, links and cat pictures"),
        ("C03GHIJKL", "engineering", "Release 2.4 status"),
    ]
    channels = [
        {
            "id": cid,
            "name": name,
            "created": 1709280000,
            "members": ids,
            "topic": {"value": topic, "creator": "U024BE7LH", "last_set": 1709280000},
            "purpose": {"value": f"#{name} for the Acme team"},
        }
        for cid, name, topic in chans
    ]
    start = 1709544600  # 2024-03-04 09:30 UTC
    script: dict[str, list[tuple[int, str, str | None, list[str]]]] = {
        "general": [
            (0, "Morning all, launch checklist is pinned above", None, ["tada"]),
            (1, "Thanks Ada, I will take the release notes", None, []),
            (2, "Docs are frozen as of now", None, []),
            (3, "QA sign-off expected Thursday", None, ["eyes"]),
            (0, "Who is on call during the launch?", "t1", []),
            (1, "Me for the first shift", "t1", []),
            (2, "I can take the evening", "t1", []),
            (3, "And I cover the weekend", "t1", ["pray"]),
            (0, "Reminder: all-hands at 16:00", None, []),
            (1, "Slides are in the shared drive", None, []),
            (2, "Will the recording be shared?", None, []),
            (0, "Yes, by tomorrow morning", None, []),
            (3, "Great session today, thanks everyone", None, ["heart"]),
            (1, "See you all on Friday", None, []),
        ],
        "random": [
            (2, "Anyone up for ramen at noon?", None, []),
            (3, "Count me in", None, []),
            (0, "Same, meet at the lobby", None, []),
            (1, "I found the old launch photos from 2019", None, ["joy"]),
            (2, "The hair styles, oh no", None, []),
            (3, "Coffee machine on floor 3 is fixed", None, []),
            (0, "Best news this week", None, []),
            (1, "Board games on Thursday evening?", None, []),
            (2, "Bringing Carcassonne", None, []),
            (3, "I will bring snacks", None, []),
            (0, "Have a good weekend everyone", None, []),
        ],
        "engineering": [
            (2, "Release branch 2.4 is cut", None, []),
            (3, "CI is green on the branch", None, []),
            (0, "The migration needs a second review", "t2", []),
            (1, "Looking at it now", "t2", []),
            (2, "Approved, one nit about the index name", "t2", []),
            (0, "Staging deploy done, smoke tests pass", None, []),
            (1, "Latency is back to normal after the cache fix", None, []),
            (3, "Tagging v2.4.0-rc1", None, []),
            (2, "Changelog updated", None, []),
            (0, "Production deploy scheduled for 10:00 Friday", None, []),
            (1, "Rollback plan is in the runbook", None, []),
            (3, "Feature flags default to off", None, []),
            (2, "Ready from my side", None, []),
        ],
    }
    files: dict[str, bytes] = {"channels.json": _json(channels), "users.json": _json(users)}
    n = 0
    for (cid, name, _), day0 in zip(chans, (0, 1, 2), strict=True):
        del cid
        t = start + day0 * 86_400
        day: list[dict[str, Any]] = []
        if name == "general":
            for who in range(4):
                n += 1
                day.append(
                    {
                        "type": "message",
                        "subtype": "channel_join",
                        "user": ids[who],
                        "text": f"<@{ids[who]}> has joined the channel",
                        "ts": f"{t - 600 + who}.{n:06d}",
                    }
                )
        roots: dict[str, str] = {}
        for who, text, thread, reactions in script[name]:
            n += 1
            t += 300
            m = _message(ids[who], text, f"{t}.{n:06d}")
            if thread is not None:
                m["thread_ts"] = roots.setdefault(thread, m["ts"])
            if reactions:
                m["reactions"] = [{"name": r, "users": [ids[(who + 1) % 4]], "count": 1}
                                  for r in reactions]  # fmt: skip
            day.append(m)
        date = datetime.fromtimestamp(start + day0 * 86_400, UTC).date().isoformat()
        files[f"{name}/{date}.json"] = _json(day)
    return _zip(files)


ZIP_FIXTURES = {
    "utf8-zip-names": utf8_names_zip,
    "zip-export": wrapped_export_zip,
    "quickstart": quickstart_zip,
}


def write_zip_fixtures() -> None:
    for case, build in ZIP_FIXTURES.items():
        path = SLACK / case / "input.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(build())


@pytest.mark.parametrize("case", sorted(ZIP_FIXTURES))
def test_zip_fixtures_are_what_the_builder_makes(case: str) -> None:
    assert (SLACK / case / "input.zip").read_bytes() == ZIP_FIXTURES[case]()


def test_utf8_names_without_the_flag_are_read_correctly() -> None:
    path = SLACK / "utf8-zip-names" / "input.zip"
    with zipfile.ZipFile(path) as zf:
        flagged = {i.filename: bool(i.flag_bits & 0x800) for i in zf.infolist()}
    # zipfile decodes unflagged names as cp437: the fixture really has the problem.
    mangled = "café/2024-01-15.json".encode().decode("cp437")
    assert mangled in flagged and not any(flagged.values())
    records = read(path)
    convs = [r for r in records if isinstance(r, Conversation)]
    assert [c.name for c in convs] == ["café", "日本語"]
    kenji = messages(records)[1]
    assert kenji.sender_name == "kenji" and kenji.text == "こんにちは #café"


# -- real exports --------------------------------------------------------------------------------


def _real(real_samples: Path) -> list[tuple[Path, dict[str, Any]]]:
    base = real_samples / "slack"
    cases: list[tuple[Path, dict[str, Any]]] = [(base / "hfaran-testarchive", {})]
    for path in sorted((base / "zulip-fixtures").glob("*.json")):
        cases.append((path, {"include_mpims": True} if path.name == "mpims.json" else {}))
    return cases


@pytest.mark.real_samples
def test_real_samples_convert_with_exit_0(real_samples: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for path, options in _real(real_samples):
        args = ["convert", str(path), "-f", "slack", "-t", "canonical", "-o", str(tmp_path / "o")]
        args += [a for k, v in options.items() for a in ("-O", f"{k}={json.dumps(v)}")]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, (path.name, result.output)


@pytest.mark.real_samples
def test_real_samples_round_trip_through_slack(real_samples: Path, tmp_path: Path) -> None:
    for n, (path, options) in enumerate(_real(real_samples)):
        first = read(path, **options)
        assert first, path
        out = tmp_path / f"out{n}"
        report = memshift.convert(
            path, out, src="slack", dst="slack", src_options=options, registry=REG
        )
        assert report.balanced and report.rejected == 0, report.to_dict()
        again = read(out, **options)
        assert again == chronological(first), path.name


@pytest.mark.real_samples
def test_real_export_details(real_samples: Path) -> None:
    records = read(real_samples / "slack" / "hfaran-testarchive")
    msgs = messages(records)
    assert len(msgs) == 158
    first = msgs[0]
    # Exact to the microsecond from the ts string; the day file's name (Pacific) is not used.
    assert first.id == first.timestamp_raw == "1452837318.000002"
    assert first.timestamp == datetime(2016, 1, 15, 5, 55, 18, 2, tzinfo=UTC)
    assert first.type == "event" and first.text == "@hamza has joined the channel"
    shares = [m for m in msgs if m.extensions.get("slack:subtype") == "file_share"]
    assert shares and all(
        m.attachments and "xox" not in (m.attachments[0].url or "") for m in shares
    )
    comment = next(m for m in msgs if m.extensions.get("slack:subtype") == "file_comment")
    assert comment.sender_id == "U0BMS113R" and comment.sender_name == "doubledeez"
    bots = [m for m in msgs if m.sender_is_bot]
    assert len(bots) == 94 and all(m.text for m in bots)  # text from the legacy attachments


# -- Python objects --------------------------------------------------------------------------


SLACK_MESSAGES = [
    {"type": "message", "user": "U1", "text": "hi <@U2>", "ts": "1705312800.000100"},
    {
        "type": "message",
        "user": "U2",
        "text": "hello",
        "ts": "1705312860.000200",
        "thread_ts": "1705312800.000100",
    },
    {"type": "message", "subtype": "bot_message", "bot_id": "B1", "username": "CI", "text": "ok",
     "ts": "1705312900.000300"},
]  # fmt: skip
USERS = [
    {"id": "U1", "name": "ada", "real_name": "Ada Lovelace", "profile": {"display_name": "Ada"}},
    {"id": "U2", "name": "grace", "real_name": "Grace Hopper"},
]


def test_a_list_of_message_dicts_converts_like_an_export() -> None:
    docs = memshift.convert(
        SLACK_MESSAGES, src="slack", dst="canonical", src_options={"users": USERS}, registry=REG
    )
    assert docs.report.balanced and docs.report.read == 3
    header, conv, *msgs = docs
    assert "memshift_schema" in header
    assert conv["id"] == "channel" and conv["name"] == "channel"
    assert [p["id"] for p in conv["participants"]] == ["U1", "U2"]
    assert msgs[0]["text"] == "hi @Grace Hopper" and msgs[0]["sender_name"] == "Ada"
    assert msgs[1]["thread_id"] == msgs[0]["id"] and msgs[1]["reply_to"] == msgs[0]["id"]
    assert msgs[2]["sender_name"] == "CI" and msgs[2]["sender_is_bot"] is True


def test_objects_are_detected_without_naming_the_format() -> None:
    docs = memshift.convert(SLACK_MESSAGES, dst="canonical", registry=REG)
    assert docs.report.source_format == "slack"


def test_objects_options_channel_and_users_path(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    users.write_text(json.dumps(USERS))
    records = read(SLACK_MESSAGES, channel="C0123456789", users=str(users))
    conv = records[0]
    assert isinstance(conv, Conversation) and conv.id == "C0123456789" and conv.name is None
    assert messages(records)[1].sender_name == "Grace Hopper"
    with pytest.raises(ReadError, match="cannot read users"):
        read(SLACK_MESSAGES, users=str(tmp_path / "missing.json"))


def test_objects_shapes_api_page_single_message_and_generator() -> None:
    page = {"ok": True, "messages": SLACK_MESSAGES, "has_more": False}
    assert len(messages(read(page))) == 3
    assert [m.id for m in messages(read(SLACK_MESSAGES[0]))] == ["1705312800.000100"]
    gen = (m for m in SLACK_MESSAGES)
    assert len(messages(read(gen))) == 3
    with pytest.raises(ReadError, match="expected"):
        read({"nothing": "here"})


def test_objects_bad_record_is_located() -> None:
    bad = [*SLACK_MESSAGES, {"type": "message", "user": "U1", "text": "x", "ts": 17.5}]
    with pytest.raises(ReadError) as info:
        read(bad)
    assert "[3].ts: not a Slack timestamp: 17.5" in str(info.value)


def test_objects_to_everos() -> None:
    if "everos" not in REG.names():
        pytest.skip("the everos adapter is not registered")
    docs = memshift.convert(
        SLACK_MESSAGES, src="slack", dst="everos", src_options={"users": USERS}, registry=REG
    )
    assert docs and docs.report.balanced
    assert docs.report.written + docs.report.filtered_total == 3


# -- errors and secrets ---------------------------------------------------------------------------


def _export(tmp_path: Path, day: list[Any], name: str = "export.zip") -> Path:
    files = {
        "channels.json": _json([{"id": "C01GENERAL", "name": "general", "members": []}]),
        "users.json": _json([]),
        "general/2024-01-15.json": _json(day),
    }
    path = tmp_path / name
    path.write_bytes(_zip(files))
    return path


def test_error_names_file_member_record_and_field(tmp_path: Path) -> None:
    day = [_message("U1", f"m{i}", f"170531280{i}.000000") for i in range(3)]
    day.append(_message("U1", "bad", "abc"))
    path = _export(tmp_path, day)
    with pytest.raises(ReadError) as info:
        memshift.convert(path, None, src="slack", dst="canonical", registry=REG)
    assert str(info.value) == (
        f"{path}: general/2024-01-15.json: [3].ts: not a Slack timestamp: 'abc'"
    )


def test_tokens_never_reach_errors_warnings_or_rejects(tmp_path: Path) -> None:
    url = "https://files.slack.com/files-pri/T1-F1/a.pdf?t=xoxe-1-SECRET"
    day = [
        {"type": "message", "user": "U1", "ts": "1705312800.000001", "files": [{"id": "F1",
         "url_private": url, "url_private_download": url}]},
        {"type": "message", "user": "U1", "ts": "bad", "files": [{"id": "F2", "url_private": url}]},
    ]  # fmt: skip
    path = _export(tmp_path, day)
    rejects = tmp_path / "rejects.jsonl"
    report = memshift.convert(
        path, tmp_path / "out.jsonl", src="slack", dst="canonical", on_error="skip",
        rejects=rejects, registry=REG,
    )  # fmt: skip
    assert report.rejected == 1
    assert "xox" not in rejects.read_text()
    assert "xox" not in (tmp_path / "out.jsonl").read_text()
    assert "xox" not in json.dumps(report.to_dict())
    tolerant = list(
        memshift.read(path, "slack", options={"strip_tokens": False}, on_error="skip", registry=REG)
    )
    assert messages(tolerant)[0].attachments[0].url == url


def test_bad_json_error_quotes_no_input(tmp_path: Path) -> None:
    path = tmp_path / "2024-01-15.json"
    path.write_bytes(b'[{"ts": "1.1", "user": "U1", "text": "see ?t=xoxe-1-SECRET \xff"}]')
    with pytest.raises(ReadError) as info:
        read(path)
    assert "xox" not in str(info.value) and "not valid UTF-8" in str(info.value)
    path.write_bytes(b'[{"ts": "1.1", "user": "U1", "text": "see ?t=xoxe-1-SECRET", "x": @}]')
    with pytest.raises(ReadError) as info:
        read(path)
    assert "xox" not in str(info.value) and "invalid JSON" in str(info.value)


def test_bad_option_values() -> None:
    with pytest.raises(OptionsError, match="name_precedence"):
        read(SLACK_MESSAGES, name_precedence=["display_name", "display_name"])
    with pytest.raises(OptionsError):
        memshift.write([], None, "slack", options={"day_timezone": "Mars/Olympus"}, registry=REG)


def test_duplicate_conversation_ids_are_an_error(tmp_path: Path) -> None:
    root = tmp_path / "export"
    (root / "general").mkdir(parents=True)
    entry = {"id": "C01GENERAL", "name": "general"}
    (root / "channels.json").write_text(json.dumps([entry, dict(entry, name="other")]))
    (root / "users.json").write_text("[]")
    (root / "general" / "2024-01-15.json").write_text("[]")
    with pytest.raises(ReadError, match=r"channels.json: \[1\]: id: duplicate"):
        read(root)


def test_report_counts_orphans_unresolved_ids_and_gone_files() -> None:
    docs = memshift.convert(
        SLACK / "orphan-replies" / "input", src="slack", dst="canonical", registry=REG
    )
    warnings = " ".join(docs.report.warnings)
    assert "2 thread replies in 1 threads whose root message is not in the input" in warnings
    docs = memshift.convert(
        SLACK / "bots-missing-from-users" / "input", src="slack", dst="canonical", registry=REG
    )
    assert "B0NONAME1" in " ".join(docs.report.warnings)


# -- streaming -----------------------------------------------------------------------------------


def _big_day(n: int, start: int = 1705312800) -> bytes:
    rows = (
        json.dumps(
            {
                "type": "message",
                "user": f"U{i % 50:04d}",
                "text": f"message {i} for <@U{(i + 1) % 50:04d}> &amp; friends " + "x" * 200,
                "ts": f"{start + i}.{i % 1000000:06d}",
                "blocks": [{"type": "rich_text", "elements": [{"type": "text", "text": "x"}]}],
            }
        )
        for i in range(n)
    )
    return b"[" + ",\n".join(rows).encode() + b"]"


def test_memory_does_not_grow_with_channel_size() -> None:
    def peak(n: int) -> int:
        members = {
            "channels.json": b'[{"id": "C1", "name": "general"}]',
            "users.json": b"[]",
            "general/2024-01-15.json": _big_day(n),
        }
        source = Source("members", "<big>", members=members)
        tracemalloc.start()
        count = 0
        for _ in REG.get("slack").read(source, REG.get("slack").ReadOptions(), Context()):
            count += 1
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert count == n + 1
        return top - sum(len(v) for v in members.values())

    small, large = peak(2_000), peak(20_000)
    # Ten times the messages must not need anything like ten times the memory.
    assert large < small * 3, (small, large)


# -- writing -----------------------------------------------------------------------------------


def conv(cid: str = "C1", **kw: Any) -> Conversation:
    return Conversation(id=cid, **kw)


def msg(i: int, cid: str = "C1", **kw: Any) -> Message:
    fields: dict[str, Any] = {
        "id": f"m{i}",
        "conversation_id": cid,
        "sender_id": "u1",
        "sender_name": "Ada",
        "timestamp": T0 + timedelta(minutes=i),
        "text": f"hello {i}",
    }
    fields.update(kw)
    return Message(**fields)


def test_records_from_other_formats_make_a_valid_export(tmp_path: Path) -> None:
    people = (Participant(id="u1", name="Ada"), Participant(id="bot", name="CI", is_bot=True))
    records: list[AnyRecord] = [
        conv(name="Team chat", description="From Discord", participants=people),
        msg(1, markup="**bold** <@123>", mentions=(Mention(id="u1", name="Ada"),)),
        msg(2, thread_id="m1", text="a reply in a thread"),
        msg(3, reply_to="m2", text="a reply to a reply"),
        msg(4, sender_id="bot", sender_name="CI", sender_is_bot=True, text="build <ok> & done"),
        msg(5, type="event", text="Ada joined"),
        msg(6, timestamp=None, text="no time at all"),
        msg(7, role="assistant", sender_id=None, sender_name=None, text="nameless"),
        msg(8, attachments=(Attachment(name="a.png", path="C:\\files\\a.png"),)),
    ]
    docs = write_bytes("slack", records, registry=REG)
    assert set(docs) == {"channels.json", "users.json", "Team chat/2024-01-15.json"}
    back = messages(read_bytes("slack", docs, registry=REG))
    ts = {m.extensions["slack:source_id"]: m.id for m in back}
    assert [m.extensions["slack:source_id"] for m in back] == [f"m{i}" for i in range(1, 9)]
    assert back[0].text == "hello 1" and back[0].markup is None and back[0].mentions == ()
    assert back[1].thread_id == ts["m1"] and back[1].reply_to == ts["m1"]
    assert back[2].thread_id == ts["m1"]  # a reply to a reply joins the root's thread
    assert back[3].sender_is_bot and back[3].sender_name == "CI"
    assert back[3].text == "build <ok> & done" and back[3].markup == "build &lt;ok&gt; &amp; done"
    assert back[4].type == "event"
    assert back[5].timestamp == back[4].timestamp + timedelta(microseconds=1)
    assert back[6].sender_name == "assistant"
    assert all(m.timestamp_raw == m.id for m in back)

    report = memshift.write(records, tmp_path / "out", "slack", on_loss="ignore", registry=REG)
    lost = set(report.losses)
    assert {"markup", "mentions", "timestamp", "role", "reply_to", "attachments.path"} <= lost


def test_same_time_gets_distinct_ts() -> None:
    records: list[AnyRecord] = [conv(), msg(1), msg(2, timestamp=T0 + timedelta(minutes=1))]
    back = messages(read_bytes("slack", write_bytes("slack", records, registry=REG), registry=REG))
    assert [m.id for m in back] == ["1705312860.000000", "1705312860.000001"]


def test_folders_for_awkward_channel_names() -> None:
    records: list[AnyRecord] = []
    names = ["general", "General", "a/b", None, "users.json", "cafe\u0301", "con", ".hidden"]
    for n, name in enumerate(names):
        records += [conv(f"C{n}", name=name), msg(n, f"C{n}")]
    records += [conv("general"), msg(99, "general")]  # an id equal to another's folder
    assert_roundtrip("slack", records, registry=REG)
    assert_fixpoint("slack", records, registry=REG)
    folders = {name.split("/")[0] for name in write_bytes("slack", records, registry=REG)}
    assert len(folders) == len(records) // 2 + 2  # one per conversation, plus the index files


def test_day_files_follow_the_day_timezone() -> None:
    late = T0.replace(hour=5)  # 05:00 UTC is the previous evening in Los Angeles
    records: list[AnyRecord] = [conv(name="general"), msg(1, timestamp=late)]
    utc = write_bytes("slack", records, registry=REG)
    la = write_bytes(
        "slack", records, options={"day_timezone": "America/Los_Angeles"}, registry=REG
    )
    assert "general/2024-01-15.json" in utc and "general/2024-01-14.json" in la
    assert read_bytes("slack", la, registry=REG) == read_bytes("slack", utc, registry=REG)


def test_unordered_and_interleaved_input_reads_back() -> None:
    records: list[AnyRecord] = [
        conv("A", name="a"),
        msg(3, "A", timestamp=T0 + timedelta(days=2)),
        msg(1, "A", timestamp=T0),
        conv("B", name="b"),
        msg(2, "B"),
        msg(4, "A", timestamp=T0 + timedelta(days=1)),
    ]
    docs = write_bytes("slack", records, registry=REG)
    # m1 is late and joins the open day file; m4 comes back to A after B and opens its own.
    assert {"a/2024-01-17.json", "a/2024-01-16.json", "b/2024-01-15.json"} <= set(docs)
    back = read_bytes("slack", docs, registry=REG)
    assert sorted(m.extensions["slack:source_id"] for m in messages(back)) == [
        "m1",
        "m2",
        "m3",
        "m4",
    ]
    report = memshift.write(records, None, "slack", on_loss="ignore", registry=REG).report
    assert any("came after later ones" in w for w in report.warnings)


def test_zip_output_reads_back(tmp_path: Path) -> None:
    src = SLACK / "threads-across-days" / "input"
    out = tmp_path / "export.zip"
    memshift.convert(src, out, src="slack", dst="slack", registry=REG)
    assert zipfile.is_zipfile(out)
    assert read(out) == read(src)
    again = tmp_path / "again.zip"
    memshift.convert(src, again, src="slack", dst="slack", registry=REG)
    assert out.read_bytes() == again.read_bytes()


def test_private_conversations_go_back_to_their_index_files(tmp_path: Path) -> None:
    src = SLACK / "private-dms-mpims" / "input"
    every = {"include_private": True, "include_dms": True, "include_mpims": True}
    out = tmp_path / "out"
    memshift.convert(src, out, src="slack", dst="slack", src_options=every, registry=REG)
    assert {p.name for p in out.glob("*.json")} >= {"groups.json", "dms.json", "mpims.json"}
    assert read(out, **every) == chronological(read(src, **every))
    assert [c.id for c in read(out) if isinstance(c, Conversation)] == ["C01GENERAL"]


def test_memory_items_and_tool_calls_are_counted_not_written() -> None:
    records: list[AnyRecord] = [
        conv(),
        msg(1),
        msg(2, type="tool_call"),
        memshift.MemoryItem(id="f1", text="likes tea"),
    ]
    report = memshift.write(records, None, "slack", registry=REG).report
    assert report.written == 1 and report.filtered_total == 2 and report.balanced


def test_participants_are_the_same_everywhere() -> None:
    records = read(SLACK / "channel-links" / "input")
    convs = [r for r in records if isinstance(r, Conversation)]
    assert convs[0].participants == convs[1].participants


def test_detection() -> None:
    for case in ("threads-across-days", "utf8-zip-names", "single-day-file"):
        path = next((SLACK / case).glob("input*"))
        with open_source(path) as source:
            assert REG.detect(source)[0].name == "slack", case


# -- the property suite, with what the generic strategy leaves out ------------------------


@st.composite
def foreign_streams(draw: st.DrawFn) -> list[AnyRecord]:
    """Streams as other formats produce them: bots, markup that is not Slack's, mentions,
    events, text Slack would misread, references by reply only, missing times, ids that
    look like Slack ts values."""
    records = draw(strategies.record_streams(type="group", with_memory=False))
    out: list[AnyRecord] = []
    for r in records:
        if isinstance(r, Message):
            text = draw(st.sampled_from([r.text, "a <b> & c", "&amp; <@U1> <#C1|x>", "", r.text]))
            update: dict[str, Any] = {
                "text": text,
                "sender_is_bot": draw(st.sampled_from([None, True, False])),
                "markup": draw(st.none() | st.just("**md** <@1>")),
                "timestamp": draw(st.sampled_from([r.timestamp, r.timestamp, None])),
            }
            if draw(st.booleans()):
                update["id"] = draw(st.sampled_from([r.id, "1705312800.000001", "9.5"]))
            if draw(st.booleans()) and r.thread_id is None:
                update["reply_to"] = r.reply_to
            out.append(r.model_copy(update=update))
        else:
            out.append(r)
    ids = [m.id for m in out if isinstance(m, Message)]
    if len(ids) != len(set(ids)):
        return records
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(foreign_streams())
def test_roundtrip_of_foreign_records(records: list[AnyRecord]) -> None:
    assert_roundtrip("slack", records, registry=REG)
    assert_fixpoint("slack", records, registry=REG)


def test_projection_of_a_real_looking_stream_is_identity() -> None:
    """Records the reader made are already what Slack holds."""
    records = read(SLACK / "mentions-and-entities" / "input")
    assert REG.get("slack").project(records) == records


def test_provenance_marks_slack_conversations() -> None:
    conv_ = read(SLACK / "threads-across-days" / "input")[0]
    assert isinstance(conv_, Conversation)
    assert conv_.provenance == Provenance(format="slack", source_id="C01GENERAL")


def _iter(records: list[AnyRecord]) -> Iterator[AnyRecord]:
    yield from records


def test_writer_consumes_lazily() -> None:
    records: list[AnyRecord] = [conv(), *(msg(i) for i in range(5))]
    docs = write_bytes("slack", _iter(records), registry=REG)
    assert len(messages(read_bytes("slack", docs, registry=REG))) == 5


def test_reactions_and_edits_survive() -> None:
    records: list[AnyRecord] = [
        conv(participants=(Participant(id="u1", name="Ada"),)),
        msg(
            1,
            edited_at=T0 + timedelta(minutes=1, microseconds=7),
            reactions=(Reaction(emoji="tada", count=3, users=("u1",)),),
        ),
    ]
    back = messages(read_bytes("slack", write_bytes("slack", records, registry=REG), registry=REG))
    assert back[0].edited_at == T0 + timedelta(minutes=1, microseconds=7)
    assert back[0].reactions == (Reaction(emoji="tada", count=3, users=("u1",)),)


if __name__ == "__main__":
    write_zip_fixtures()
