"""Reading Zep: thread messages (v2 ``role_type``/``role``, v3 ``role``/``name``, v4
``reference_time``), graph edges (``EntityEdge``/``Edge``), fact rows, and Batch API items."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from memshift import Context, jsondoc, timeutil
from memshift.errors import Location
from memshift.model import AnyRecord, Conversation, MemoryItem, Message, Scope, Triple
from memshift.sources import Source

from ._shared import (
    EXPIRED_EXT,
    MEMORY_TYPES,
    METADATA_EXT,
    RAW,
    ROLE_EXT,
    ROLES_IN,
    SOURCE_ID,
    SOURCE_PART,
    SOURCE_SENDER,
    SOURCE_TYPE,
    zep_time,
)

#: Keys that wrap record lists: a thread's messages, edges, fact rows (``facts`` in Zep-shaped
#: dumps, ``rows`` in the CortexDB import body), and a batch request's ``items``.
LIST_KEYS = ("messages", "edges", "facts", "rows", "items")
_THREAD_KEYS = ("thread_id", "thread_uuid", "session_id")
_USER_KEYS = ("user_id", "user_uuid")
_GRAPH_KEYS = ("graph_id", "graph_uuid", "group_id")
#: Fact keys mapped to canonical fields; every other key of a fact is kept as ``zep:<key>``.
_FACT_CORE = frozenset(
    {
        "uuid",
        "fact",
        "valid_at",
        "valid_from",
        "invalid_at",
        "valid_to",
        "created_at",
        "expired_at",
        *_USER_KEYS,
        *_GRAPH_KEYS,
    }
)
_TRIPLE_KEYS = frozenset({"name", "source_node_name", "target_node_name"})


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _kind(value: Any) -> str:
    return jsondoc.kind_of(value)


def _opt_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(key, f"expected a string, found {_kind(value)}")
    return value


def _first(raw: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = _opt_str(raw, key)
        if value:
            return value
    return None


def _time(raw: dict[str, Any], key: str, naive_tz: str | None) -> datetime | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(key, f"expected an RFC 3339 string, found {value!r}")
    try:
        return timeutil.parse_iso(value, naive_tz=naive_tz)
    except (timeutil.TimestampError, OverflowError) as exc:
        raise _Bad(key, str(exc)) from None


class _Pending:
    """Parts of one message (or episode) split by the writer, joined back as they arrive."""

    __slots__ = ("expected", "record", "source_id", "texts")

    def __init__(self, record: Message | MemoryItem, source_id: str, expected: int) -> None:
        self.record = record
        self.source_id = source_id
        self.expected = expected
        self.texts = [record.text]

    def joined(self) -> Message | MemoryItem:
        return self.record.model_copy(update={"text": "".join(self.texts)})


def _part(metadata: dict[str, Any]) -> tuple[int, int] | None:
    value = metadata.get(SOURCE_PART)
    if not isinstance(value, str):
        return None
    k, sep, n = value.partition("/")
    if not sep or not k.isdigit() or not n.isdigit():
        return None
    ki, ni = int(k), int(n)
    return (ki, ni) if 1 <= ki <= ni else None


class ZepReader:
    def __init__(self, source: Source, options: Any, ctx: Context) -> None:
        self.source = source
        self.opts = options
        self.ctx = ctx
        self.threads_seen: set[str] = set()
        self.thread: str | None = None
        self.thread_ids: set[str] = set()  # message ids of the current thread (duplicates)
        self.counts: dict[str, int] = {}
        self.memory_ids: set[str] = set()
        self.pending: _Pending | None = None

    # -- dispatch --------------------------------------------------------------------------------

    def records(self) -> Iterator[AnyRecord]:
        for value, loc, item in jsondoc.iter_json_objects(self.source, LIST_KEYS, self.ctx):
            kind = value.get("type")
            if kind in ("thread_message", "graph_episode"):
                if kind == "thread_message":
                    yield from self._message(value, None, item, loc, batch=True)
                else:
                    yield from self._episode(value, item.path, loc)
            elif isinstance(value.get("messages"), list):
                yield from self._thread_chunk(value, item, loc)
            elif "fact" in value:
                yield from self._fact(value, item.path, loc)
            elif "content" in value or "role" in value or "role_type" in value:
                yield from self._message(value, None, item, loc, batch=False)
            else:
                self.ctx.reject(
                    value,
                    "not a Zep record: no message (content/role), fact, batch item type or "
                    "messages list",
                    loc,
                )
        yield from self._flush()

    def _flush(self) -> Iterator[AnyRecord]:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            if len(pending.texts) != pending.expected:
                self.ctx.warn(
                    f"{self.source.label}: message {pending.source_id!r} has "
                    f"{len(pending.texts)} of {pending.expected} split parts; kept what is there",
                    key=f"zep-parts-{pending.source_id}",
                )
            yield pending.joined()

    def _joined(self, record: Message | MemoryItem, metadata: dict[str, Any]) -> Iterator[Any]:
        """Feed one record through the split-part joiner; yields whatever is complete."""
        part = _part(metadata)
        sid = metadata.get(SOURCE_ID)
        pend = self.pending
        if (
            pend is not None
            and part is not None
            and isinstance(sid, str)
            and sid == pend.source_id
            and part[0] == len(pend.texts) + 1
            and part[1] == pend.expected
            and type(record) is type(pend.record)
        ):
            pend.texts.append(record.text)
            if len(pend.texts) == pend.expected:
                self.pending = None
                yield pend.joined()
            return
        yield from self._flush()
        if part is not None and part[0] == 1 and part[1] > 1 and isinstance(sid, str):
            self.pending = _Pending(record, sid, part[1])
            return
        yield record

    # -- thread messages -------------------------------------------------------------------------

    def _thread_of(self, raw: dict[str, Any], context: dict[str, Any], member: str | None) -> str:
        own = _first(raw, ("thread_uuid", "thread_id"))
        if own:
            return own
        for key in _THREAD_KEYS:
            value = context.get(key)
            if isinstance(value, str) and value:
                return value
        if self.opts.thread_id:
            return str(self.opts.thread_id)
        name = member or self.source.label
        stem = PurePosixPath(name.replace("\\", "/")).name.split(".", 1)[0] if name else ""
        return stem if stem and not stem.startswith("<") else "thread"

    def _thread_chunk(
        self, raw: dict[str, Any], item: jsondoc.Item, loc: Location
    ) -> Iterator[AnyRecord]:
        """One line of ``-O mode=messages`` output: ``{"thread_id", "messages": [...]}``."""
        context = {k: raw[k] for k in _THREAD_KEYS if k in raw}
        for i, msg in enumerate(raw["messages"]):
            path = f"{item.path}.messages[{i}]" if item.path else f"messages[{i}]"
            sub = jsondoc.Item(msg, item.member, path, context)
            if not isinstance(msg, dict):
                self.ctx.reject(
                    msg, f"expected a message object, found {_kind(msg)}", loc.child(path)
                )
                continue
            yield from self._message(msg, context, sub, loc.child(path), batch=False)

    def _message(
        self,
        raw: dict[str, Any],
        context: dict[str, Any] | None,
        item: jsondoc.Item,
        loc: Location,
        *,
        batch: bool,
    ) -> Iterator[AnyRecord]:
        try:
            if batch:
                thread = _first(raw, ("thread_id", "thread_uuid"))
                if not thread:
                    raise _Bad("thread_id", "missing thread_id (a thread_message needs one)")
            else:
                thread = self._thread_of(raw, context or item.context, item.member)
        except _Bad as exc:
            self.ctx.reject(raw, str(exc), loc.child(_join(item.path, exc.field)))
            return
        if thread != self.thread:
            yield from self._flush()
            self.thread = thread
            self.thread_ids = set()
            if thread not in self.threads_seen:
                self.threads_seen.add(thread)
                yield Conversation(id=thread, type="personal")
        n = self.counts.get(thread, 0) + 1
        self.counts[thread] = n
        try:
            msg, metadata = self._convert_message(raw, thread, n)
        except _Bad as exc:
            self.ctx.reject(raw, str(exc), loc.child(_join(item.path, exc.field)))
            return
        except ValueError as exc:
            self.ctx.reject(raw, exc, loc)
            return
        part = _part(metadata)
        if part is None or part[0] == 1:  # later parts of a split message repeat its id
            if msg.id in self.thread_ids:
                self.ctx.reject(raw, f"duplicate message id {msg.id!r}", loc.child(item.path or ""))
                return
            self.thread_ids.add(msg.id)
        yield from self._joined(msg, metadata)

    def _convert_message(
        self, raw: dict[str, Any], thread: str, n: int
    ) -> tuple[Message, dict[str, Any]]:
        if "role_type" in raw:  # v2: role_type is the enum, role the speaker's name
            role_key, role = "role_type", raw.get("role_type")
            name = _opt_str(raw, "role")
        else:
            role_key, role = "role", raw.get("role")
            name = _opt_str(raw, "name")
        if role is None:
            raise _Bad(role_key, "missing role")
        if not isinstance(role, str) or role not in ROLES_IN:
            raise _Bad(role_key, f"unknown role {role!r} (Zep roles: {', '.join(ROLES_IN)})")
        content = raw.get("content")
        if not isinstance(content, str):
            what = "missing" if content is None else f"expected a string, found {_kind(content)}"
            raise _Bad("content", what)
        naive = self.opts.naive_timezone
        key = "reference_time" if raw.get("reference_time") is not None else "created_at"
        ts = _time(raw, key, naive)
        metadata = raw.get("metadata")
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            raise _Bad("metadata", f"expected an object, found {_kind(metadata)}")
        uuid = _opt_str(raw, "uuid")
        sid = metadata.get(SOURCE_ID)
        sender = metadata.get(SOURCE_SENDER)
        mid = uuid or (sid if isinstance(sid, str) and sid else None) or f"{thread}:{n}"
        ext: dict[str, Any] = {}
        user_md = {
            k: v for k, v in metadata.items() if k not in (SOURCE_ID, SOURCE_SENDER, SOURCE_PART)
        }
        if uuid and isinstance(sid, str):
            user_md[SOURCE_ID] = sid  # Zep's own id wins; the import's source id stays visible
        if user_md:
            ext[METADATA_EXT] = user_md
        if role in ("norole", "function"):
            ext[ROLE_EXT] = role
        msg = Message(
            id=mid,
            conversation_id=thread,
            role=ROLES_IN[role],
            sender_id=sender if isinstance(sender, str) else None,
            sender_name=name or None,
            timestamp=ts,
            timestamp_raw=raw[key] if ts is not None else None,
            text=content,
            extensions=ext,
        )
        return msg, metadata

    # -- graph episodes (Batch API items) --------------------------------------------------------

    def _episode(self, raw: dict[str, Any], path: str, loc: Location) -> Iterator[AnyRecord]:
        try:
            item, metadata = self._convert_episode(raw)
        except _Bad as exc:
            self.ctx.reject(raw, str(exc), loc.child(_join(path, exc.field)))
            return
        except ValueError as exc:
            self.ctx.reject(raw, exc, loc)
            return
        part = _part(metadata)
        if part is None or part[0] == 1:
            unique = self._unique(item, raw, loc, path)
            if unique is None:
                return
            item = unique
        yield from self._joined(item, metadata)

    def _convert_episode(self, raw: dict[str, Any]) -> tuple[MemoryItem, dict[str, Any]]:
        data = raw.get("data")
        if not isinstance(data, str):
            what = "missing" if data is None else f"expected a string, found {_kind(data)}"
            raise _Bad("data", what)
        scope = self._scope(raw)
        if scope.user_id is None and scope.group_id is None:
            raise _Bad("user_id", "a graph_episode needs user_id or graph_id")
        key = "reference_time" if raw.get("reference_time") is not None else "created_at"
        created = _time(raw, key, self.opts.naive_timezone)
        metadata = raw.get("metadata")
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            raise _Bad("metadata", f"expected an object, found {_kind(metadata)}")
        ext: dict[str, Any] = {}
        data_type = raw.get("data_type")
        if data_type is not None and not isinstance(data_type, str):
            raise _Bad("data_type", f"expected a string, found {_kind(data_type)}")
        if data_type and data_type != "text":
            ext["zep:data_type"] = data_type
        for name in ("source_description", "document_id"):
            value = _opt_str(raw, name)
            if value is not None:
                ext[f"zep:{name}"] = value
        if created is not None and raw[key] != zep_time(created):
            ext[RAW["created_at"]] = raw[key]
        sid = metadata.get(SOURCE_ID)
        stype = metadata.get(SOURCE_TYPE)
        uuid = _opt_str(raw, "uuid")
        mid = uuid or (sid if isinstance(sid, str) and sid else None)
        if mid is None:
            basis = [scope.user_id or "", scope.group_id or "", data, str(raw.get(key) or "")]
            mid = _derived("zep-episode-", basis)
        user_md = {
            k: v for k, v in metadata.items() if k not in (SOURCE_ID, SOURCE_TYPE, SOURCE_PART)
        }
        item = MemoryItem(
            id=mid,
            type=stype if stype in MEMORY_TYPES else "document",
            scope=scope,
            text=data,
            created_at=created,
            metadata=user_md,
            extensions=ext,
        )
        return item, metadata

    # -- facts and edges -------------------------------------------------------------------------

    def _fact(self, raw: dict[str, Any], path: str, loc: Location) -> Iterator[AnyRecord]:
        try:
            item = self._convert_fact(raw)
        except _Bad as exc:
            self.ctx.reject(raw, str(exc), loc.child(_join(path, exc.field)))
            return
        except ValueError as exc:
            self.ctx.reject(raw, exc, loc)
            return
        unique = self._unique(item, raw, loc, path)
        if unique is not None:
            yield from self._flush()
            yield unique

    def _convert_fact(self, raw: dict[str, Any]) -> MemoryItem:
        text = raw.get("fact")
        if not isinstance(text, str):
            raise _Bad("fact", f"expected a string, found {_kind(text)}")
        naive = self.opts.naive_timezone
        ext: dict[str, Any] = {}
        times: dict[str, datetime | None] = {}
        for field, keys in (
            ("valid_from", ("valid_at", "valid_from")),
            ("valid_to", ("invalid_at", "valid_to")),
            ("created_at", ("created_at",)),
        ):
            key = next((k for k in keys if raw.get(k) is not None), keys[0])
            times[field] = _time(raw, key, naive)
            value = times[field]
            if value is not None and raw[key] != zep_time(value):
                ext[RAW[field]] = raw[key]
        if raw.get("expired_at") is not None:
            _time(raw, "expired_at", naive)  # validate; the spelling is kept as is
            ext[EXPIRED_EXT] = raw["expired_at"]
        name = _opt_str(raw, "name")
        subject = _opt_str(raw, "source_node_name") or _opt_str(raw, "source_node_uuid")
        obj = _opt_str(raw, "target_node_name") or _opt_str(raw, "target_node_uuid")
        triple = (
            Triple(subject=subject, predicate=name, object=obj)
            if (name and subject and obj)
            else None
        )
        consumed = _FACT_CORE | (_TRIPLE_KEYS if triple is not None else frozenset())
        for key, value in raw.items():
            if key not in consumed and value is not None and key != "id":
                ext[f"zep:{key}"] = value
        scope = self._scope(raw)
        mid = _opt_str(raw, "uuid") or _opt_str(raw, "id")
        if not mid:
            basis = [
                scope.user_id or "",
                scope.group_id or "",
                text,
                str(raw.get("valid_at") or raw.get("valid_from") or ""),
                str(raw.get("invalid_at") or raw.get("valid_to") or ""),
            ]
            mid = _derived("zep-fact-", basis)
        return MemoryItem(
            id=mid,
            type="triple" if triple is not None else "fact",
            scope=scope,
            text=text,
            triple=triple,
            created_at=times["created_at"],
            valid_from=times["valid_from"],
            valid_to=times["valid_to"],
            extensions=ext,
        )

    # -- helpers ---------------------------------------------------------------------------------

    def _scope(self, raw: dict[str, Any]) -> Scope:
        user = _first(raw, _USER_KEYS)
        graph = _first(raw, _GRAPH_KEYS)
        if user is None and graph is None:
            user, graph = self.opts.user_id, self.opts.graph_id
        return Scope(user_id=user, group_id=graph)

    def _unique(self, item: MemoryItem, raw: Any, loc: Location, path: str) -> MemoryItem | None:
        """The item with an id not seen before, or None (rejected as a duplicate)."""
        if item.id in self.memory_ids:
            if not item.id.startswith(("zep-fact-", "zep-episode-")):
                self.ctx.reject(raw, f"duplicate id {item.id!r}", loc.child(_join(path, "uuid")))
                return None
            # Identical id-less rows: number the repeats instead of refusing them.
            n = 2
            while f"{item.id}-{n}" in self.memory_ids:
                n += 1
            item = item.model_copy(update={"id": f"{item.id}-{n}"})
        self.memory_ids.add(item.id)
        return item


def _derived(prefix: str, basis: list[str]) -> str:
    """An id for a record that has none, from what the record says (stable across re-runs)."""
    return prefix + hashlib.sha256("\x1f".join(basis).encode("utf-8")).hexdigest()[:24]


def _join(path: str, field: str) -> str:
    if not field:
        return path
    if not path:
        return field
    if path.startswith("line ") and ":" not in path:  # JSON Lines: "line 3: messages[1].role"
        return f"{path}: {field}"
    return f"{path}.{field}"
