"""The pipeline: laziness, accounting, policies, atomic output, ordering."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

import memshift
from memshift.errors import LossError, OptionsError, ReadError
from memshift.model import AnyRecord, Conversation, Message
from memshift.ordering import ConversationSorter
from memshift.registry import Registry
from tests.fake_plugins import ChatAdapter


@pytest.fixture
def reg() -> Registry:
    eps = [
        EntryPoint(name="chat", value="tests.fake_plugins:chat", group="memshift"),
        EntryPoint(name="canonical", value="memshift_adapters.canonical", group="memshift"),
    ]
    return Registry(entry_points=eps)


def msgs(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": f"m{i}",
            "ts": 1_700_000_000_000 + (n - i) * 1000,
            "user": "U1",
            "text": f"t{i}",
            **extra,
        }
        for i in range(n)
    ]


def test_objects_source_to_memory(reg: Registry) -> None:
    docs = memshift.convert(msgs(3), src="chat", dst="chat", registry=reg)
    assert docs == [{"id": "chan", "messages": sorted(docs[0]["messages"], key=lambda m: m["ts"])}]
    assert [m["id"] for m in docs[0]["messages"]] == ["m2", "m1", "m0"]  # sorted by time
    assert docs.report.read == 3 and docs.report.written == 3 and docs.report.balanced


def test_reader_is_pulled_lazily(reg: Registry) -> None:
    ChatAdapter.pulled = 0
    stream = memshift.read(msgs(1000), "chat", registry=reg)
    first = [next(stream) for _ in range(3)]
    assert isinstance(first[0], Conversation)
    assert ChatAdapter.pulled == 2


def test_events_are_filtered_and_counted(reg: Registry) -> None:
    data = msgs(2) + [
        {"id": "e", "ts": 1_600_000_000_000, "user": "U1", "text": "joined", "event": True}
    ]
    docs = memshift.convert(data, src="chat", dst="chat", registry=reg)
    assert docs.report.filtered == {"events (--include-events)": 1}
    assert docs.report.balanced
    docs = memshift.convert(data, src="chat", dst="chat", registry=reg, include_events=True)
    assert docs.report.filtered_total == 0 and docs.report.written == 3


def test_losses_are_reported_by_field(reg: Registry) -> None:
    docs = memshift.convert(
        msgs(3, reactions=["tada"]), src="chat", dst="chat", registry=reg, on_loss="ignore"
    )
    assert docs.report.losses["reactions"].count == 3


def test_on_loss_raise_leaves_no_output(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(LossError, match="reactions: 3 record"):
        memshift.convert(
            msgs(3, reactions=["x"]), out, src="chat", dst="chat", registry=reg, on_loss="raise"
        )
    assert not out.exists()


def test_strict_error_leaves_no_output(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bad = msgs(3)
    bad[1]["ts"] = "abc"
    with pytest.raises(ReadError) as info:
        memshift.convert(bad, out, src="chat", dst="chat", registry=reg)
    assert "[1].ts" in str(info.value)
    assert not out.exists()


def test_skip_writes_rejects_and_balances(reg: Registry, tmp_path: Path) -> None:
    bad = msgs(4)
    bad[1]["ts"] = "abc"
    del bad[2]["ts"]
    rejects = tmp_path / "rejects.jsonl"
    report = memshift.convert(
        bad,
        tmp_path / "out",
        src="chat",
        dst="chat",
        registry=reg,
        on_error="skip",
        rejects=rejects,
    )
    assert report.rejected == 2 and report.written == 2 and report.read == 4 and report.balanced
    lines = rejects.read_text().splitlines()
    assert len(lines) == 2 and '"path":"[1].ts"' in lines[0] and '"record":' in lines[0]


def test_failure_midway_removes_staged_files(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    with pytest.raises(ReadError):
        memshift.convert(
            msgs(10), out, src="chat", dst="chat", src_options={"fail_at": 5}, registry=reg
        )
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_directory_output_is_atomic_and_has_manifest(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = memshift.convert(msgs(2), out, src="chat", dst="chat", registry=reg)
    names = sorted(p.name for p in out.iterdir())
    assert names == [".memshift-manifest.jsonl", "chan.json"]
    assert report.outputs == [str((out / "chan.json").resolve())]
    manifest = (out / ".memshift-manifest.jsonl").read_text().splitlines()
    assert '"document":"chan.json"' in manifest[1]


def test_unknown_option_is_a_usage_error(reg: Registry) -> None:
    with pytest.raises(OptionsError, match="fail_att"):
        memshift.convert(msgs(1), src="chat", dst="chat", src_options={"fail_att": 1}, registry=reg)


def test_two_runs_are_byte_identical(reg: Registry, tmp_path: Path) -> None:
    memshift.convert(msgs(50), tmp_path / "a", src="chat", dst="chat", registry=reg)
    memshift.convert(msgs(50), tmp_path / "b", src="chat", dst="chat", registry=reg)
    assert (tmp_path / "a" / "chan.json").read_bytes() == (
        tmp_path / "b" / "chan.json"
    ).read_bytes()


# -- bounded-memory ordering -------------------------------------------------------------------------


def _stream(n: int, seed: int = 7) -> list[AnyRecord]:
    import random

    rnd = random.Random(seed)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    out: list[AnyRecord] = []
    for c in range(3):
        out.append(Conversation(id=f"c{c}"))
        for i in range(n):
            secs = rnd.randrange(0, 10_000)
            out.append(
                Message(
                    id=f"c{c}-{i}",
                    conversation_id=f"c{c}",
                    timestamp=base + timedelta(seconds=secs),
                )
            )
    return out


def test_sort_spills_to_disk_with_tiny_threshold(tmp_path: Path) -> None:
    records = _stream(500)
    sorter = ConversationSorter(threshold=7, spill_dir=str(tmp_path))
    got = list(sorter(iter(records)))
    assert sorter.spilled_runs > 50
    expected: list[AnyRecord] = []
    for rec in records:
        if isinstance(rec, Conversation):
            expected.append(rec)
            conv_msgs = [
                m for m in records if isinstance(m, Message) and m.conversation_id == rec.id
            ]
            expected.extend(sorted(conv_msgs, key=lambda m: m.timestamp or datetime.min))  # stable
    assert got == expected
    assert list(tmp_path.iterdir()) == []  # runs removed


def test_sort_spill_gives_the_same_bytes_as_in_memory(reg: Registry, tmp_path: Path) -> None:
    data = msgs(300)
    memshift.convert(data, tmp_path / "mem", src="chat", dst="chat", registry=reg)
    memshift.convert(
        data, tmp_path / "spill", src="chat", dst="chat", registry=reg, sort_threshold=4
    )
    assert (tmp_path / "mem" / "chan.json").read_bytes() == (
        tmp_path / "spill" / "chan.json"
    ).read_bytes()


def test_sort_keeps_undated_messages_in_place() -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    recs: list[AnyRecord] = [
        Conversation(id="c"),
        Message(id="a", conversation_id="c", timestamp=base + timedelta(seconds=5)),
        Message(id="b", conversation_id="c", timestamp=None),
        Message(id="c", conversation_id="c", timestamp=base),
    ]
    got = [r.id for r in ConversationSorter(threshold=2)(iter(recs))]
    assert got == ["c", "c", "a", "b"]


def _gen(n: int) -> Iterator[AnyRecord]:
    yield from _stream(n)


# -- resume ------------------------------------------------------------------------------------------


def _three_docs() -> dict[str, bytes]:
    from memshift import jsonio

    return {
        f"{c}.json": jsonio.dumps(
            {
                "id": c,
                "messages": [
                    {"id": f"{c}{i}", "ts": 1_700_000_000_000 + i, "user": "U", "text": "x"}
                    for i in range(3)
                ],
            }
        )
        for c in ("a", "b", "c")
    }


def test_resume_continues_after_an_interrupted_run(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"

    def kill_at_c(records: Any, ctx: Any) -> Iterator[AnyRecord]:
        for rec in records:
            if isinstance(rec, Message) and rec.id == "c1":
                raise KeyboardInterrupt
            yield rec

    with pytest.raises(KeyboardInterrupt):
        memshift.convert(
            _three_docs(),
            out,
            src="chat",
            dst="chat",
            registry=reg,
            resume=True,
            transforms=[kill_at_c],
        )
    assert sorted(p.name for p in out.iterdir()) == [".memshift-manifest.jsonl", "a.json", "b.json"]
    before = (out / "a.json").stat().st_mtime_ns
    report = memshift.convert(_three_docs(), out, src="chat", dst="chat", registry=reg, resume=True)
    assert report.filtered == {"already converted by an earlier run (--resume)": 6}
    assert "c.json" in [Path(o).name for o in report.outputs]
    assert report.written == 3 and report.balanced
    assert (out / "a.json").stat().st_mtime_ns == before
    assert sorted(p.name for p in out.iterdir()) == [
        ".memshift-manifest.jsonl",
        "a.json",
        "b.json",
        "c.json",
    ]
    lines = (out / ".memshift-manifest.jsonl").read_text().splitlines()
    assert '"complete":true' in lines[-1] and len(lines) == 5
    fresh = tmp_path / "fresh"
    memshift.convert(_three_docs(), fresh, src="chat", dst="chat", registry=reg)
    for name in ("a.json", "b.json", "c.json"):
        assert (out / name).read_bytes() == (fresh / name).read_bytes()


def test_resume_redoes_a_document_whose_checksum_changed(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    memshift.convert(_three_docs(), out, src="chat", dst="chat", registry=reg, resume=True)
    (out / "b.json").write_text("tampered")
    report = memshift.convert(_three_docs(), out, src="chat", dst="chat", registry=reg, resume=True)
    assert report.written == 3  # only b again
    assert (out / "b.json").read_text() != "tampered"


def test_resume_refuses_non_resumable_writers(reg: Registry, tmp_path: Path) -> None:
    from memshift.errors import UsageError

    with pytest.raises(UsageError, match="not resumable"):
        memshift.convert(
            msgs(2), tmp_path / "x.jsonl", src="chat", dst="canonical", registry=reg, resume=True
        )


# -- several inputs, --jobs ----------------------------------------------------------------------------


def test_jobs_output_is_byte_identical(tmp_path: Path) -> None:
    from memshift.parallel import convert_many

    inputs = []
    for i in range(4):
        path = tmp_path / f"in{i}.jsonl"
        recs: list[AnyRecord] = [Conversation(id=f"c{i % 2}", name="same name")]
        recs += [
            Message(
                id=f"m{i}-{j}",
                conversation_id=f"c{i % 2}",
                timestamp=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=j),
            )
            for j in range(20)
        ]
        memshift.write(recs, path, "canonical")
        inputs.append(path)
    r1 = convert_many(inputs, tmp_path / "one.jsonl", src="canonical", dst="canonical", jobs=1)
    r2 = convert_many(inputs, tmp_path / "two.jsonl", src="canonical", dst="canonical", jobs=2)
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    assert r1.read == r2.read == 80 and r1.balanced and r2.conversations == 4
    back = list(memshift.read(tmp_path / "two.jsonl", "canonical"))
    assert len([r for r in back if isinstance(r, Message)]) == 80


def test_text_longer_than_the_limit_is_rejected_with_its_location(tmp_path: Path) -> None:
    from memshift.model import MAX_TEXT

    path = tmp_path / "long.jsonl"
    path.write_text(
        '{"kind":"conversation","id":"c"}\n'
        + '{"kind":"message","id":"m","conversation_id":"c","text":"'
        + "A" * (MAX_TEXT + 1)
        + '"}\n'
    )
    with pytest.raises(ReadError, match="line 2: text: String should have at most"):
        memshift.convert(path, None, src="canonical", dst="canonical")
    report = memshift.convert(
        path,
        tmp_path / "o.jsonl",
        src="canonical",
        dst="canonical",
        on_error="skip",
        rejects=tmp_path / "r.jsonl",
    )
    assert report.rejected == 1 and report.balanced
