"""Reading Chat Completions message lists and fine-tuning JSON Lines."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import IO, Any

import ijson

from memshift import jsonio
from memshift.context import Context
from memshift.errors import Location, OptionsError, ReadError
from memshift.model import AnyRecord, Conversation, Message
from memshift.sources import Source
from memshift.timeutil import TimestampError, from_epoch_seconds, parse_iso

from ._messages import NS, FieldError, conversation_hash, convert, derive_participants

_JSONL = (".jsonl", ".ndjson")


def first_object(head: bytes) -> Any:
    stripped = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if stripped.startswith(b"["):
        try:
            for item in ijson.items(io.BytesIO(stripped), "item"):
                return item
        except (ijson.JSONError, ValueError):
            return None
        return None
    if stripped.startswith(b"{"):
        try:
            return jsonio.loads(stripped.split(b"\n", 1)[0])
        except ValueError:
            return _partial_object(stripped)
    return None


def _partial_object(data: bytes) -> dict[str, Any] | None:
    """The top-level keys of a (possibly cut-off) pretty-printed object, with its first message:
    enough to recognise ``{"model": ..., "messages": [...]}`` from the first bytes."""
    keys: dict[str, Any] = {}
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(data)):
            if prefix == "" and event == "map_key":
                keys[value] = None
    except (ijson.JSONError, ValueError):
        pass
    if "messages" not in keys:
        return None
    keys["messages"] = []
    try:
        for item in ijson.items(io.BytesIO(data), "messages.item"):
            keys["messages"] = [item]
            break
    except (ijson.JSONError, ValueError):
        pass
    return keys


def convert_conversation(
    obj: Mapping[str, Any],
    seen: dict[str, int],
    ctx: Context | None = None,
    where: Location | None = None,
) -> list[AnyRecord]:
    """Records of one conversation object. Raises FieldError for a conversation-level problem;
    with a context, a bad message is rejected and the others are kept."""
    messages = obj.get("messages")
    if not isinstance(messages, list):
        if messages is None and "input" in obj and "preferred_output" in obj:
            raise FieldError("messages", "preference (DPO) lines are not supported")
        raise FieldError("messages", "missing" if messages is None else "expected an array")
    base = conversation_hash(obj)
    n = seen.get(base, 0) + 1
    seen[base] = n
    cid = base if n == 1 else f"{base}-{n}"
    out: list[Message] = []
    for i, raw in enumerate(messages):
        try:
            out.append(convert(raw, cid, i))
        except FieldError as exc:
            if ctx is None:
                raise
            field = f".{exc.field}" if exc.field else ""
            path = (
                f"{where.path}.messages[{i}]{field}"
                if where and where.path
                else f"messages[{i}]{field}"
            )
            ctx.reject(raw, exc.message, (where or Location()).child(path))
    ext = {NS + k: v for k, v in obj.items() if k != "messages"}
    ext[NS + "synthetic_id"] = True
    participants, conv_type = derive_participants(out)
    conv = Conversation(
        id=cid,
        type=conv_type,
        participants=participants,
        extensions=ext,
    )
    return [conv, *out]


def start_time(source: Source, options: Any) -> tuple[datetime, float] | None:
    value = options.start_time
    if value is None:
        return None
    if value == "mtime":
        mtime = source.mtime()
        if mtime is None:
            raise OptionsError("openai_chat", "start_time=mtime needs an input file, not a stream")
        start = from_epoch_seconds(mtime)
    else:
        try:
            start = parse_iso(value)
        except TimestampError as exc:
            raise OptionsError("openai_chat", f"start_time: {exc}") from None
    return start, options.time_step


def _with_times(records: list[AnyRecord], clock: tuple[datetime, float]) -> list[AnyRecord]:
    """Deterministic, user-chosen times: ``start + index * step`` by the message's array index."""
    start, step = clock
    out: list[AnyRecord] = []
    for record in records:
        if isinstance(record, Message):
            index = int(record.id.rsplit("-", 1)[1])
            ts = start + timedelta(seconds=index * step)
            record = record.model_copy(
                update={
                    "timestamp": ts,
                    "extensions": {**record.extensions, NS + "synthetic_time": True},
                }
            )
        out.append(record)
    return out


