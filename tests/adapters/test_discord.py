"""Discord (DiscordChatExporter JSON and the data package): what the golden and property suites
cannot express.

Real samples (every one reads, converts with exit 0 and survives its own format), detection,
streamed and in-memory input, the byte-level author scan, reversed and out-of-order files,
merging of several exports of one channel, the id tracker past its exact limit, the writer on
records from other formats, the data package's one-way trip through DCE JSON, and flat memory.

``synthetic_dce`` is also the generator behind the reader benchmark in docs/formats/discord.md:
``python -m tests.adapters.test_discord 200000 /tmp/dce.json``.
"""

from __future__ import annotations

import io
import json
import random
import sys
import tracemalloc
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import ijson
import pytest
from click.testing import CliRunner
from memshift_adapters.discord import _order, _scan

import memshift
from memshift import Attachment, Conversation, Mention, Message, Participant, Reaction
from memshift.cli import cli
from memshift.context import Context
from memshift.errors import OptionsError, ReadError
from memshift.model import AnyRecord
from memshift.registry import Registry
from memshift.sources import open_source
from memshift.testing.roundtrip import read_bytes, write_bytes, write_read

from ..conftest import FIXTURES

REG = Registry()
ADAPTER = REG.get("discord")
FIX = FIXTURES / "discord"
DISCORD_EPOCH_MS = 1_420_070_400_000
DUPLICATES = (
    "duplicate messages (the same message id exported more than once; -O dedupe=false keeps them)"
)


# -- helpers ---------------------------------------------------------------------------------------


def read(source: Any, ctx: Context | None = None, **options: Any) -> list[AnyRecord]:
    with open_source(source) as src:
        return list(ADAPTER.read(src, ADAPTER.ReadOptions(**options), ctx or Context()))


def messages(records: list[AnyRecord]) -> list[Message]:
    return [r for r in records if isinstance(r, Message)]


def conversations(records: list[AnyRecord]) -> list[Conversation]:
    return [r for r in records if isinstance(r, Conversation)]


def snowflake(ms: int, seq: int = 0) -> str:
    return str(((ms - DISCORD_EPOCH_MS) << 22) | (1 << 17) | (seq & 0xFFF))


