"""``envelope``: CortexDB experience envelopes (JSON Lines) and its importers' request bodies.

One envelope per line: ``{user_id?, modality, content{kind, ...}, context{observed_at, ...},
idempotency_key}`` (research §6.1/§6.2), ready for ``POST /v1/import/jsonl`` once wrapped in
``{scope_template, lines}`` (``-O request_body=jsonl`` does that), or the row bodies of the Mem0,
Zep, Letta and OpenAI importers. Each line also carries a ``memshift`` block with the canonical
fields the envelope has no slot for, so the file reads back into exactly what was written.
See docs/formats/envelope.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from memshift import Adapter, Context, Feature, Options, Sniff, hookimpl, jsonio
from memshift.adapter import NO
from memshift.errors import Location, ReadError
from memshift.model import AnyRecord, Conversation, MemoryItem, Message, Scope
from memshift.sinks import Sink
from memshift.sources import Source
from memshift.timeutil import parse_iso

from ._common import (
    CARRIER,
    MAX_KEY,
    MAX_SEGMENT,
    MAX_SEGMENTS,
    LineError,
    check_line,
    check_template,
    to_record,
)
from ._write import write_envelopes

_SUFFIXES = (".jsonl", ".ndjson", ".json")


class EnvelopeReadOptions(Options):
    pass


class EnvelopeWriteOptions(Options):
    scope_template: str | None = None
    """CortexDB scope path with placeholders filled from each line, e.g.
    ``org:acme/user:{user_id}``. Placeholders: user_id, agent_id, run_id, group_id,
    conversation_id, sender_id. A record lacking a field the template names is rejected."""
    resolve_scope: bool = False
    """Also write the resolved ``scope`` into every line (for ``POST /v1/experience``)."""
    request_body: Literal["none", "jsonl", "mem0", "zep", "letta", "openai"] = "none"
    """``none``: JSON Lines of envelopes. Otherwise the request bodies of
    ``POST /v1/import/<name>``: ``{scope_template, lines}`` (jsonl), ``{scope_template, rows}``
    (mem0, zep) or ``{scope, rows}`` (letta, openai)."""
    rows_per_request: int = Field(1000, ge=1)
    """Lines or rows per request body; more go to numbered sibling files."""
    observed_at: datetime | None = None
    """``context.observed_at`` for records without an observation time of their own (Letta
    blocks); RFC 3339 with a zone."""
    user_id: str | None = None
    """``user_id`` of every message line (default: the human of a personal conversation)."""
    key_namespace: str = ""
    """Mixed into every idempotency key: give each export a namespace when their ids are only
    unique within one file (Letta's ``agent-0``/``message-0``)."""
    provenance: bool = True
    """Write the ``memshift`` block (ids, senders, extensions... everything the envelope has no
    slot for), which makes the file read back losslessly."""

    @field_validator("scope_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value)

    @field_validator("observed_at", mode="before")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_iso(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("observed_at needs a timezone (e.g. 2026-01-01T00:00:00Z)")
        return value

    @model_validator(mode="after")
    def _needs_template(self) -> EnvelopeWriteOptions:
        if (self.request_body != "none" or self.resolve_scope) and not self.scope_template:
            what = (
                "resolve_scope"
                if self.request_body == "none"
                else f"request_body={self.request_body}"
            )
            raise ValueError(f"{what} needs scope_template (e.g. org:acme/user:{{user_id}})")
        return self


class EnvelopeAdapter(Adapter):
    name = "envelope"
    aliases = ("cortexdb", "cortexdb-jsonl", "experience")
    description = "CortexDB experience envelopes (JSON Lines) and importer request bodies"
    features = frozenset(Feature)
    namespace = "*"
    file_extensions = (".jsonl", ".ndjson", ".json")
    output_layout = "file"
    ordered_read = False
    needs_order = False
    limits = {
        "idempotency_key_chars": MAX_KEY,
        "scope_segments": MAX_SEGMENTS,
        "scope_segment_chars": MAX_SEGMENT,
    }
    ReadOptions = EnvelopeReadOptions
    WriteOptions = EnvelopeWriteOptions

    def sniff(self, source: Source) -> Sniff:
        if source.is_container:
            for member in source.members():
                if member.endswith(_SUFFIXES) and _envelope_head(source.head(4096, member)):
                    return Sniff(0.9, f"{member}: experience envelope lines")
            return NO
        head = source.head(65536)
        if _envelope_head(head):
            return Sniff(0.95, "JSON Lines of envelopes {modality, content.kind, context}")
        text = head.lstrip(b"\xef\xbb\xbf").lstrip()
        if text.startswith(b"{") and (b'"scope_template"' in text or b'"scope"' in text):
            if b'"lines"' in text:
                return Sniff(0.96, "CortexDB import body {scope_template, lines}")
            if b'"rows"' in text and any(
                k in text for k in (b'"block_label"', b'"memory"', b'"fact"', b'"content"')
            ):
                # scope_template/scope paths are CortexDB's own; the rows inside may look like
                # Mem0 or Letta records, the body around them does not.
                return Sniff(0.96, "CortexDB importer body {scope_template|scope, rows}")
        return NO

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        return _Reader(source, ctx).read()

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        write_envelopes(records, sink, options, ctx)

    def project(self, records: Iterable[AnyRecord]) -> list[AnyRecord]:
        """What the envelope keeps with default options: everything, except conversations with no
        message (an envelope is one experience), records with no time at all (``observed_at`` is
        required), and a conversation moves to just before its first message."""
        out: list[AnyRecord] = []
        pending: Conversation | None = None
        done: set[str] = set()
        for rec in records:
            if isinstance(rec, Conversation):
                pending = rec
                continue
            if isinstance(rec, Message):
                if rec.timestamp is None:
                    continue
                cid = rec.conversation_id
                if cid not in done:
                    done.add(cid)
                    if pending is not None and pending.id == cid:
                        out.append(pending)
                    else:
                        out.append(Conversation(id=cid, type="personal"))
                out.append(rec)
                continue
            if rec.observed_at or rec.created_at or rec.updated_at or rec.valid_from:
                out.append(rec)
        return out


def _envelope_head(head: bytes) -> bool:
    first = head.lstrip(b"\xef\xbb\xbf").lstrip().split(b"\n", 1)[0]
    if not first.startswith(b"{"):
        return False
    try:
        obj = jsonio.loads(first)
    except ValueError:
        return False
    return (
        isinstance(obj, dict)
        and "modality" in obj
        and isinstance(obj.get("content"), dict)
        and "kind" in obj["content"]
    )


class _Reader:
    def __init__(self, source: Source, ctx: Context) -> None:
        self.source = source
        self.ctx = ctx
        self.keys: set[int] = set()
        self.convs: set[str] = set()
        self.rows = 0

    def read(self) -> Iterator[AnyRecord]:
        src = self.source
        if src.kind == "objects":
            objs = src.objects if isinstance(src.objects, list) else [src.objects]
            loc = src.location()
            for i, obj in enumerate(objs):
                if isinstance(obj, dict) and ("lines" in obj or "rows" in obj):
                    yield from self._body_obj(obj, loc.child(f"[{i}]"))
                else:
                    yield from self._line(obj, loc, f"[{i}]")
            return
        if src.is_container:
            found = [m for m in src.members() if m.endswith(_SUFFIXES)]
            ordered: list[str] = sorted(found, key=_part_order)
            members: list[str | None] = [*ordered]
            if not members:
                raise ReadError("no .jsonl or .json documents here", src.location())
        else:
            members = [None]
        for member in members:
            yield from self._document(member)

    def _document(self, member: str | None) -> Iterator[AnyRecord]:
        src = self.source
        loc = src.location(member)
        head = src.head(65536, member)
        text = head.lstrip(b"\xef\xbb\xbf").lstrip()
        if not text:
            return  # JSON Lines with no line: no envelopes
        if not text.startswith(b"{"):
            raise ReadError("expected JSON Lines of envelope objects or an import body object", loc)
        first = text.split(b"\n", 1)[0]
        body = False
        try:
            obj = jsonio.loads(first)
            body = isinstance(obj, dict) and ("lines" in obj or "rows" in obj)
        except ValueError:
            body = b'"lines"' in text or b'"rows"' in text
        if body:
            with src.open(member) as fh:
                doc = jsonio.load(fh, loc) if src.kind == "stream" else None
            if doc is not None:
                yield from self._body_obj(doc, loc)
            else:
                yield from self._body_stream(member, loc)
            return
        with src.open(member) as fh:
            for lineno, raw in enumerate(jsonio.skip_bom(fh), start=1):
                if not raw.strip():
                    continue
                try:
                    line = jsonio.loads(raw)
                except ValueError as exc:
                    self.ctx.reject(
                        raw.decode("utf-8", "replace"),
                        f"invalid JSON: {exc}",
                        loc.child(f"line {lineno}"),
                    )
                    continue
                yield from self._line(line, loc, f"line {lineno}")

    # -- bodies -----------------------------------------------------------------------------------

    def _body_obj(self, doc: Any, loc: Location) -> Iterator[AnyRecord]:
        if not isinstance(doc, dict):
            raise ReadError("an import body must be a JSON object", loc)
        if "lines" in doc:
            if not isinstance(doc["lines"], list):
                raise ReadError("lines is not an array", loc.child("lines"))
            for i, item in enumerate(doc["lines"]):
                yield from self._body_line(item, loc, f"lines[{i}]")
        elif isinstance(doc.get("rows"), list):
            scope = doc.get("scope")
            for i, row in enumerate(doc["rows"]):
                yield from self._row(row, scope, loc, f"rows[{i}]")
        else:
            raise ReadError("import body has no lines or rows array", loc)

    def _body_stream(self, member: str | None, loc: Location) -> Iterator[AnyRecord]:
        src = self.source
        with src.open(member) as fh:
            head = fh.read(65536)
        key = "lines" if b'"lines"' in head else "rows"
        with src.open(member) as fh:
            for prefix, event, _value in jsonio.iter_events(fh, loc):
                if prefix == key:
                    if event != "start_array":
                        raise ReadError(f"{key} is not an array", loc.child(key))
                    break
        if key == "lines":
            with src.open(member) as fh:
                for i, item in enumerate(jsonio.iter_items(fh, "lines.item", loc)):
                    yield from self._body_line(item, loc, f"lines[{i}]")
            return
        scope = None
        with src.open(member) as fh:
            for value in jsonio.iter_items(fh, "scope", loc):
                scope = value
        with src.open(member) as fh:
            for i, row in enumerate(jsonio.iter_items(fh, "rows.item", loc)):
                yield from self._row(row, scope, loc, f"rows[{i}]")

    def _body_line(self, item: Any, loc: Location, path: str) -> Iterator[AnyRecord]:
        if isinstance(item, str):
            try:
                item = jsonio.loads(item)
            except ValueError as exc:
                self.ctx.reject(item, f"invalid JSON: {exc}", loc.child(path))
                return
        yield from self._line(item, loc, path)

    def _row(self, row: Any, scope: Any, loc: Location, path: str) -> Iterator[AnyRecord]:
        if not isinstance(row, dict):
            self.ctx.reject(row, "row is not an object", loc.child(path))
            return
        self.rows += 1
        fixed = _scope_ids(scope) if isinstance(scope, str) else {}
        try:
            if "block_label" in row:
                label = row["block_label"]
                limit = row.get("limit")
                if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
                    raise LineError("limit", "limit is not an integer")
                item = MemoryItem(
                    id=str(label),
                    type="block",
                    label=label,
                    text=row.get("value") or "",
                    limit=limit,
                    scope=Scope(**fixed),
                )
            elif "memory" in row:
                ts = row.get("timestamp")
                item = MemoryItem(
                    id=f"row-{self.rows}",
                    type="fact",
                    text=row["memory"],
                    scope=Scope(
                        user_id=row.get("user_id"),
                        **{k: v for k, v in fixed.items() if k != "user_id"},
                    ),
                    observed_at=_row_time(ts, "timestamp"),
                    metadata=row.get("metadata") or {},
                )
            elif "fact" in row:
                item = MemoryItem(
                    id=f"row-{self.rows}",
                    type="fact",
                    text=row["fact"],
                    scope=Scope(user_id=row.get("user_id")),
                    valid_from=_row_time(row.get("valid_from"), "valid_from"),
                    valid_to=_row_time(row.get("valid_to"), "valid_to"),
                )
            elif "content" in row and "id" in row:
                item = MemoryItem(
                    id=str(row["id"]),
                    type="fact",
                    text=row["content"],
                    scope=Scope(**fixed),
                    created_at=_row_time(row.get("created_at"), "created_at"),
                )
            else:
                raise LineError(
                    "", "row is none of the importer shapes (block_label, memory, fact, id+content)"
                )
        except LineError as exc:
            where = f"{path}.{exc.field}" if exc.field else path
            self.ctx.reject(row, str(exc), loc.child(where))
            return
        except ValidationError as exc:
            self.ctx.reject(row, exc, loc.child(path))
            return
        yield item

    # -- envelope lines ---------------------------------------------------------------------------

    def _line(self, obj: Any, loc: Location, path: str) -> Iterator[AnyRecord]:
        try:
            line = check_line(obj)
            record = to_record(line)
            conv: Conversation | None = None
            if isinstance(record, Message) and record.conversation_id not in self.convs:
                carrier = line.get(CARRIER) or {}
                data = carrier.get("conversation")
                if isinstance(data, dict):
                    conv = Conversation.model_validate({**data, "id": record.conversation_id})
                else:
                    conv = Conversation(id=record.conversation_id, type="personal")
        except LineError as exc:
            where = f"{path}.{exc.field}" if exc.field else path
            self.ctx.reject(obj, str(exc), loc.child(where))
            return
        except ValidationError as exc:
            self.ctx.reject(obj, exc, loc.child(path))
            return
        key = hash(line["idempotency_key"])
        if key in self.keys:
            self.ctx.reject(
                obj,
                f"duplicate idempotency_key {line['idempotency_key']!r}",
                loc.child(f"{path}.idempotency_key"),
            )
            return
        self.keys.add(key)
        if conv is not None:
            self.convs.add(conv.id)
            yield conv
        yield record


_PART = re.compile(r"^(.*)\.(\d{4})(\.[^./]+)$")


def _part_order(name: str) -> tuple[str, int]:
    """``import.json``, ``import.0002.json``, ... in the order they were written."""
    m = _PART.match(name)
    if m:
        return (m.group(1) + m.group(3), int(m.group(2)))
    return (name, 1)


def _row_time(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise LineError(field, f"{field} is not an RFC 3339 string")
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise LineError(field, str(exc)) from None


def _scope_ids(scope: str) -> dict[str, str]:
    """``org:acme/user:alice/agent:bot`` -> the canonical scope ids it names."""
    out: dict[str, str] = {}
    for seg in scope.split("/"):
        kind, _, ident = seg.partition(":")
        if kind in ("user", "agent") and ident:
            out[f"{kind}_id"] = ident
    return out


@hookimpl
def provide_adapters() -> list[type[Adapter]]:
    return [EnvelopeAdapter]
