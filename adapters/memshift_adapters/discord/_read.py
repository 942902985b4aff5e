"""Reading DiscordChatExporter JSON: one file, a stream, or a folder/zip of exports.

Files are grouped by ``channel.id``, so a channel exported several times (``--partition`` parts,
overlapping re-exports) becomes one conversation; threads and forum posts are their own files and
their own conversations, linked to the parent by ``discord:parent_channel_id``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import orjson
from ijson.common import ObjectBuilder

from memshift import Feature, jsonio
from memshift.context import Context
from memshift.errors import Location, ReadError
from memshift.model import AnyRecord, Conversation, Message, Provenance

from . import _common, _dce, _order
from ._common import FieldError
from ._dce import ReadState
from ._scan import scan_authors

Opener = Callable[[], IO[bytes]]


@dataclass
class DceFile:
    """One DCE document: where it is, how to open it again, and its header."""

    member: str | None
    order: int
    header: dict[str, Any]
    opener: Opener | None  # None: a one-shot stream, read through ``events``
    events: Iterator[tuple[str, str, Any]] | None = None

    @property
    def channel_id(self) -> str:
        return str(self.header["channel"]["id"])


def id_key(value: str) -> tuple[int, int, str]:
    """Sort key that orders snowflakes numerically and anything else after them."""
    if value.isdigit():
        return (0, int(value), value)  # "0" before "00": a total order, whatever the input order
    return (1, 0, value)


# -- header ----------------------------------------------------------------------------------------


def read_header(
    events: Iterator[tuple[str, str, Any]], loc: Location, *, through_messages: bool = False
) -> tuple[dict[str, Any], bool]:
    """The top-level members before ``messages`` (or all but ``messages`` with
    ``through_messages``). Returns the header and whether a ``messages`` array was found; when it
    was found and ``through_messages`` is false, ``events`` is left at the array's start."""
    try:
        _prefix, event, _value = next(events)
    except StopIteration:
        raise ReadError("invalid JSON: the file is empty", loc) from None
    if event != "start_map":
        kind = {"start_array": "an array"}.get(event, "a scalar value")
        raise ReadError(
            f"expected a JSON object (a DiscordChatExporter export) at the top level, got {kind}",
            loc,
        )
    header: dict[str, Any] = {}
    found = False
    for prefix, event, value in events:
        if event == "end_map" and prefix == "":
            return header, found
        if event != "map_key":
            continue
        key = value
        if key == "messages":
            _p, first, _v = next(events)
            if first == "null":
                continue
            if first != "start_array":
                raise ReadError("messages: expected an array of messages", loc)
            found = True
            if not through_messages:
                return header, True
            _skip_value(events, 1)
            continue
        header[key] = _build_value(events)
    return header, found


def _skip_value(events: Iterator[tuple[str, str, Any]], depth: int) -> None:
    for _prefix, event, _value in events:
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                return


def _build_value(events: Iterator[tuple[str, str, Any]]) -> Any:
    builder = ObjectBuilder()
    depth = 0
    for _prefix, event, value in events:
        builder.event(event, value)
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
        if depth == 0:
            return builder.value
    return builder.value


def check_header(header: dict[str, Any], loc: Location) -> None:
    channel = header.get("channel")
    if not isinstance(channel, dict):
        raise ReadError("channel: missing (not a DiscordChatExporter export)", loc)
    if channel.get("id") is None:
        raise ReadError("channel.id: missing", loc)
    guild = header.get("guild")
    if guild is not None and not isinstance(guild, dict):
        raise ReadError("guild: expected an object", loc)


_CHANNEL_OBJECT = re.compile(rb'"channel"\s*:\s*\{')


def looks_like_dce(head: bytes) -> bool:
    """DCE's top level: a ``channel`` object (an API page has a channel *id* string) beside a
    ``guild`` or the ``messages`` array."""
    if jsonio.top_level_type(head) != "object" or not _CHANNEL_OBJECT.search(head):
        return False
    return b'"guild"' in head or b'"messages"' in head


# -- discovery -------------------------------------------------------------------------------------