def dce_time(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    frac = f".{ms % 1000:03d}".rstrip("0").rstrip(".")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + frac + "+00:00"


def user(i: int, *, bot: bool = False) -> dict[str, Any]:
    uid = str(100000000000000000 + i * 7919)
    return {
        "id": uid,
        "name": f"user{i}",
        "discriminator": "0000",
        "nickname": f"Nick {i}",
        "color": None,
        "isBot": bot,
        "roles": [],
        "avatarUrl": f"https://cdn.discordapp.com/avatars/{uid}/{i:032x}.png",
    }


def header(channel_id: str = "1012224565567721552", **channel: Any) -> dict[str, Any]:
    return {
        "guild": {"id": "748545324524575035", "name": "Test guild", "iconUrl": None},
        "channel": {
            "id": channel_id,
            "type": "GuildTextChat",
            "categoryId": None,
            "category": None,
            "name": "general",
            "topic": None,
            **channel,
        },
        "dateRange": {"after": None, "before": None},
    }


def message(
    ms: int, author: dict[str, Any], text: str, seq: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "id": snowflake(ms, seq),
        "type": "Default",
        "timestamp": dce_time(ms),
        "timestampEdited": None,
        "callEndedTimestamp": None,
        "isPinned": False,
        "content": text,
        "author": author,
        "attachments": [],
        "embeds": [],
        "stickers": [],
        "reactions": [],
        "mentions": [],
        **extra,
    }


def document(msgs: list[dict[str, Any]], **head: Any) -> bytes:
    doc = {**header(**head), "messages": msgs, "messageCount": len(msgs)}
    return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")


def synthetic_dce(
    out: IO[bytes], n: int, *, seed: int = 1, authors: int = 200, reverse: bool = False
) -> None:
    """Write a DCE document of ``n`` messages, streamed, in DCE's layout (2-space indent, raw
    UTF-8): 4 % bots, 3 % replies, 5 % edited, mixed scripts and escapes in the text."""
    rnd = random.Random(seed)
    people = [user(i, bot=i % 25 == 0) for i in range(authors)]
    words = ["hello", "wörld", "привет", "日本語", "שלום", "🙂", 'quote"d', "back\\slash", "tab\t"]
    t0 = 1_705_312_800_000
    head = json.dumps(header(), indent=2, ensure_ascii=False)
    out.write(head[:-2].encode() + b',\n  "messages": [\n')
    times = [t0 + i * 997 + rnd.randint(0, 900) for i in range(n)]
    order = range(n - 1, -1, -1) if reverse else range(n)
    for k, i in enumerate(order):
        m = message(times[i], rnd.choice(people), " ".join(rnd.choices(words, k=12)), seq=i)
        if i % 33 == 1:
            m["type"] = "Reply"
            m["reference"] = {
                "type": "Default",
                "messageId": snowflake(times[i - 1], i - 1),
                "channelId": "1012224565567721552",
                "guildId": "748545324524575035",
            }
        if i % 20 == 0:
            m["timestampEdited"] = dce_time(times[i] + 5000)
        blob = json.dumps(m, indent=2, ensure_ascii=False).replace("\n", "\n    ")
        out.write(b"    " + blob.encode("utf-8") + (b",\n" if k < n - 1 else b"\n"))
    out.write(b'  ],\n  "messageCount": %d\n}\n' % n)


# -- real samples ----------------------------------------------------------------------------------


def _real(real_samples: Path) -> list[Path]:
    dce = real_samples / "discord-dce"
    paths = sorted((dce / "mlomb-chat-analytics").glob("*.json"))
    paths.append(dce / "slatinsky-example-guild")
    return [p for p in paths if p.exists()]


@pytest.mark.real_samples
def test_real_samples_convert_with_exit_0(real_samples: Path, tmp_path: Path) -> None:
    samples = [*_real(real_samples), real_samples / "discord-gdpr" / "langchain-fake-package"]
    for n, path in enumerate(samples):
        out = tmp_path / f"out{n}.jsonl"
        result = CliRunner().invoke(
            cli, ["convert", str(path), "-f", "discord", "-t", "canonical", "-o", str(out)]
        )
        assert result.exit_code == 0, (path, result.output)
        assert out.stat().st_size > 0
        with open_source(path) as src:
            assert REG.detect(src)[0].name == "discord", path


@pytest.mark.real_samples
def test_real_dce_samples_survive_their_own_format(real_samples: Path) -> None:
    for path in _real(real_samples):
        records = read(path)
        # Nothing a real DCE export holds is lost on the way back: projection is the identity.
        assert ADAPTER.project(records) == records, path
        assert write_read("discord", records, registry=REG) == records, path
        first = write_bytes("discord", records, registry=REG)
        again = write_bytes("discord", read_bytes("discord", first, registry=REG), registry=REG)
        assert first == again, path


@pytest.mark.real_samples
def test_real_sample_details(real_samples: Path) -> None:
    guild = read(real_samples / "discord-dce" / "slatinsky-example-guild", ctx := Context())
    convs = conversations(guild)
    # The two "chill talk" files are one channel: merged, the copies dropped and counted.
    assert [c.name for c in convs] == ["general", "chill talk", "Thomas is Thomas"]
    assert ctx.report.filtered[DUPLICATES] == 5
    assert convs[2].extensions["discord:parent_channel_id"] == "1012224565567721552"
    chill = [m for m in messages(guild) if m.conversation_id == convs[1].id]
    edited = next(m for m in chill if m.id == "1060954419862188072")
    assert edited.text == ":pepeheart: :pepeheart: :pepeheart:"  # the copy with the later edit
    paths = [a.path for m in messages(guild) for a in m.attachments]
    assert all(p and "json_Files\\" in p for p in paths)
    events = [m.extensions["discord:type"] for m in messages(guild) if m.type == "event"]
    assert events == ["GuildMemberJoin", "GuildMemberJoin", "ThreadCreated", "GuildMemberJoin"]

    sv = read(
        real_samples / "discord-dce" / "mlomb-chat-analytics" / "SV_5A_5M.json", c := Context()
    )
    assert c.report.filtered[DUPLICATES] == 1
    people = {p.id: p for p in conversations(sv)[0].participants}
    assert people["555555555555555555"].is_deleted
    assert people["111111111111111111"].display_name is None  # no nickname in that era
    assert people["111111111111111111"].name == "mlomb"


@pytest.mark.real_samples
def test_real_package_through_dce(real_samples: Path) -> None:
    """The data package written as DCE JSON and read back: the strongest property that holds.

    Identical are every message's id, instant, text, attachments, sender, type and reply. What
    differs is documented (docs/formats/discord.md): the naive package time is spelled the DCE
    way in ``timestamp_raw``; the owner placeholder becomes a DCE user stub; package-only
    extensions (synthetic-id flags, index label, raw channel.json) and never-writing recipients
    are not in DCE; a conversation without a name is named after its id."""
    records = read(real_samples / "discord-gdpr" / "langchain-fake-package", ctx := Context())
    assert ctx.report.notes["discord.synthetic_message_ids"] == 25
    back = write_read("discord", records, registry=REG)
    assert back == ADAPTER.project(records)
    keep = ("id", "timestamp", "text", "attachments", "sender_id", "type", "reply_to", "role")
    assert [[getattr(m, f) for f in keep] for m in messages(back)] == [
        [getattr(m, f) for f in keep] for m in messages(records)
    ]
    differing = {
        f
        for a, b in zip(messages(records), messages(back), strict=True)
        for f in Message.model_fields
        if getattr(a, f) != getattr(b, f)
    }
    assert differing <= {"timestamp_raw", "sender_name", "extensions", "mentions"}
    assert messages(back)[0].timestamp_raw == "2023-04-19T15:14:45.904819+00:00"


def test_package_fixture_through_dce_keeps_content() -> None:
    records = read(FIX / "gdpr-messages-json" / "input")
    back = write_read("discord", records, registry=REG)
    assert back == ADAPTER.project(records)
    for a, b in zip(messages(records), messages(back), strict=True):
        assert (a.id, a.timestamp, a.text, a.attachments, a.sender_id, a.sender_name) == (
            b.id,
            b.timestamp,
            b.text,
            b.attachments,
            b.sender_id,
            b.sender_name,
        )
        assert [m.id for m in b.mentions] == [m.id for m in a.mentions if m.type == "user"]
    # The owner is a complete DCE user, so the participant survives as it is.
    assert conversations(back)[0].participants[0] == conversations(records)[0].participants[0]


# -- detection -------------------------------------------------------------------------------------


def test_detection(tmp_path: Path) -> None:
    dce = tmp_path / "chan.json"
    dce.write_bytes(document([message(1_700_000_000_000, user(1), "hi")]))
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a [1].json").write_bytes(dce.read_bytes())
    (folder / "b [2].json").write_bytes(document([], channel_id="2"))
    package = FIX / "gdpr-messages-json" / "input"
    package_zip = FIX / "gdpr-zip" / "input.zip"
    for path, reason in (
        (dce, "DiscordChatExporter export"),
        (folder, "folder of DiscordChatExporter exports"),
        (package, "Discord data package"),
        (package_zip, "Discord data package"),
    ):
        found = memshift.detect(path, registry=REG)
        assert found.name == "discord" and reason in found.reason, (path, found)
    # Look-alikes are not Discord.
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"messages": [{"id": 1}], "channel_name": "x"}))
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("name,email\nA,a@example.org\n")
    slackish = tmp_path / "slack"
    slackish.mkdir()
    (slackish / "channels.json").write_text('[{"id": "C1", "name": "general"}]')
    for path in (other, csv_file, slackish):
        with open_source(path) as src:
            assert ADAPTER.sniff(src).confidence == 0.0, path


