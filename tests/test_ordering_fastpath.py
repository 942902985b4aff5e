"""Ordering without JSON round trips: the core sorter keeps models while a conversation fits its
budget (and spills serialised runs past it), and the Slack reader orders each conversation
itself, day file by day file, so the core sorter is not needed for Slack."""

from __future__ import annotations

import json
import random
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from memshift_adapters.slack._order import TimeOrder

import memshift
from memshift.context import Context
from memshift.errors import MemshiftError
from memshift.model import (
    AnyRecord,
    Attachment,
    Conversation,
    MemoryItem,
    Mention,
    Message,
    Reaction,
)
from memshift.ordering import ConversationSorter, estimated_size
from memshift.registry import Registry
from memshift.sources import Source
from memshift.testing import golden

from .conftest import FIXTURES

REG = Registry()
T0 = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


def slack_like(i: int, conv: str = "C1", *, seconds: int | None = None) -> Message:
    """A message shaped like a parsed Slack one: blocks mirroring the text, a user profile, a
    file, a reaction and a mention (what makes a parsed Slack message ~6 KB of objects).
    Without ``seconds`` it is ``i`` seconds after T0, and one in 97 has no time."""
    when: datetime | None = T0 + timedelta(seconds=i if seconds is None else seconds)
    if seconds is None and i % 97 == 5:
        when = None
    text = f"message {i} for <@U{i % 7}> " + "words " * (i % 40)
    return Message(
        id=f"{conv}-{i}",
        conversation_id=conv,
        sender_id=f"U{i % 7}",
        sender_name=f"user {i % 7}",
        timestamp=when,
        timestamp_raw=f"{1705312800 + i}.000100",
        text=text,
        markup=text,
        attachments=(Attachment(id=f"F{i}", name=f"file{i}.png", url="https://f.example/x"),)
        if i % 9 == 0
        else (),
        reactions=(Reaction(emoji="tada", count=2, users=("U1", "U2")),) if i % 5 == 0 else (),
        mentions=(Mention(id=f"U{i % 7}", type="user", name=f"user {i % 7}"),),
        extensions={
            "slack:blocks": [
                {
                    "type": "rich_text",
                    "block_id": f"b{i}",
                    "elements": [
                        {
                            "type": "rich_text_section",
                            "elements": [{"type": "text", "text": text}],
                        }
                    ],
                }
            ],
            "slack:user_profile": {
                "display_name": f"user{i % 7}",
                "real_name": f"User {i % 7}",
                "avatar_hash": "g0123456789a",
                "team": "T0ACME001",
                "is_restricted": False,
            },
            "slack:client_msg_id": f"0000000-{i:08d}",
            "slack:team": "T0ACME001",
        },
    )


