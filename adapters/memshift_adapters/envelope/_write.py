"""Writing experience envelopes (JSON Lines) or the request bodies of CortexDB's importers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import IO, Any

from memshift import Context, jsonio, timeutil
from memshift.errors import Location, WriteError
from memshift.model import AnyRecord, Conversation, MemoryItem, Message
from memshift.sinks import Sink
from memshift.timeutil import format_iso

from ._common import CARRIER, LineError, carrier_for, idempotency_key, resolve_scope

_BODY_NAMES = {
    "none": "envelopes.jsonl",
    "jsonl": "import-jsonl.json",
    "mem0": "import-mem0.json",
    "zep": "import-zep.json",
    "letta": "import-letta.json",
    "openai": "import-openai.json",
}


def conversation_user(conv: Conversation | None) -> str | None:
    """The human of a personal conversation: the first participant with role ``user``, else the
    first one that is not a bot. Group conversations have no single user."""
    if conv is None or conv.type != "personal":
        return None
    for p in conv.participants:
        if p.role == "user":
            return p.id
    for p in conv.participants:
        if not p.is_bot and p.role != "assistant":
            return p.id
    return None


def conversation_agent(conv: Conversation | None) -> str | None:
    """The assistant of a personal conversation: the first bot or assistant participant."""
    if conv is None or conv.type != "personal":
        return None
    for p in conv.participants:
        if p.is_bot or p.role == "assistant":
            return p.id
    return None


class _Body:
    """One request body being written: ``{<head>, "<list key>": [ ... ]}``, split every
    ``rows_per_request`` items and whenever the fixed scope changes."""

    def __init__(self, sink: Sink, name: str, per: int, list_key: str) -> None:
        self.sink = sink
        self.name = name
        self.per = per
        self.list_key = list_key
        self.part = 0
        self.count = 0
        self.head: dict[str, Any] | None = None
        self._cm: AbstractContextManager[IO[bytes]] | None = None
        self._fh: IO[bytes] | None = None

    def add(self, head: dict[str, Any], item: bytes) -> None:
        if self._fh is None or head != self.head or self.count >= self.per:
            self.close()
            self.part += 1
            self._cm = self.sink.document(self.name, part=self.part)
            self._fh = self._cm.__enter__()
            self._fh.write(jsonio.dumps(head)[:-1])
            self._fh.write(b',"' + self.list_key.encode() + b'":[')
            self.head = head
            self.count = 0
        assert self._fh is not None
        if self.count:
            self._fh.write(b",")
        self._fh.write(item)
        self.count += 1

    def close(self) -> None:
        if self._fh is not None and self._cm is not None:
            self._fh.write(b"]}")
            self._cm.__exit__(None, None, None)
        self._fh = None
        self._cm = None


class EnvelopeWriter:
    def __init__(self, sink: Sink, options: Any, ctx: Context) -> None:
        self.sink = sink
        self.opts = options
        self.ctx = ctx
        self.mode = options.request_body
        self.conv: Conversation | None = None
        self.conv_written = True
        self.conv_user: str | None = None
        self.conv_agent: str | None = None
        self.conv_messages = 0
        self.sources: Counter[str] = Counter()
        self.body: _Body | None = None
        self.fh: IO[bytes] | None = None
        self._cm: AbstractContextManager[IO[bytes]] | None = None
        self.dropped = 0

    # -- per record -------------------------------------------------------------------------------

    def write(self, records: Iterable[AnyRecord]) -> None:
        if self.mode == "none":
            self._cm = self.sink.document(_BODY_NAMES["none"])
            self.fh = self._cm.__enter__()
        elif self.mode == "jsonl":
            self.body = _Body(self.sink, _BODY_NAMES["jsonl"], self.opts.rows_per_request, "lines")
        else:
            self.body = _Body(self.sink, _BODY_NAMES[self.mode], self.opts.rows_per_request, "rows")
        try:
            for record in records:
                if isinstance(record, Conversation):
                    self._end_conversation()
                    self.conv, self.conv_written, self.conv_messages = record, False, 0
                    self.conv_user = self.opts.user_id or conversation_user(record)
                    self.conv_agent = conversation_agent(record)
                elif isinstance(record, Message):
                    self._message(record)
                else:
                    self._memory(record)
            self._end_conversation()
        finally:
            if self.body is not None:
                self.body.close()
            if self._cm is not None:
                self._cm.__exit__(None, None, None)
        if self.dropped:
            self.ctx.write_dropped += self.dropped
        if self.sources:
            self.ctx.note("observed_at_source", dict(sorted(self.sources.items())))

    def _end_conversation(self) -> None:
        if self.conv is not None and not self.conv_messages:
            self.ctx.loss(
                "empty conversation",
                "an envelope is one experience; a conversation without messages has none",
                example=self.conv.id,
            )
        self.conv = None

    def _reject(self, record: AnyRecord, reason: str) -> None:
        self.ctx.reject(
            record.model_dump(mode="json"),
            reason,
            Location(path=f"{record.kind} {record.id}"),
            error=WriteError,
        )

    def _untimed(self) -> None:
        # An envelope requires context.observed_at and memshift never invents one from the
        # clock: without a time of its own the record waits for the user's explicit option.
        self.dropped += 1
        self.ctx.filtered("records with no time (-O observed_at=2026-01-01T00:00:00Z)")

    def _observed(self, record: Message | MemoryItem) -> tuple[datetime | None, str]:
        """The envelope's required ``context.observed_at`` and where it came from: an explicit
        ``-O observed_at``, then the record's own times (a Letta file's export time arrives as
        ``observed_at``), then the input file's modification time. Never the clock. A message's
        own timestamp is its observation, so the option only fills messages that have none."""
        if isinstance(record, Message):
            if record.timestamp is not None:
                return record.timestamp, "message timestamp"
            if self.opts.observed_at is not None:
                return self.opts.observed_at, "option observed_at"
            return self._mtime()
        if self.opts.observed_at is not None:
            return self.opts.observed_at, "option observed_at"
        for name in ("observed_at", "created_at", "updated_at", "valid_from"):
            value = getattr(record, name)
            if value is not None:
                return value, name
        return self._mtime()

    def _mtime(self) -> tuple[datetime | None, str]:
        mtime = self.ctx.source_mtime
        if mtime is None:
            return None, ""
        return timeutil.from_epoch_seconds(int(mtime)), "input file modification time"

    def _message(self, msg: Message) -> None:
        if self.mode not in ("none", "jsonl"):
            self.dropped += 1
            self.ctx.filtered(
                f"messages (request_body={self.mode} holds memories; -O request_body=jsonl)"
            )
            return
        observed, source = self._observed(msg)
        if observed is None:
            self._untimed()
            return
        conv = self.conv if self.conv is not None and self.conv.id == msg.conversation_id else None
        line: dict[str, Any] = {}
        user = self.conv_user if conv is not None else self.opts.user_id
        if user:
            line["user_id"] = user
        if conv is not None and self.conv_agent:
            line["agent_id"] = self.conv_agent
        line["conversation_id"] = msg.conversation_id
        if msg.sender_id:
            line["sender_id"] = msg.sender_id
        if msg.type == "event":
            line["modality"] = "observation"
            line["content"] = {"kind": "text", "text": msg.text}
        else:
            line["modality"] = "tool_result" if msg.type == "tool_result" else "conversation"
            line["content"] = {"kind": "message", "role": msg.role, "text": msg.text}
        line["context"] = {"observed_at": format_iso(observed)}
        fmt = conv.provenance.format if conv is not None and conv.provenance else "memshift"
        line["idempotency_key"] = idempotency_key(
            (self.opts.key_namespace, fmt, "message", msg.conversation_id, msg.id), "msg"
        )
        if not self._emit(msg, line, conv):
            return
        self.sources[source] += 1
        self.conv_messages += 1

    def _memory(self, item: MemoryItem) -> None:
        observed, source = self._observed(item)
        if observed is None:
            self._untimed()
            return
        if self.mode in ("mem0", "zep", "letta", "openai"):
            if self._row(item, observed):
                self.sources[source] += 1
            return
        scope = item.scope
        line: dict[str, Any] = {}
        for field in ("user_id", "agent_id", "run_id", "group_id"):
            value = getattr(scope, field)
            if value:
                line[field] = value
        if item.type in ("block", "document"):
            line["modality"] = "document"
        else:
            line["modality"] = "imported"
        if item.triple is not None:
            content: dict[str, Any] = {"kind": "triple", "triple": item.triple.model_dump()}
            if item.text:
                content["text"] = item.text
        else:
            content = {"kind": "text", "text": item.text}
        line["content"] = content
        context: dict[str, Any] = {"observed_at": format_iso(observed)}
        if item.created_at is not None:
            context["source_recorded_at"] = format_iso(item.created_at)
        if item.valid_from is not None:
            context["valid_from"] = format_iso(item.valid_from)
        if item.valid_to is not None:
            context["valid_to"] = format_iso(item.valid_to)
        if item.label:
            context["intent"] = item.label
        labels = list(dict.fromkeys([*item.categories, *item.labels]))
        if labels:
            context["labels"] = labels
        line["context"] = context
        fmt = item.provenance.format if item.provenance else "memshift"
        line["idempotency_key"] = idempotency_key(
            (self.opts.key_namespace, fmt, "memory", item.id), "mem"
        )
        if self._emit(item, line, None):
            self.sources[source] += 1

    def _emit(self, record: AnyRecord, line: dict[str, Any], conv: Conversation | None) -> bool:
        template = self.opts.scope_template
        scope = None
        if template:
            try:
                scope = resolve_scope(template, line)
            except LineError as exc:
                self._reject(record, str(exc))
                return False
        out = line
        if scope is not None and self.opts.resolve_scope:
            out = {"scope": scope, **line}
        if self.opts.provenance:
            carrier = carrier_for(record, line)
            if conv is not None and not self.conv_written:
                carrier["conversation"] = conv.model_dump(
                    mode="json", exclude_defaults=True, exclude={"id", "kind"}
                )
                self.conv_written = True
            if carrier:
                out = {**out, CARRIER: carrier}
        elif conv is not None:
            self.ctx.loss(
                "canonical fields",
                "-O provenance=false: ids, senders, extensions "
                "and fields without an envelope slot are not written",
            )
        if self.mode == "none":
            assert self.fh is not None
            self.fh.write(jsonio.dumps_line(out))
        else:
            assert self.body is not None
            self.body.add(
                {"scope_template": template}, jsonio.dumps(jsonio.dumps(out).decode("utf-8"))
            )
        return True

    # -- importer rows ----------------------------------------------------------------------------

    def _row(self, item: MemoryItem, observed: datetime) -> bool:
        assert self.body is not None
        template = self.opts.scope_template or ""
        fields = {
            "user_id": item.scope.user_id,
            "agent_id": item.scope.agent_id,
            "run_id": item.scope.run_id,
            "group_id": item.scope.group_id,
        }
        try:
            scope = resolve_scope(template, fields)
        except LineError as exc:
            self._reject(item, str(exc))
            return False
        self.ctx.loss(
            "id and extensions", f"request_body={self.mode} rows carry the importer's fields only"
        )
        row: dict[str, Any]
        if self.mode == "mem0":
            metadata = dict(item.metadata)
            if item.categories and "categories" not in metadata:
                metadata["categories"] = list(item.categories)
            row = {
                "user_id": item.scope.user_id,
                "memory": item.text,
                "timestamp": format_iso(observed),
                "metadata": metadata,
            }
            head = {"scope_template": template}
        elif self.mode == "zep":
            row = {
                "user_id": item.scope.user_id,
                "fact": item.text
                or (" ".join(item.triple.model_dump().values()) if item.triple else ""),
                "valid_from": format_iso(item.valid_from) if item.valid_from else None,
                "valid_to": format_iso(item.valid_to) if item.valid_to else None,
            }
            head = {"scope_template": template}
        elif self.mode == "letta":
            row = {"block_label": item.label or item.id, "value": item.text, "limit": item.limit}
            head = {"scope": scope}
        else:
            row = {
                "id": item.id,
                "content": item.text,
                "created_at": format_iso(item.created_at or observed),
            }
            head = {"scope": scope}
        self.body.add(head, jsonio.dumps(row))
        return True


def write_envelopes(records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
    EnvelopeWriter(sink, options, ctx).write(records)