def test_single_package_files_are_read_with_the_folder_id(tmp_path: Path) -> None:
    folder = tmp_path / "c743108000000000001"
    folder.mkdir()
    csv_path = folder / "messages.csv"
    csv_path.write_text("ID,Timestamp,Contents,Attachments\n7481,2020-08-25 22:54:05+00:00,hi,\n")
    json_path = tmp_path / "c99" / "messages.json"
    json_path.parent.mkdir()
    json_path.write_text('[{"ID": 5, "Timestamp": "2022-09-09 00:14:25", "Contents": "yo"}]')
    for path, cid in ((csv_path, "743108000000000001"), (json_path, "99")):
        with open_source(path) as src:
            assert "data package" in ADAPTER.sniff(src).reason
        records = read(path, owner_id="42")
        assert conversations(records)[0].id == cid
        assert messages(records)[0].sender_id == "42"


# -- inputs ----------------------------------------------------------------------------------------


def test_stream_input_has_no_roster_but_loses_nothing() -> None:
    people = [user(1), user(2, bot=True)]
    msgs = [message(1_700_000_000_000 + i * 1000, people[i % 2], f"m{i}", seq=i) for i in range(6)]
    data = document(msgs)
    from_file = read(data)  # bytes: a one-shot stream, read in a single pass
    conv = conversations(from_file)[0]
    assert conv.participants == ()
    carried = [m.id for m in messages(from_file) if "discord:author" in m.extensions]
    assert carried == [msgs[0]["id"], msgs[1]["id"]]  # the first message of each author
    # Written and read back as files (with a roster), the same DCE comes out.
    docs = write_bytes("discord", from_file, registry=REG)
    (payload,) = docs.values()
    assert [m["author"] for m in json.loads(payload)["messages"]] == [m["author"] for m in msgs]


