"""Telegram-specific checks the conformance kit cannot express: the golden cases through the
format and the report, the bad-input corpus, every input shape and source kind, the writer's
output, extension pass-through, and constant memory."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import memshift
import pytest
from hypothesis import given
from hypothesis import strategies as st
from memshift import errors
from memshift.model import AnyRecord, Attachment, Conversation, MemoryItem, Message, Reaction
from memshift.registry import Registry
from memshift.testing import golden, strategies
from memshift.testing.roundtrip import write_bytes, write_read

FIXTURES = Path(__file__).parent / "fixtures"
CASES = golden.find_cases(FIXTURES, "telegram")
BAD = sorted(p for p in (FIXTURES / "bad").iterdir() if p.is_dir())
REG = Registry()
T0 = datetime(2024, 1, 15, 8, 0, tzinfo=UTC)


def _input(case_dir: Path) -> Path:
    return next(p for p in case_dir.iterdir() if p.name.startswith("input"))


def _read(source: Any, **options: Any) -> list[AnyRecord]:
    return list(memshift.read(source, "telegram", options=options, registry=REG))


# -- golden cases -----------------------------------------------------------------------------


def test_every_case_is_listed_in_the_readme() -> None:
    readme = (FIXTURES / "telegram" / "README.md").read_text()
    for case in CASES:
        assert f"`{case.name}`" in readme, case.name


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_golden_case_survives_its_own_format(case: golden.GoldenCase) -> None:
    adapter = REG.get("telegram")
    expected = adapter.project(golden.load_expected(case))
    assert write_read("telegram", expected, registry=REG) == expected


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_golden_case_report_balances(case: golden.GoldenCase) -> None:
    docs = memshift.convert(
        case.input, None, src="telegram", dst="canonical", src_options=case.options, registry=REG
    )
    report = docs.report.to_dict()
    assert docs.report.balanced, report
    for key, value in (case.expected_report or {}).items():
        assert report[key] == value, f"{case.id}: report[{key}]"


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("case_dir", BAD, ids=lambda p: p.name)
def test_bad_input_gives_one_located_line(case_dir: Path) -> None:
    expect = json.loads((case_dir / "expect.json").read_text())
    source = _input(case_dir)
    with pytest.raises(errors.MemshiftError) as info:
        memshift.convert(source, None, src=expect["format"], dst="canonical", registry=REG)
    assert type(info.value).__name__ == expect["error"]
    message = str(info.value)
    assert "\n" not in message.strip()
    assert expect["message"] in message
    assert str(source) in message


@pytest.mark.parametrize("case_dir", BAD, ids=lambda p: p.name)
def test_bad_records_can_be_skipped_into_rejects(case_dir: Path, tmp_path: Path) -> None:
    """Under ``on_error=skip`` a bad record goes to the rejects file and the report still adds up;
    a broken file (not JSON, wrong shape) stays an error."""
    source = _input(case_dir)
    rejects = tmp_path / "rejects.jsonl"
    try:
        report = memshift.convert(
            source, tmp_path / "out.jsonl", src="telegram", dst="canonical",
            on_error="skip", rejects=rejects, registry=REG,
        )  # fmt: skip
    except errors.ReadError as exc:
        assert exc.location.path is None or "messages[" not in exc.location.path
        return
    assert report.rejected >= 1
    assert report.balanced
    lines = rejects.read_text().splitlines()
    assert len(lines) == report.rejected
    assert "messages[" in json.loads(lines[0])["path"]


# -- input shapes and source kinds --------------------------------------------------------------


def test_stdin_stream_takes_the_event_path_and_agrees_with_the_file() -> None:
    for name in ("personal-chat", "full-account-export"):
        path = FIXTURES / "telegram" / name / "input.json"
        assert _read(io.BytesIO(path.read_bytes())) == _read(path)


def test_parsed_dict_agrees_with_the_file() -> None:
    for name in ("group-events-and-reactions", "full-account-export"):
        path = FIXTURES / "telegram" / name / "input.json"
        assert _read(json.loads(path.read_text())) == _read(path)


def test_zipped_export_folder(tmp_path: Path) -> None:
    folder = FIXTURES / "telegram" / "export-folder" / "input"
    archive = tmp_path / "Telegram Desktop.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, "ChatExport_2024-05-10/" + path.relative_to(folder).as_posix())
    assert memshift.detect(archive, registry=REG).name == "telegram"
    assert _read(archive) == _read(folder)


def test_json_files_sent_in_the_chat_are_not_read() -> None:
    folder = FIXTURES / "telegram" / "export-folder" / "input"
    assert (folder / "files" / "settings.json").exists()
    convs = [r for r in _read(folder) if isinstance(r, Conversation)]
    assert len(convs) == 1


def test_bom_is_accepted(tmp_path: Path) -> None:
    original = FIXTURES / "telegram" / "personal-chat" / "input.json"
    with_bom = tmp_path / "result.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + original.read_bytes())
    assert _read(with_bom) == _read(original)


def test_header_after_messages_in_a_stream_is_an_error() -> None:
    doc = b'{"messages": [], "name": "late", "type": "private_group", "id": 5}'
    with pytest.raises(errors.ReadError, match="chat id missing"):
        _read(io.BytesIO(doc))


def test_timezone_option_is_validated() -> None:
    with pytest.raises(errors.OptionsError, match="unknown timezone"):
        memshift.convert(
            FIXTURES / "telegram" / "personal-chat" / "input.json", None, src="telegram",
            dst="canonical", src_options={"timezone": "Mars/Olympus"}, registry=REG,
        )  # fmt: skip


def test_out_of_order_messages_are_read_with_a_warning() -> None:
    doc = {
        "name": "x",
        "type": "private_group",
        "id": 1,
        "messages": [
            {"id": 2, "type": "message", "date_unixtime": "1700000100", "from_id": "user1",
             "text": "second"},
            {"id": 1, "type": "message", "date_unixtime": "1700000000", "from_id": "user1",
             "text": "first"},
        ],
    }  # fmt: skip
    docs = memshift.convert(json.dumps(doc).encode(), None, src="telegram", dst="canonical")
    assert docs.report.written == 2
    assert any("chronological" in w for w in docs.report.warnings)


# -- the writer ---------------------------------------------------------------------------------


def _chat(*messages: Message, **conv: Any) -> list[AnyRecord]:
    return [Conversation(id="100", name="Test", **conv), *messages]


def _msg(mid: str, **kw: Any) -> Message:
    kw.setdefault("timestamp", T0)
    kw.setdefault("sender_id", "user1")
    return Message(id=mid, conversation_id="100", **kw)


def _only_doc(records: list[AnyRecord], **options: Any) -> tuple[str, dict[str, Any]]:
    docs = write_bytes("telegram", records, options=options, registry=REG)
    assert len(docs) == 1
    name, data = next(iter(docs.items()))
    return name, json.loads(data)


def test_writer_makes_single_chat_exports_like_telegram_desktop() -> None:
    records = _chat(
        _msg("7", sender_name="Ana", text="hi", edited_at=T0 + timedelta(minutes=2)),
        _msg("8", type="event", text=""),
    )
    name, doc = _only_doc(records, timezone="Europe/Berlin")
    assert name == "ChatExport_00001_100/result.json"
    assert doc["id"] == 100 and doc["type"] == "private_group" and doc["name"] == "Test"
    first, second = doc["messages"]
    assert first == {
        "id": 7,
        "type": "message",
        "date": "2024-01-15T09:00:00",
        "date_unixtime": "1705305600",
        "edited": "2024-01-15T09:02:00",
        "edited_unixtime": "1705305720",
        "from": "Ana",
        "from_id": "user1",
        "text": "hi",
        "text_entities": [{"type": "plain", "text": "hi"}],
    }
    assert second["type"] == "service" and second["actor_id"] == "user1"


def test_output_is_byte_identical_between_runs() -> None:
    case = next(c for c in CASES if c.name == "group-events-and-reactions")
    records = golden.load_expected(case)
    assert write_bytes("telegram", records, registry=REG) == write_bytes(
        "telegram", records, registry=REG
    )


def test_golden_input_is_reproduced_field_for_field() -> None:
    """Reading a Telegram Desktop export and writing it back gives the same messages."""
    for name in ("personal-chat", "group-events-and-reactions", "files-not-downloaded"):
        path = FIXTURES / "telegram" / name / "input.json"
        original = json.loads(path.read_text())
        (_, doc) = _only_doc(_read(path))
        assert doc["messages"] == original["messages"], name
        assert {k: doc[k] for k in ("name", "type", "id")} == {
            k: original[k] for k in ("name", "type", "id")
        }


def test_stale_local_date_is_rendered_again() -> None:
    msg = _msg("1", extensions={"telegram:date": "1999-01-01T00:00:00"})
    _, doc = _only_doc(_chat(msg))
    assert doc["messages"][0]["date"] == "2024-01-15T08:00:00"


def test_ids_that_are_not_integers_stay_strings_with_a_warning() -> None:
    records: list[AnyRecord] = [
        Conversation(id="C024BE91L"),
        Message(id="1700000000.000100", conversation_id="C024BE91L", sender_id="U1", timestamp=T0),
    ]
    docs = memshift.write(records, None, "telegram", on_loss="ignore", registry=REG)
    assert docs[0]["id"] == "C024BE91L"
    assert docs[0]["messages"][0]["id"] == "1700000000.000100"
    assert any("not integers" in w for w in docs.report.warnings)


def test_what_telegram_cannot_hold_is_reported() -> None:
    records = _chat(
        _msg(
            "1",
            role="assistant",
            timestamp=T0 + timedelta(microseconds=1500),
            thread_id="0",
            attachments=(
                Attachment(name="a.png", url="https://x.example/a.png"),
                Attachment(name="b.png", path="b.png"),
            ),
        ),
        participants=(memshift.Participant(id="user1", name="Ana"),),
    )
    docs = memshift.write(records, None, "telegram", on_loss="ignore", registry=REG)
    losses = docs.report.losses
    expected = {"participants", "attachments", "attachments.url", "role", "thread_id", "timestamp"}
    assert expected <= set(losses)


def test_records_telegram_cannot_hold_are_counted_not_lost() -> None:
    records = [
        *_chat(_msg("1"), _msg("2", type="tool_call"), _msg("3", active=False)),
        MemoryItem(id="m1", text="likes tea"),
    ]
    docs = memshift.write(records, None, "telegram", on_loss="ignore", registry=REG)
    report = docs.report
    assert report.read == 4 and report.written == 1 and report.filtered_total == 3
    assert report.balanced


def test_messages_of_a_closed_chat_are_rejected() -> None:
    records: list[AnyRecord] = [
        Conversation(id="1"),
        Message(id="1", conversation_id="1", sender_id="u", timestamp=T0),
        Conversation(id="2"),
        Message(id="2", conversation_id="1", sender_id="u", timestamp=T0),
    ]
    with pytest.raises(errors.WriteError, match="after that chat was closed"):
        memshift.write(records, None, "telegram", on_loss="ignore", registry=REG)


def test_messages_without_a_conversation_record_get_a_chat() -> None:
    msgs = [_msg("1"), _msg("2")]
    docs = memshift.write(msgs, None, "telegram", on_loss="ignore", registry=REG)
    assert [d["id"] for d in docs] == [100]
    assert len(docs[0]["messages"]) == 2


def test_a_first_message_without_a_date_is_rejected() -> None:
    with pytest.raises(errors.WriteError, match="needs a date"):
        memshift.write(_chat(_msg("1", timestamp=None)), None, "telegram", registry=REG)


# -- properties with the shared strategies ------------------------------------------------------


@st.composite
def streams_with_telegram_extensions(draw: st.DrawFn) -> list[AnyRecord]:
    """Canonical streams whose records carry arbitrary ``telegram:`` extensions, including keys
    that collide with Telegram's own fields: projection must say exactly which survive."""
    records = draw(strategies.record_streams(with_memory=False))
    out: list[AnyRecord] = []
    for record in records:
        ext = draw(strategies.extensions("telegram"))
        if isinstance(record, Message):
            reactions = tuple(
                r.model_copy(update={"extensions": draw(strategies.extensions("telegram"))})
                for r in record.reactions
            )
            record = record.model_copy(update={"extensions": ext, "reactions": reactions})
        elif isinstance(record, Conversation):
            record = record.model_copy(update={"extensions": ext})
        out.append(record)
    return out