class ChatReader:
    def __init__(
        self, source: Source, ctx: Context, clock: tuple[datetime, float] | None = None
    ) -> None:
        self.source = source
        self.ctx = ctx
        self.clock = clock
        self.seen: dict[str, int] = {}

    def records(self) -> Iterator[AnyRecord]:
        src = self.source
        if src.kind == "objects":
            objs = src.objects
            if isinstance(objs, Mapping):
                yield from self._one(objs, src.location())
            elif isinstance(objs, (list, tuple)):
                first = objs[0] if objs else None
                if isinstance(first, Mapping) and "messages" in first:
                    for i, obj in enumerate(objs):
                        yield from self._one(obj, src.location(path=f"[{i}]"))
                else:
                    yield from self._one({"messages": list(objs)}, src.location())
            return
        members: list[str | None]
        if src.is_container:
            members = [m for m in src.members() if m.endswith((".json", *_JSONL))]
        else:
            members = [None]
        for member in members:
            yield from self._document(member)

    def _one(self, obj: Any, where: Location) -> Iterator[AnyRecord]:
        if not isinstance(obj, Mapping):
            self.ctx.reject(obj, f"expected a conversation object, got {type(obj).__name__}", where)
            return
        try:
            records = convert_conversation(obj, self.seen, self.ctx, where)
            yield from _with_times(records, self.clock) if self.clock else records
        except FieldError as exc:
            path = f"{where.path}.{exc.field}" if where.path else exc.field
            self.ctx.reject(obj, exc.message, where.child(path))

    def _document(self, member: str | None) -> Iterator[AnyRecord]:
        src = self.source
        loc = src.location(member)
        head = src.head(member=member)
        name = (member or (src.path.name if src.path is not None else src.label)).lower()
        kind = jsonio.top_level_type(head)
        if kind is None:
            if not head.lstrip(b"\xef\xbb\xbf").strip():
                raise ReadError("the file is empty", loc)
            raise ReadError(
                "not chat completions JSON: expected a JSON array, an object with 'messages' "
                "or JSON Lines",
                loc,
            )
        with src.open(member) as fh:
            if name.endswith(_JSONL) or (kind == "object" and self._is_jsonl(head)):
                yield from self._lines(fh, loc)
            elif kind == "array":
                yield from self._array(fh, head, loc)
            else:
                for obj in jsonio.iter_items(fh, "", loc):
                    yield from self._one(obj, loc)

    @staticmethod
    def _is_jsonl(head: bytes) -> bool:
        """A ``{`` document is JSON Lines when its first line is a whole object."""
        first = head.lstrip(b"\xef\xbb\xbf").lstrip().split(b"\n", 1)[0]
        try:
            return isinstance(jsonio.loads(first), dict)
        except ValueError:
            return False

    def _array(self, fh: IO[bytes], head: bytes, loc: Location) -> Iterator[AnyRecord]:
        first = first_object(head)
        items = jsonio.iter_items(fh, "item", loc)
        if isinstance(first, Mapping) and "messages" in first:
            for i, obj in enumerate(items):
                yield from self._one(obj, loc.child(f"[{i}]"))
        else:
            # A bare message list is one conversation; its id needs all of it, so it is loaded.
            yield from self._one({"messages": list(items)}, loc)

    def _lines(self, fh: IO[bytes], loc: Location) -> Iterator[AnyRecord]:
        """Fine-tuning JSONL (a conversation per line) or a message per line (one conversation).
        A line that is not JSON (pretty-printed files, raw newlines in strings) is rejected and
        reading goes on."""
        loose: list[Any] = []
        mode: str | None = None
        for lineno, line in enumerate(jsonio.skip_bom(fh), start=1):
            if not line.strip():
                continue
            where = loc.child(f"line {lineno}")
            try:
                obj = jsonio.loads(line)
            except ValueError as exc:
                self.ctx.reject(line.decode("utf-8", "replace"), f"invalid JSON: {exc}", where)
                continue
            kind = "message" if isinstance(obj, Mapping) and "role" in obj else "conversation"
            if mode is None:
                mode = kind
            if kind != mode:
                self.ctx.reject(
                    obj,
                    f"a {kind} line in a file of {mode}s (one kind per file)",
                    where,
                )
                continue
            if mode == "conversation":
                yield from self._one(obj, where)
            else:
                loose.append(obj)
        if loose:
            yield from self._one({"messages": loose}, loc)