def test_collect_participants_off_matches_stream_behaviour(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(
        document(
            [message(1_700_000_000_000, user(1), "a"), message(1_700_000_001_000, user(1), "b", 1)]
        )
    )
    records = read(path, collect_participants=False)
    assert conversations(records)[0].participants == ()
    assert ["discord:author" in m.extensions for m in messages(records)] == [True, False]
    on = read(path)
    assert [p.id for p in conversations(on)[0].participants] == [user(1)["id"]]
    assert all(not m.extensions for m in messages(on))


@pytest.mark.parametrize(
    ("dst", "options", "transforms", "scanned"),
    [
        ("everos", {}, (), False),  # group documents have no participant table
        ("everos", {"mode": "personal"}, (), True),  # the owner comes from the participants
        ("everos", {}, ("exclude_bots",), True),  # a transform may read anything
        ("canonical", {}, (), True),
        ("discord", {}, (), True),
    ],
)
def test_the_author_scan_runs_only_when_the_destination_uses_participants(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dst: str,
    options: dict[str, Any],
    transforms: tuple[str, ...],
    scanned: bool,
) -> None:
    path = tmp_path / "c.json"
    people = [user(1), user(2, bot=True)]
    path.write_bytes(
        document(
            [message(1_700_000_000_000 + i * 1000, people[i % 2], f"m{i}", i) for i in range(4)]
        )
    )
    calls: list[int] = []
    real = _scan.scan_authors
    from memshift_adapters.discord import _read as discord_read

    monkeypatch.setattr(discord_read, "scan_authors", lambda fh: calls.append(1) or real(fh))
    out = tmp_path / "out"
    report = memshift.convert(
        path,
        out,
        src="discord",
        dst=dst,
        dst_options=options,
        transforms=transforms,
        on_loss="ignore",
    )
    assert bool(calls) == scanned
    assert report.balanced
    if dst == "everos" and not scanned:
        # Skipping the scan loses nothing silently: the user objects travel on the first
        # message of each author, and the loss report counts them.
        assert "extensions[discord:author]" in report.losses


def test_context_wants_everything_unless_told() -> None:
    ctx = Context()
    assert ctx.wants(memshift.Feature.PARTICIPANTS)
    ctx.destination_uses = lambda feature, kind: kind != "group"
    assert not ctx.wants(memshift.Feature.PARTICIPANTS, "group")
    assert ctx.wants(memshift.Feature.PARTICIPANTS)


def test_python_objects_are_read() -> None:
    doc = json.loads(document([message(1_700_000_000_000, user(1), "from a dict")]))
    for obj in (doc, [doc]):
        records = list(memshift.read(obj, "discord", registry=REG))
        assert messages(records)[0].text == "from a dict"
    assert memshift.detect(doc, registry=REG).name == "discord"


def test_folder_skips_assets_and_other_json_with_a_warning() -> None:
    ctx = Context()
    records = read(FIX / "group-dm-zip" / "input.zip", ctx)
    assert len(messages(records)) == 2
    assert any("settings.json: skipped" in w for w in ctx.report.warnings)


# -- the author scan -------------------------------------------------------------------------------


def test_scan_finds_what_ijson_finds_across_chunk_boundaries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buf = io.BytesIO()
    synthetic_dce(buf, 400, authors=37)
    data = buf.getvalue()
    reference: dict[str, Any] = {}
    for author in ijson.items(io.BytesIO(data), "messages.item.author"):
        reference.setdefault(author["id"], author)
    for chunk in (97, 1024, 1 << 20):
        monkeypatch.setattr(_scan, "_CHUNK", chunk)
        found = _scan.scan_authors(io.BufferedReader(io.BytesIO(data)))  # type: ignore[arg-type]
        assert found == reference and list(found) == list(reference), chunk


def test_scan_ignores_embed_authors_and_handles_odd_ids() -> None:
    msgs = [
        message(1_700_000_000_000, {**user(1), "id": 'we\\"ird'}, "a"),
        message(
            1_700_000_001_000,
            user(2),
            "b",
            1,
            embeds=[{"title": "t", "author": {"name": "GitHub", "url": "https://github.com"}}],
        ),
    ]
    found = _scan.scan_authors(io.BytesIO(document(msgs)))
    assert list(found) == ['we\\"ird', user(2)["id"]]


def test_author_with_keys_in_another_order_is_kept_per_message(tmp_path: Path) -> None:
    odd = {"name": "late-id", "nickname": "Late", "isBot": False, "id": "123"}
    path = tmp_path / "c.json"
    path.write_bytes(
        document([message(1_700_000_000_000, odd, "x"), message(1_700_000_001_000, odd, "y", 1)])
    )
    records = read(path)
    assert conversations(records)[0].participants == ()
    assert messages(records)[0].extensions["discord:author"] == odd
    assert write_read("discord", records, registry=REG) == ADAPTER.project(records)


# -- order, merging, de-duplication ----------------------------------------------------------------


def test_reversed_export_is_sorted(tmp_path: Path) -> None:
    path = tmp_path / "rev.json"
    with open(path, "wb") as fh:
        synthetic_dce(fh, 500, reverse=True)
    ctx = Context()
    msgs = messages(read(path, ctx))
    stamps = [m.timestamp for m in msgs]
    assert stamps == sorted(stamps) and len(msgs) == 500  # type: ignore[type-var]
    assert any("newest first" in w for w in ctx.report.warnings)
    assert ctx.report.notes["discord.reversed_files"] == 1


def test_out_of_order_message_is_reported_or_sorted(tmp_path: Path) -> None:
    u = user(1)
    msgs = [message(1_700_000_000_000 + i * 1000, u, str(i), seq=i) for i in range(30)]
    msgs[10], msgs[20] = msgs[20], msgs[10]
    path = tmp_path / "c.json"
    path.write_bytes(document(msgs))
    ctx = Context()
    kept = [m.text for m in messages(read(path, ctx))]
    assert kept == [m["content"] for m in msgs]
    assert any("earlier than the message before" in w for w in ctx.report.warnings)
    assert [m.text for m in messages(read(path, sort=True))] == [str(i) for i in range(30)]


def test_partitions_and_overlapping_exports_merge_in_order(tmp_path: Path) -> None:
    u1, u2 = user(1), user(2)
    allm = [
        message(1_700_000_000_000 + i * 1000, (u1, u2)[i % 2], str(i), seq=i) for i in range(30)
    ]
    folder = tmp_path / "exports"
    folder.mkdir()
    # --partition parts, plus a re-export that overlaps both.
    (folder / "general [1] [part 1].json").write_bytes(document(allm[:10]))
    (folder / "general [1] [part 2].json").write_bytes(document(allm[10:20]))
    (folder / "general [1] later.json").write_bytes(document(allm[15:]))
    ctx = Context()
    records = read(folder, ctx)
    assert len(conversations(records)) == 1
    assert [m.text for m in messages(records)] == [str(i) for i in range(30)]
    assert ctx.report.filtered[DUPLICATES] == 5
    assert len(ctx.report.notes["discord.merged_exports"]["1012224565567721552"]) == 3
    kept = read(folder, dedupe=False)
    assert len(messages(kept)) == 35


def test_reply_targets_beyond_the_exact_limit_are_still_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_order.IdTracker.__init__, "__defaults__", (50,))
    u = user(1)
    msgs = [message(1_700_000_000_000 + i * 1000, u, str(i), seq=i) for i in range(200)]
    for i in (120, 150):
        msgs[i]["type"] = "Reply"
        msgs[i]["reference"] = {
            "type": "Default",
            "messageId": msgs[i - 100]["id"],
            "channelId": "1012224565567721552",
            "guildId": "748545324524575035",
        }
    msgs[180]["type"] = "Reply"
    msgs[180]["reference"] = {
        "type": "Default",
        "messageId": snowflake(1_600_000_000_000),
        "channelId": "1012224565567721552",
        "guildId": "748545324524575035",
    }
    path = tmp_path / "c.json"
    path.write_bytes(document(msgs))
    ctx = Context()
    assert len(messages(read(path, ctx))) == 200
    assert ctx.report.notes["discord.replies_to_absent_messages"] == 1