@given(streams_with_telegram_extensions())
def test_telegram_extensions_round_trip_as_projected(records: list[AnyRecord]) -> None:
    from memshift.testing.roundtrip import assert_fixpoint, assert_roundtrip

    assert_roundtrip("telegram", records, registry=REG)
    assert_fixpoint("telegram", records, registry=REG)


@given(strategies.record_streams())
def test_any_stream_is_accounted_for(records: list[AnyRecord]) -> None:
    docs = memshift.write(records, None, "telegram", on_loss="ignore", registry=REG)
    report = docs.report
    assert report.balanced, report.to_dict()
    memory = sum(isinstance(r, MemoryItem) for r in records)
    assert report.filtered_total >= memory


@given(strategies.conversation_streams(min_messages=1))
def test_reactions_and_attachments_keep_their_identity(records: list[AnyRecord]) -> None:
    adapter = REG.get("telegram")
    projected = adapter.project(records)
    back = write_read("telegram", projected, registry=REG)
    for before, after in zip(projected, back, strict=True):
        if isinstance(before, Message) and isinstance(after, Message):
            assert [r.emoji for r in after.reactions] == [r.emoji for r in before.reactions]
            assert len(after.attachments) <= 1


def test_paid_and_custom_reactions() -> None:
    msg = _msg(
        "1",
        reactions=(
            Reaction(emoji="5368324170671202286", extensions={"telegram:type": "custom_emoji"}),
            Reaction(emoji="x", count=3, extensions={"telegram:type": "paid"}),
        ),
    )
    _, doc = _only_doc(_chat(msg))
    assert doc["messages"][0]["reactions"] == [
        {"type": "custom_emoji", "count": 1, "document_id": "5368324170671202286"},
        {"type": "paid", "count": 3},
    ]