def shuffled_stream(n: int, convs: int = 3, seed: int = 11) -> list[AnyRecord]:
    """Conversations of ``n`` messages each in random time order with many equal times and some
    undated messages, separated by conversations and a memory item."""
    rnd = random.Random(seed)
    out: list[AnyRecord] = []
    for c in range(convs):
        cid = f"c{c}"
        out.append(Conversation(id=cid))
        for i in range(n):
            msg = slack_like(i, cid, seconds=rnd.randrange(0, n // 4 + 1))
            if rnd.random() < 0.03:
                msg = msg.model_copy(update={"timestamp": None})
            out.append(msg)
        if c == 1:
            out.append(MemoryItem(id="mem", text="likes tea"))
    return out


def reference_sort(records: list[AnyRecord]) -> list[AnyRecord]:
    """The core sorter's documented order: each conversation's messages by time, equal times in
    input order, an undated message with the dated one before it."""
    out: list[AnyRecord] = []
    run: list[tuple[datetime, int, Message]] = []

    def flush() -> None:
        out.extend(m for _, _, m in sorted(run, key=lambda t: t[:2]))
        run.clear()

    last = datetime.min
    for rec in records:
        if isinstance(rec, Message):
            if run and run[0][2].conversation_id != rec.conversation_id:
                flush()
            if not run:
                last = datetime.min
            if rec.timestamp is not None:
                last = rec.timestamp.replace(tzinfo=None)
            run.append((last, len(run), rec))
        else:
            flush()
            out.append(rec)
    flush()
    return out


# -- the core sorter ---------------------------------------------------------------------------


def test_in_memory_path_keeps_the_models_themselves() -> None:
    records = shuffled_stream(300)
    sorter = ConversationSorter()
    got = list(sorter(iter(records)))
    assert sorter.spilled_runs == 0
    assert got == reference_sort(records)
    originals = {id(r) for r in records}
    assert all(id(r) in originals for r in got)  # no JSON round trip


@pytest.mark.parametrize("max_bytes", [1, 50_000, 400_000])
def test_spill_path_gives_the_in_memory_result(tmp_path: Path, max_bytes: int) -> None:
    records = shuffled_stream(400)
    in_memory = list(ConversationSorter()(iter(records)))
    sorter = ConversationSorter(spill_dir=str(tmp_path), max_bytes=max_bytes)
    spilled = list(sorter(iter(records)))
    assert sorter.spilled_runs > 0
    assert spilled == in_memory
    assert [r.__pydantic_serializer__.to_json(r) for r in spilled] == [
        r.__pydantic_serializer__.to_json(r) for r in in_memory
    ]
    assert list(tmp_path.iterdir()) == []


def test_many_runs_are_merged_in_steps(tmp_path: Path) -> None:
    # 2 messages per run: far more runs than one merge takes at once (MAX_FAN_IN)
    records = shuffled_stream(400, convs=1)
    sorter = ConversationSorter(threshold=2, spill_dir=str(tmp_path))
    got = list(sorter(iter(records)))
    assert sorter.spilled_runs == 200
    assert got == reference_sort(records)
    assert list(tmp_path.iterdir()) == []


def test_runs_are_removed_when_the_consumer_stops(tmp_path: Path) -> None:
    records = shuffled_stream(200, convs=1)
    stream = ConversationSorter(threshold=10, spill_dir=str(tmp_path))(iter(records))
    next(stream)
    next(stream)
    stream.close()
    assert list(tmp_path.iterdir()) == []


def _lazy(n: int) -> Iterator[AnyRecord]:
    yield Conversation(id="C1")
    for i in range(n):
        yield slack_like(i, seconds=(i * 7919) % n)  # out of order: everything is buffered


def _peak(max_bytes: int, n: int, spill_dir: Path) -> tuple[int, int]:
    sorter = ConversationSorter(spill_dir=str(spill_dir), max_bytes=max_bytes)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    count = 0
    for _ in sorter(_lazy(n)):
        count += 1
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    assert count == n + 1
    return peak, sorter.spilled_runs


def test_the_budget_is_real_bytes(tmp_path: Path) -> None:
    budget = 4 * 1024 * 1024
    peak, runs = _peak(budget, 3_000, tmp_path)
    assert runs > 0
    # The buffer is what is held (messages are built one at a time). The estimate errs on the
    # safe side, so the real memory stays under the budget, with room for the merge's read
    # buffers; and the budget is used (spilling is not much more frequent than it needs to be).
    assert budget * 0.3 < peak < budget * 1.25, peak


@pytest.mark.parametrize("fmt", ["slack", "discord", "openai", "everos", "letta"])
def test_the_estimate_is_calibrated_against_tracemalloc(fmt: str) -> None:
    """Over every golden fixture of a format, the estimate is at least the real size (so the
    budget holds) and not far above it (so it is used)."""
    found = [r for case in golden.find_cases(FIXTURES, fmt) for r in _safe_read(case)]
    payloads = [m.__pydantic_serializer__.to_json(m) for m in found if isinstance(m, Message)]
    assert len(payloads) > 20
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    held = [Message.model_validate_json(p) for p in payloads]
    real = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    estimate = sum(estimated_size(m) for m in held)
    assert 0.6 < real / estimate <= 1.05, (real, estimate)


def _safe_read(case: golden.GoldenCase) -> list[AnyRecord]:
    try:
        return golden.read_case(case, REG)
    except MemshiftError:
        return []  # a fixture of a strict failure


def test_a_conversation_bigger_than_the_budget_does_not_hold_more(tmp_path: Path) -> None:
    budget = 2 * 1024 * 1024
    small, _ = _peak(budget, 1_500, tmp_path)
    large, _ = _peak(budget, 6_000, tmp_path)
    assert large < small * 1.5, (small, large)


# -- the Slack reader's own order --------------------------------------------------------------


def _feed(order: TimeOrder, days: list[list[Message]]) -> list[Message]:
    out: list[Message] = []
    for day in days:
        out.extend(order.file(day))
    out.extend(order.finish())
    return out


def _days(seed: int, n_days: int = 8, per_day: int = 30) -> list[list[Message]]:
    """Day files in date order, each sorted by time except for a few swaps, with equal times."""
    rnd = random.Random(seed)
    days: list[list[Message]] = []
    k = 0
    for d in range(n_days):
        day = [
            slack_like(k + j, seconds=d * 86_400 + rnd.randrange(0, 86_400) // 600 * 600)
            for j in range(per_day)
        ]
        k += per_day
        day.sort(key=lambda m: m.timestamp or T0)
        for _ in range(rnd.randrange(0, 4)):
            a, b = rnd.randrange(per_day), rnd.randrange(per_day)
            day[a], day[b] = day[b], day[a]
        days.append(day)
    return days


@pytest.mark.parametrize("seed", range(6))
def test_time_order_is_the_core_sorters_order(seed: int) -> None:
    days = _days(seed)
    order = TimeOrder()
    got = _feed(order, days)
    flat: list[AnyRecord] = [Conversation(id="C1"), *(m for day in days for m in day)]
    assert [Conversation(id="C1"), *got] == list(ConversationSorter()(iter(flat)))
    assert order.late == 0


def test_a_message_in_the_next_days_file_is_put_back() -> None:
    days = _days(1, n_days=3)
    moved = days[0].pop(5)  # written into the next day's file
    days[1].append(moved)
    early = days[2].pop(0)  # and one from day 3 into day 2's file
    days[1].insert(0, early)
    order = TimeOrder()
    got = _feed(order, days)
    assert got == sorted(got, key=lambda m: m.timestamp or T0)
    assert order.late == 0


def test_a_message_far_from_its_day_is_counted_not_hidden() -> None:
    days = _days(2, n_days=5)
    moved = days[0].pop(3)
    days[4].append(moved)  # four days late: the days between are passed on already
    order = TimeOrder()
    got = _feed(order, days)
    assert len(got) == sum(len(d) for d in days)
    assert order.late == 1


def test_a_day_file_over_the_budget_is_sorted_by_the_spilling_sorter() -> None:
    days = _days(3, n_days=4, per_day=60)
    days[2].reverse()
    order = TimeOrder(max_bytes=60_000)  # a few messages per file
    got = _feed(order, days)
    flat: list[AnyRecord] = [Conversation(id="C1"), *(m for day in days for m in day)]
    assert [Conversation(id="C1"), *got] == list(ConversationSorter()(iter(flat)))
    assert order.late == 0


def test_files_that_overlap_file_after_file_stay_within_the_budget() -> None:
    days = _days(4, n_days=15, per_day=20)
    for day in days[1:]:
        day.append(days[0].pop())  # every file holds a message of the first day
    order = TimeOrder(max_bytes=400_000)  # more than a file, less than two
    out: list[Message] = []
    most = 0
    for day in days:
        out.extend(order.file(day))
        most = max(most, sum(estimated_size(m) for _, _, m in order._pending))
    out.extend(order.finish())
    assert len(out) == 300
    assert 200_000 < most <= 400_000
    assert order.late > 0


def _raw(ts: float, i: int) -> dict[str, Any]:
    return {"type": "message", "user": "U1", "text": f"m{i}", "ts": f"{ts:.6f}"}


def _export(days: dict[str, list[dict[str, Any]]]) -> Source:
    members = {
        "channels.json": b'[{"id": "C1", "name": "general"}]',
        "users.json": b'[{"id": "U1", "name": "ada"}]',
    }
    for name, rows in days.items():
        members[f"general/{name}.json"] = json.dumps(rows).encode()
    return Source("members", "<export>", members=members)


def _read(source: Source, ctx: Context, **options: Any) -> list[Message]:
    adapter = REG.get("slack")
    opts = adapter.ReadOptions.model_validate(options)
    return [r for r in adapter.read(source, opts, ctx) if isinstance(r, Message)]


def _day(day: int, *offsets: int) -> list[dict[str, Any]]:
    start = 1705305600 + day * 86_400  # 2024-01-15 08:00 UTC, midnight in Los Angeles
    return [_raw(start + off, day * 100 + off) for off in offsets]


def test_slack_reader_repairs_day_files() -> None:
    src = _export(
        {
            "2024-01-15": _day(0, 30, 10, 20),  # out of ts order
            "2024-01-16": _day(1, 5, 50) + _day(0, 40),  # a message of the day before
            "2024-01-17": _day(2, 1, 2),
        }
    )
    ctx = Context()
    got = _read(src, ctx)
    assert [m.timestamp for m in got] == sorted(m.timestamp for m in got)
    assert [m.text for m in got] == ["m10", "m20", "m30", "m40", "m105", "m150", "m201", "m202"]
    assert not ctx.report.warnings


def test_slack_reader_warns_about_what_it_cannot_repair() -> None:
    days = {
        "2024-01-15": _day(0, 10),
        "2024-01-16": _day(1, 10),
        "2024-01-17": _day(2, 10),
        "2024-01-18": _day(3, 10) + _day(0, 20),  # three days away from its place
    }
    ctx = Context()
    got = _read(_export(days), ctx)
    assert [m.text for m in got] == ["m10", "m110", "m20", "m210", "m310"]
    assert any("1 message(s) are earlier" in w for w in ctx.report.warnings)
    assert ctx.report.notes["slack.out_of_order"] == 1
    # -O sort=true sorts whole conversations
    ctx = Context()
    got = _read(_export(days), ctx, sort=True)
    assert [m.text for m in got] == ["m10", "m20", "m110", "m210", "m310"]
    assert not ctx.report.warnings


def test_slack_api_page_newest_first_is_read_in_time_order() -> None:
    page = {"ok": True, "messages": list(reversed(_day(0, 1, 2, 3)))}
    got = [
        r
        for r in memshift.read(page, "slack", options={"channel": "C1"}, registry=REG)
        if isinstance(r, Message)
    ]
    assert [m.text for m in got] == ["m1", "m2", "m3"]


def test_slack_to_everos_does_not_use_the_core_sorter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    original = ConversationSorter.__call__

    def counting(self: ConversationSorter, records: Any) -> Any:
        calls.append(1)
        return original(self, records)

    monkeypatch.setattr(ConversationSorter, "__call__", counting)
    src = FIXTURES / "slack" / "threads-across-days"
    memshift.convert(
        src / "input", tmp_path / "out", src="slack", dst="everos", on_loss="ignore", registry=REG
    )
    assert calls == []
    assert REG.get("slack").ordered_read