def test_id_tracker_bloom_has_no_false_negatives() -> None:
    tracker = _order.IdTracker(limit=10)
    ids = [snowflake(1_700_000_000_000 + i) for i in range(5000)] + [f"x-{i}" for i in range(500)]
    for key in ids:
        tracker.add(key)
    assert not tracker.exact
    assert all(key in tracker for key in ids)
    misses = sum(snowflake(1_600_000_000_000 + i) in tracker for i in range(5000))
    assert misses < 50  # a few false positives at most


# -- time ------------------------------------------------------------------------------------------


def test_seven_digit_fractions_are_kept_exactly() -> None:
    records = read(FIX / "fractional-7-digits" / "input.json")
    first = messages(records)[0]
    assert first.timestamp == datetime(2024, 1, 15, 10, 0, 0, 123456, tzinfo=UTC)
    assert first.timestamp_raw == "2024-01-15T10:00:00.1234567+00:00"
    (payload,) = write_bytes("discord", records, registry=REG).values()
    written = json.loads(payload)["messages"]
    assert written[0]["timestamp"] == "2024-01-15T10:00:00.1234567+00:00"
    assert written[2]["timestampEdited"] == "2024-01-15T10:05:00.0000001+00:00"


def test_local_offsets_are_converted_and_kept() -> None:
    msgs = messages(read(FIX / "local-offset" / "input.json"))
    assert msgs[0].timestamp == datetime(2022, 5, 27, 3, 19, 27, 384000, tzinfo=UTC)
    assert msgs[0].timestamp_raw == "2022-05-26T23:19:27.384-04:00"
    assert msgs[0].extensions == {}  # the edit time is in the same zone: nothing extra to keep