# -- constant memory ----------------------------------------------------------------------------


def _big_message(i: int) -> bytes:
    message = {
        "id": i,
        "type": "message",
        "date": "2024-01-01T00:00:00",
        "date_unixtime": str(1704067200 + i),
        "from": "Ana",
        "from_id": "user1",
        "text": ["line ", {"type": "bold", "text": str(i)}],
    }
    return json.dumps(message).encode()


def _big_chat(n: int) -> bytes:
    head = b'{"name": "Big", "type": "private_supergroup", "id": 77, "messages": [\n'
    body = b",\n".join(_big_message(i) for i in range(1, n + 1))
    return head + body + b"\n]}\n"


def _peak(data: bytes, account: bool, tmp_path: Path) -> int:
    path = tmp_path / f"result-{len(data)}-{account}.json"
    if account:
        data = b'{"about": "x", "chats": {"about": "y", "list": [' + data + b"]}}"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        count = sum(1 for _ in memshift.read(path, "telegram", registry=REG))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count > 1
    return peak


@pytest.mark.parametrize("account", [False, True], ids=["single-chat", "full-account"])
def test_memory_does_not_grow_with_the_chat(account: bool, tmp_path: Path) -> None:
    small = _peak(_big_chat(1_000), account, tmp_path)
    large = _peak(_big_chat(10_000), account, tmp_path)
    assert large < small * 2, (small, large)