def discover(source: Any, ctx: Context) -> list[DceFile]:
    """Every DCE document of the source, with its header read."""
    kind = source.kind
    if kind == "objects":
        docs = source.objects if isinstance(source.objects, list) else [source.objects]
        out = []
        for i, doc in enumerate(docs):
            if not isinstance(doc, dict):
                raise ReadError(
                    f"expected DiscordChatExporter documents (dicts), got {type(doc).__name__}",
                    source.location(path=f"[{i}]"),
                )
            data = orjson.dumps(doc)
            out.append(_with_header(source, f"[{i}]", i, _bytes_opener(data)))
        return out
    if kind == "stream":
        loc = source.location()
        events = jsonio.iter_events(source.open(), loc)
        header, found = read_header(events, loc)
        check_header(header, loc)
        return [DceFile(None, 0, header, None, events if found else iter(()))]
    if kind == "file":
        return [_with_header(source, None, 0, lambda: source.open())]
    out = []
    for member in source.members():
        if not member.lower().endswith(".json") or ".json_Files/" in member:
            continue
        if not looks_like_dce(source.head(8192, member)):
            ctx.warn(
                f"{source.label}: {member}: skipped, not a DiscordChatExporter export",
                key=f"discord-not-dce:{member}",
            )
            continue
        out.append(_with_header(source, member, len(out), _member_opener(source, member)))
    if not out:
        raise ReadError("no DiscordChatExporter JSON files found", source.location())
    return out


def _bytes_opener(data: bytes) -> Opener:
    return lambda: io.BytesIO(data)


def _member_opener(source: Any, member: str) -> Opener:
    return lambda: source.open(member)


def _with_header(source: Any, member: str | None, order: int, opener: Opener) -> DceFile:
    loc = source.location(member)
    with opener() as fh:
        header, found = read_header(jsonio.iter_events(fh, loc), loc)
    if "channel" not in header and found:
        # A writer that put the messages first: read past them for the rest of the header.
        with opener() as fh:
            header, found = read_header(jsonio.iter_events(fh, loc), loc, through_messages=True)
    check_header(header, loc)
    return DceFile(member, order, header, opener)


# -- reading ---------------------------------------------------------------------------------------