# -- writing ---------------------------------------------------------------------------------------


T0 = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


def _foreign() -> list[AnyRecord]:
    conv = Conversation(
        id="C024BE91L",
        name="general/ops",
        type="personal",
        description="ops talk",
        timezone="Europe/Berlin",
        participants=(
            Participant(
                id="U1", name="Ana", real_name="Ana Lima", display_name="ana", nick="ana.l"
            ),
            Participant(id="U9", name="Silent"),
        ),
    )
    return [
        conv,
        Message(
            id="1452845865.000008",
            conversation_id=conv.id,
            sender_id="U1",
            sender_name="Ana",
            timestamp=T0,
            text="hi <@U2>",
            mentions=(Mention(id="U2", name="Bo"), Mention(id="C1", type="channel")),
        ),
        Message(
            id="1452845866.000100",
            conversation_id=conv.id,
            role="system",
            type="event",
            timestamp=T0 + timedelta(seconds=1),
            text="Ana joined",
        ),
        Message(
            id="m3",
            conversation_id=conv.id,
            sender_id="U2",
            sender_name="Bo",
            timestamp=T0 + timedelta(seconds=2),
            text="file",
            reply_to="1452845865.000008",
            attachments=(
                Attachment(
                    name="a.png", url="https://x/a.png", path="/tmp/a.png", mime_type="image/png"
                ),
            ),
            reactions=(Reaction(emoji="thumbsup", count=2, users=("U1",)),),
        ),
    ]