def test_messages_without_a_sender_are_written_with_their_role_or_the_given_id() -> None:
    records = _chat(_msg("1", sender_id=None, role="assistant"))
    docs = memshift.write(records, None, "telegram", on_loss="ignore", registry=REG)
    assert docs[0]["messages"][0]["from_id"] == "assistant"
    assert any("unknown_sender_id" in w for w in docs.report.warnings)
    docs = memshift.write(
        records, None, "telegram", options={"unknown_sender_id": "user0"}, on_loss="ignore",
        registry=REG,
    )  # fmt: skip
    assert docs[0]["messages"][0]["from_id"] == "user0"


def test_messages_without_a_time_borrow_the_previous_one() -> None:
    records = _chat(_msg("1"), _msg("2", timestamp=None))
    docs = memshift.write(records, None, "telegram", on_loss="ignore", registry=REG)
    dates = [m["date_unixtime"] for m in docs[0]["messages"]]
    assert dates == ["1705305600", "1705305600"]
    assert "timestamp (missing)" in docs.report.losses
    adapter = REG.get("telegram")
    assert write_read("telegram", adapter.project(records), registry=REG) == adapter.project(
        records
    )
    with pytest.raises(errors.WriteError, match="needs a date"):
        memshift.write(records, None, "telegram", options={"missing_time": "reject"}, registry=REG)


# -- mutation fuzzing: only memshift errors may escape -------------------------------------------

_FUZZ_INPUTS = [
    case.input.read_bytes() for case in CASES if case.input.is_file()
]  # the file-shaped cases
_ODD_VALUES = [None, 0, -1, 1.5, True, "", "x", [], {}, [1], {"a": 1}, "9" * 30]


def _paths(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _paths(value, (*path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj[:12]):
            found += _paths(value, (*path, i))
    return found


def _mutate(doc: Any, path: tuple[Any, ...], value: Any, drop: bool) -> Any:
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if drop and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


def _read_all(data: bytes, on_error: str) -> None:
    from memshift.context import Context
    from memshift.sources import open_source

    adapter = REG.get("telegram")
    for kind in ("file-like", "bytes"):
        source = open_source(io.BufferedReader(io.BytesIO(data)) if kind == "file-like" else data)
        try:
            for _ in adapter.read(source, adapter.ReadOptions(), Context(on_error=on_error)):  # type: ignore[arg-type]
                pass
        except errors.MemshiftError:
            pass


@given(st.data())
def test_mutated_documents_fail_only_with_memshift_errors(data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from(_FUZZ_INPUTS))
    doc = json.loads(raw)
    path = data.draw(st.sampled_from(_paths(doc)))
    value = data.draw(st.sampled_from(_ODD_VALUES))
    mutated = json.dumps(_mutate(doc, path, value, data.draw(st.booleans()))).encode()
    _read_all(mutated, data.draw(st.sampled_from(["strict", "skip"])))


@given(st.data())
def test_damaged_bytes_fail_only_with_memshift_errors(data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(_FUZZ_INPUTS)))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    _read_all(bytes(raw), data.draw(st.sampled_from(["strict", "skip"])))
