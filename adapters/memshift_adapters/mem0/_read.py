"""Reading Mem0: memory records (``get_all``/``get``/``search`` items, platform and OSS, and
import rows) and ``add()`` payloads (what the writer produces for conversations)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from memshift import Context, jsondoc, timeutil
from memshift.errors import Location
from memshift.model import AnyRecord, Conversation, MemoryItem, Message, Scope
from memshift.sources import Source

from ._shared import (
    PAYLOAD_KEYS,
    RAW_CREATED,
    RAW_UPDATED,
    RECORD_KEYS,
    ROLES_IN,
    ROW_TIMESTAMP,
    SCOPE_KEYS,
    SOURCE_CONVERSATION,
    SOURCE_KEYS,
    SOURCE_MESSAGE_IDS,
    SOURCE_SENDER_IDS,
    SOURCE_TIMESTAMPS,
    epoch_seconds,
    mem0_time,
)

#: Keys under which Mem0 dumps wrap their records: ``get_all`` (``results``), the CortexDB
#: import body (``rows``) and hand-made exports (``memories``).
LIST_KEYS = ("results", "memories", "rows")


class _Bad(Exception):
    """One record cannot be converted; ``field`` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _str_id(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Bad(field, f"expected a string id, found {value!r}")
    if isinstance(value, int):
        return str(value)  # Mem0 itself coerces integer ids to str
    if not isinstance(value, str):
        raise _Bad(field, f"expected a string id, found {type(value).__name__}")
    return value


def _time(value: Any, field: str, naive_tz: str | None) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(field, f"expected an ISO 8601 string, found {value!r}")
    try:
        return timeutil.parse_iso(value, naive_tz=naive_tz)
    except (timeutil.TimestampError, OverflowError) as exc:
        hint = ""
        if "no timezone" in str(exc):
            hint = " (-O naive_timezone=US/Pacific for old Mem0 data)"
        raise _Bad(field, f"{exc}{hint}") from None


def _row_time(value: Any, naive_tz: str | None) -> datetime:
    """An import row's ``timestamp``: Unix seconds as Mem0's ``add(timestamp=)`` takes them, or
    an ISO 8601 string as CortexDB's importer documents it."""
    if isinstance(value, str) and not value.strip().lstrip("-").replace(".", "", 1).isdigit():
        when = _time(value, "timestamp", naive_tz)
        assert when is not None
        return when
    try:
        return timeutil.from_epoch_seconds(value)
    except (timeutil.TimestampError, OverflowError, ValueError) as exc:
        raise _Bad("timestamp", str(exc)) from None


class Mem0Reader:
    def __init__(self, source: Source, options: Any, ctx: Context) -> None:
        self.source = source
        self.opts = options
        self.ctx = ctx
        self.seen_memory_ids: set[str] = set()
        # The conversation whose add() payloads are being read, and its message ids so far.
        self.conv_id: str | None = None
        self.conv_msg_ids: set[str] = set()
        self.conv_seen: set[str] = set()
        self.counts: dict[str, int] = {}

    def records(self) -> Iterator[AnyRecord]:
        for value, loc, item in jsondoc.iter_json_objects(self.source, LIST_KEYS, self.ctx):
            if "messages" in value:
                yield from self._payload(value, item.path, loc)
            elif "memory" in value:
                rec = self._memory(value, item.path, loc)
                if rec is not None:
                    yield rec
            else:
                self.ctx.reject(
                    value,
                    "neither a Mem0 memory (no 'memory' field) nor an add() payload "
                    "(no 'messages' field)",
                    loc,
                )

    # -- memory records ------------------------------------------------------------------------

    def _memory(self, raw: dict[str, Any], path: str, loc: Location) -> MemoryItem | None:
        try:
            item = self._convert_memory(raw)
        except _Bad as exc:
            self.ctx.reject(raw, str(exc), loc.child(_join(path, exc.field)))
            return None
        except ValueError as exc:  # pydantic
            self.ctx.reject(raw, exc, loc)
            return None
        if item.id in self.seen_memory_ids:
            self.ctx.reject(raw, f"duplicate memory id {item.id!r}", loc.child(_join(path, "id")))
            return None
        self.seen_memory_ids.add(item.id)
        return item

    def _convert_memory(self, raw: dict[str, Any]) -> MemoryItem:
        naive = self.opts.naive_timezone
        text = raw.get("memory")
        if not isinstance(text, str):
            raise _Bad("memory", f"expected a string, found {jsondoc.kind_of(text)}")
        scope = {k: _str_id(raw.get(k), k) for k in SCOPE_KEYS}
        ext: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in RECORD_KEYS and value is not None:
                ext[f"mem0:{key}"] = value
        if scope["run_id"] is None and raw.get("session_id") is not None:
            # Platform get_all spells the run id "session_id" (search says "run_id").
            scope["run_id"] = _str_id(raw["session_id"], "session_id")
        created = _time(raw.get("created_at"), "created_at", naive)
        updated = _time(raw.get("updated_at"), "updated_at", naive)
        if created is not None and raw["created_at"] != mem0_time(created):
            ext[RAW_CREATED] = raw["created_at"]
        if updated is not None and raw["updated_at"] != mem0_time(updated):
            ext[RAW_UPDATED] = raw["updated_at"]
        stamp = raw.get("timestamp")
        if stamp is not None:
            when = _row_time(stamp, naive)
            if created is None:
                created = when
            elif not (isinstance(stamp, int) and stamp == epoch_seconds(created)):
                ext[ROW_TIMESTAMP] = stamp
        categories = raw.get("categories")
        cats: tuple[str, ...] = ()
        if categories is not None:
            if not isinstance(categories, list):
                raise _Bad("categories", "expected a list of strings")
            for i, c in enumerate(categories):
                if not isinstance(c, str):
                    raise _Bad(f"categories[{i}]", f"expected a string, found {c!r}")
            cats = tuple(categories)
        metadata = raw.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise _Bad("metadata", f"expected an object, found {jsondoc.kind_of(metadata)}")
        mid = _str_id(raw.get("id"), "id")
        if mid is None or mid == "":
            mid = self._derived_memory_id(raw, scope)
        return MemoryItem(
            id=mid,
            type="fact",
            scope=Scope(**scope),
            text=text,
            created_at=created,
            updated_at=updated,
            categories=cats,
            metadata=metadata or {},
            extensions=ext,
        )

    def _derived_memory_id(self, raw: dict[str, Any], scope: dict[str, str | None]) -> str:
        """Import rows (``{user_id, memory, timestamp, metadata}``) have no id: derive one from
        what the row says, so a re-run gives the same id and a new row does not shift others."""
        basis = "\x1f".join(
            [
                scope["user_id"] or "",
                scope["agent_id"] or "",
                scope["run_id"] or "",
                raw["memory"],
                str(raw.get("timestamp") or raw.get("created_at") or ""),
            ]
        )
        base = "mem0-" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:24]
        mid, n = base, 1
        while mid in self.seen_memory_ids:
            n += 1
            mid = f"{base}-{n}"
        return mid

    # -- add() payloads ------------------------------------------------------------------------

    def _payload(self, raw: dict[str, Any], path: str, loc: Location) -> Iterator[AnyRecord]:
        messages = raw.get("messages")
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]  # Mem0 accepts a bare string
        elif isinstance(messages, dict):
            messages = [messages]
        if not isinstance(messages, list):
            self.ctx.reject(raw, "expected a list of messages", loc.child(_join(path, "messages")))
            return
        try:
            scope = {k: _str_id(raw.get(k), k) for k in SCOPE_KEYS}
            meta = raw.get("metadata") or {}
            if not isinstance(meta, dict):
                raise _Bad("metadata", f"expected an object, found {jsondoc.kind_of(meta)}")
        except _Bad as exc:
            self.ctx.reject(raw, str(exc), loc.child(_join(path, exc.field)))
            return
        n = len(messages)
        ids = _list_of(meta.get(SOURCE_MESSAGE_IDS), n)
        times = _list_of(meta.get(SOURCE_TIMESTAMPS), n)
        senders = _list_of(meta.get(SOURCE_SENDER_IDS), n)
        conv_id = meta.get(SOURCE_CONVERSATION)
        if not isinstance(conv_id, str) or not conv_id:
            conv_id = scope["run_id"] or "/".join(
                f"{k.split('_')[0]}:{v}" for k, v in scope.items() if v
            )
        if not conv_id:
            self.ctx.reject(
                raw, "add() payload without user_id, agent_id or run_id", loc.child(path or "")
            )
            return
        stamp = raw.get("timestamp")
        if stamp is not None and (isinstance(stamp, bool) or not isinstance(stamp, int)):
            stamp = None
        if conv_id != self.conv_id:
            self.conv_id, self.conv_msg_ids = conv_id, set()
            if conv_id not in self.conv_seen:  # each conversation once, at first sight
                self.conv_seen.add(conv_id)
                yield self._conversation(conv_id, raw, scope, meta)
        for i, msg in enumerate(messages):
            mpath = _join(path, f"messages[{i}]")
            self.counts[conv_id] = n_msg = self.counts.get(conv_id, 0) + 1
            try:
                rec = self._message(msg, i, conv_id, n_msg, ids, times, senders, stamp)
            except _Bad as exc:
                self.ctx.reject(msg, str(exc), loc.child(_join(mpath, exc.field)))
                continue
            except ValueError as exc:
                self.ctx.reject(msg, exc, loc.child(mpath))
                continue
            if rec.id in self.conv_msg_ids:
                self.ctx.reject(msg, f"duplicate message id {rec.id!r}", loc.child(mpath))
                continue
            self.conv_msg_ids.add(rec.id)
            yield rec

    def _conversation(
        self, conv_id: str, raw: dict[str, Any], scope: dict[str, str | None], meta: dict[str, Any]
    ) -> Conversation:
        ext: dict[str, Any] = {f"mem0:{k}": v for k, v in scope.items() if v is not None}
        user_meta = {k: v for k, v in meta.items() if k not in SOURCE_KEYS}
        if user_meta:
            ext["mem0:metadata"] = user_meta
        for key, value in raw.items():
            if key not in PAYLOAD_KEYS and value is not None:
                ext[f"mem0:{key}"] = value
        return Conversation(id=conv_id, type="personal", extensions=ext)

    def _message(
        self,
        msg: Any,
        i: int,
        conv_id: str,
        n_msg: int,
        ids: list[Any] | None,
        times: list[Any] | None,
        senders: list[Any] | None,
        stamp: int | None,
    ) -> Message:
        if not isinstance(msg, dict):
            raise _Bad("", f"expected a message object, found {jsondoc.kind_of(msg)}")
        role = msg.get("role")
        if not isinstance(role, str):
            raise _Bad("role", "missing role")
        canonical_role = ROLES_IN.get(role)
        if canonical_role is None:
            raise _Bad("role", f"unknown role {role!r} (Mem0 roles: user, assistant, system)")
        content = msg.get("content")
        if not isinstance(content, str):
            raise _Bad("content", "expected text content (images and other parts are not read)")
        name = msg.get("name")
        if name is not None and not isinstance(name, str):
            raise _Bad("name", f"expected a string, found {name!r}")
        mid = ids[i] if ids is not None and isinstance(ids[i], str) and ids[i] else None
        if mid is None:
            mid = f"{conv_id}:{n_msg}"
        sender = senders[i] if senders is not None and isinstance(senders[i], str) else None
        ts: datetime | None = None
        raw_ts = times[i] if times is not None else None
        if raw_ts is not None:
            ts = _time(raw_ts, f"metadata.{SOURCE_TIMESTAMPS}[{i}]", self.opts.naive_timezone)
        ext: dict[str, Any] = {}
        if ts is None and stamp is not None:
            ext[ROW_TIMESTAMP] = stamp
        return Message(
            id=mid,
            conversation_id=conv_id,
            role=canonical_role,
            sender_id=sender,
            sender_name=name,
            timestamp=ts,
            timestamp_raw=raw_ts if ts is not None else None,
            text=content,
            extensions=ext,
        )


def _list_of(value: Any, n: int) -> list[Any] | None:
    """A provenance list that lines up with the payload's messages, else None (ignored)."""
    if isinstance(value, list) and len(value) == n:
        return value
    return None


def _join(path: str, field: str) -> str:
    if not field:
        return path
    if not path:
        return field
    if path.startswith("line ") and ":" not in path:  # JSON Lines: "line 3: messages[1].role"
        return f"{path}: {field}"
    return f"{path}.{field}"