def test_records_from_other_formats_make_a_valid_export(tmp_path: Path) -> None:
    report = memshift.write(_foreign(), tmp_path / "out", "discord", registry=REG, on_loss="ignore")
    (path,) = (tmp_path / "out").glob("*.json")
    assert path.name == "Direct Messages - general_ops [C024BE91L].json"
    doc = json.loads(path.read_text())
    assert list(doc) == ["guild", "channel", "dateRange", "messages", "messageCount"]
    assert doc["messageCount"] == len(doc["messages"]) == 3
    assert doc["channel"]["type"] == "DirectTextChat"
    first, event, third = doc["messages"]
    assert first["author"]["name"] == "ana.l" and first["author"]["nickname"] == "ana"
    assert event["author"]["id"] == "0" and event["author"]["isBot"] and event["type"] == "Default"
    assert third["type"] == "Reply" and third["reference"]["messageId"] == "1452845865.000008"
    assert third["attachments"][0] == {
        "id": None,
        "url": "https://x/a.png",
        "fileName": "a.png",
        "fileSizeBytes": None,
    }
    assert [m["id"] for m in first["mentions"]] == ["U2"]
    assert report.written == 3
    assert {
        "participants",
        "mentions",
        "message type",
        "conversation type",
        "attachments.mime_type",
        "attachments.path",
        "timezone",
        "participant details",
    } <= set(report.losses)
    back = read(tmp_path / "out")
    assert back == ADAPTER.project(_foreign())


def test_a_message_without_time_gets_the_previous_time() -> None:
    created = T0 - timedelta(days=1)
    conv = Conversation(id="c", created_at=created)
    records: list[AnyRecord] = [
        conv,
        Message(id="m0", conversation_id="c", sender_id="U1", text="first, no time"),
        Message(id="m1", conversation_id="c", sender_id="U1", text="timed", timestamp=T0),
        Message(id="m2", conversation_id="c", sender_id="U1", text="no time"),
    ]
    docs = memshift.write(records, None, "discord", registry=REG, on_loss="ignore")
    (doc,) = docs
    assert [m["timestamp"] for m in doc["messages"]] == [
        "2024-01-14T10:00:00+00:00",
        "2024-01-15T10:00:00+00:00",
        "2024-01-15T10:00:00+00:00",
    ]
    assert docs.report.losses["timestamp"].count == 2
    assert write_read("discord", records, registry=REG) == ADAPTER.project(records)