class DceReader:
    def __init__(self, source: Any, options: Any, ctx: Context) -> None:
        self.source = source
        self.options = options
        self.ctx = ctx
        self.precedence = tuple(options.name_precedence)
        self.absent_replies = 0
        self.absent_channels = 0
        self.counters: dict[str, int] = {}

    def read(self) -> Iterator[AnyRecord]:
        files = discover(self.source, self.ctx)
        groups: dict[str, list[DceFile]] = {}
        for f in files:
            groups.setdefault(f.channel_id, []).append(f)
        merged = {cid: [f.member for f in g] for cid, g in groups.items() if len(g) > 1}
        if merged:
            self.ctx.note("discord.merged_exports", merged)
        for cid in sorted(groups, key=id_key):
            yield from self._conversation(groups[cid])
        if self.absent_replies:
            self.ctx.warn(
                f"{self.absent_replies} repl{'y' if self.absent_replies == 1 else 'ies'} in "
                f"{self.absent_channels} channel(s) point to messages that are not in the export "
                "(deleted, or outside the exported date range); reply_to was kept",
                key="discord-absent-reply",
            )
            self.ctx.note("discord.replies_to_absent_messages", self.absent_replies)

    def _conversation(self, group: list[DceFile]) -> Iterator[AnyRecord]:
        lead = _latest(group)
        header = lead.header
        if len(group) > 1:
            # The newest export describes the channel; the date range covers all of them.
            header = {**header, "dateRange": _union_range([f.header for f in group])}
        channel = header["channel"]
        cid = str(channel["id"])
        authors: dict[str, dict[str, Any]] = {}
        # The pre-scan is a second pass over the bytes: skipped when the destination has no use
        # for participants (every message still names its sender, and each author's first
        # message carries the user object, which the loss report then counts).
        if self.options.collect_participants and self.ctx.wants(Feature.PARTICIPANTS, "group"):
            for f in group:
                if f.opener is None:
                    continue
                with f.opener() as fh:
                    for aid, user in scan_authors(fh).items():
                        authors.setdefault(aid, user)
        participants = tuple(
            _common.author_to_participant(authors[aid], self.precedence)
            for aid in sorted(authors, key=id_key)
        )
        name = channel.get("name")
        topic = channel.get("topic")
        yield Conversation(
            id=cid,
            type="group",
            name=None if name is None else str(name),
            description=None if topic is None else str(topic),
            participants=participants,
            provenance=Provenance(format="discord", source_id=cid),
            extensions=_dce.conversation_extensions(header),
        )
        st = ReadState(cid, _common.guild_id_of(header), dict(authors), self.precedence)
        always = self.options.sort
        streams = [_order.ordered(self._convert(f, st), self._on_sorted(f), always) for f in group]
        yield from self.finish(_order.merge(streams), cid)

    def _on_sorted(self, f: DceFile) -> Callable[[bool], None]:
        def note(reversed_: bool) -> None:
            if not reversed_:
                return
            where = f.member or self.source.label
            self.ctx.warn(
                f"{where}: messages are newest first (exported with --reverse); sorted "
                "chronologically",
                key=f"discord-reversed:{where}",
            )
            self.ctx.note("discord.reversed_files", self._count("reversed"))

        return note

    def _count(self, key: str) -> int:
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]

    def _convert(self, f: DceFile, st: ReadState) -> Iterator[_order.Item]:
        """The file's messages as canonical ones, in one loop (a generator layer per message
        is measurable at a million messages); bad ones go to the rejects with their index."""
        member = f.member
        loc = self.source.location(member)
        read_message = _dce.read_message
        with f.opener() if f.opener is not None else nullcontext() as fh:
            if fh is None:
                assert f.events is not None
                items = _items_from_events(f.events)
            else:
                items = jsonio.iter_items(fh, "messages.item", loc)
            for i, raw in enumerate(items):
                try:
                    msg = read_message(raw, st)
                except FieldError as exc:
                    path = f"messages[{i}].{exc.field}" if exc.field else f"messages[{i}]"
                    self.ctx.reject(raw, exc.message, self.source.location(member, path))
                    continue
                except ValueError as exc:  # pydantic validation of an odd value
                    self.ctx.reject(raw, exc, self.source.location(member, f"messages[{i}]"))
                    continue
                yield (msg, member, i, raw)

    def finish(self, items: Iterator[_order.Item], cid: str) -> Iterator[Message]:
        stats = {"absent": 0, "late": 0}
        yield from _order.finish(items, self.ctx, self.options.dedupe, self.source.location, stats)
        if stats["absent"]:
            self.absent_replies += stats["absent"]
            self.absent_channels += 1
        if stats["late"]:
            self.ctx.warn(
                f"channel {cid}: {stats['late']} message(s) are earlier than the message before "
                "them (a hand-edited or merged file?); they were kept in file order, so the "
                "output is not chronological there (-O sort=true sorts every file)",
                key=f"discord-late:{cid}",
            )


def _instant(value: Any) -> datetime | None:
    """An aware datetime from an ISO string; None for anything else (null, naive, garbage)."""
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return None
        if dt.utcoffset() is not None:
            return dt
    return None


def _union_range(headers: list[dict[str, Any]]) -> dict[str, Any]:
    """The smallest range containing every export's ``dateRange`` (null = unbounded)."""
    out: dict[str, Any] = {}
    for key in ("after", "before"):
        values = [
            h["dateRange"].get(key) if isinstance(h.get("dateRange"), dict) else None
            for h in headers
        ]
        stamps = [_instant(v) for v in values]
        known = [(s, i) for i, s in enumerate(stamps) if s is not None]
        if len(known) < len(values):
            out[key] = None
        else:
            _, index = min(known) if key == "after" else max(known)
            out[key] = values[index]
    return out


def _latest(group: list[DceFile]) -> DceFile:
    """The export whose header describes the channel: the most recently exported one (the
    first file when none says when it was exported)."""
    best = group[0]
    best_at = _instant(best.header.get("exportedAt"))
    for f in group[1:]:
        at = _instant(f.header.get("exportedAt"))
        if at is not None and (best_at is None or at > best_at):
            best, best_at = f, at
    return best


def _items_from_events(events: Iterator[tuple[str, str, Any]]) -> Iterator[Any]:
    import ijson

    # ``events`` is positioned just after the array's start_array event.
    def rest() -> Iterator[tuple[str, str, Any]]:
        yield ("messages", "start_array", None)
        yield from events

    yield from ijson.items(rest(), "messages.item")