def test_writer_is_deterministic_and_streams_count_last() -> None:
    records = read(FIX / "events-system-types" / "input.json")
    a = write_bytes("discord", records, registry=REG)
    b = write_bytes("discord", records, registry=REG)
    assert a == b
    (payload,) = a.values()
    assert payload.rstrip().endswith(b'"messageCount": 8\n}')


def test_compact_output_reads_back_the_same() -> None:
    records = read(FIX / "reactions-users" / "input.json")
    compact = write_bytes("discord", records, options={"indent": False}, registry=REG)
    (payload,) = compact.values()
    assert b"\n" not in payload
    assert read_bytes("discord", compact, registry=REG) == ADAPTER.project(records)


def test_empty_conversation_is_a_valid_document() -> None:
    docs = write_bytes("discord", [Conversation(id="7", name="quiet")], registry=REG)
    (payload,) = docs.values()
    assert json.loads(payload)["messages"] == []


def test_dce_to_everos_end_to_end(tmp_path: Path) -> None:
    if "everos" not in REG.names():
        pytest.skip("everos adapter not installed")
    report = memshift.convert(
        FIX / "merge-overlapping-exports" / "input",
        tmp_path / "o",
        src="discord",
        dst="everos",
        on_loss="ignore",
        registry=REG,
    )
    assert report.balanced and report.written == 6


# -- options and errors ----------------------------------------------------------------------------


def test_bad_options() -> None:
    with pytest.raises(OptionsError):
        memshift.convert(
            FIX / "local-offset" / "input.json",
            None,
            src="discord",
            dst="canonical",
            src_options={"name_precedence": ["real_name"]},
            registry=REG,
        )
    with pytest.raises(OptionsError):
        memshift.convert(
            FIX / "local-offset" / "input.json",
            None,
            src="discord",
            dst="canonical",
            src_options={"dedup": False},
            registry=REG,
        )


def test_errors_name_the_member_record_and_field(tmp_path: Path) -> None:
    bad = json.loads(document([message(1_700_000_000_000, user(1), "x")]))
    bad["messages"][0]["timestamp"] = "2023-13-45T99:00:00+00:00"
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("export/general [1].json", json.dumps(bad))
    with pytest.raises(ReadError) as info:
        read(archive)
    assert str(info.value).startswith(f"{archive}: general [1].json: messages[0].timestamp: ")


def test_package_without_user_json_is_attributed_and_counted() -> None:
    ctx = Context()
    records = read(FIX / "gdpr-mangled-ids" / "input", ctx)
    assert {m.sender_id for m in messages(records)} == {"@me"}
    assert any("placeholder sender '@me'" in w for w in ctx.report.warnings)
    assert any("7.73264E+18" in w for w in ctx.report.warnings)
    again = read(FIX / "gdpr-mangled-ids" / "input")
    assert [m.id for m in messages(records)] == [m.id for m in messages(again)]  # stable ids


# -- memory ----------------------------------------------------------------------------------------


def test_memory_does_not_grow_with_channel_size(tmp_path: Path) -> None:
    peaks = []
    for n in (2_000, 20_000):
        path = tmp_path / f"c{n}.json"
        with open(path, "wb") as fh:
            synthetic_dce(fh, n)
        tracemalloc.start()
        count = sum(1 for _ in memshift.read(path, "discord", registry=REG))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert count == n + 1
        peaks.append(peak)
    # 10x the messages: the id set grows (bounded by IdTracker.limit), nothing else does.
    assert peaks[1] < peaks[0] * 3, peaks


if __name__ == "__main__":  # python -m tests.adapters.test_discord N OUT
    with open(sys.argv[2], "wb") as out:
        synthetic_dce(out, int(sys.argv[1]))
