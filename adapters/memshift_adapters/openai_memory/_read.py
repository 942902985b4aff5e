"""Reading saved-memory rows (JSON, JSON Lines, import bodies) and pasted memory lists."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import IO, Any

from memshift import jsonio
from memshift.context import Context
from memshift.errors import Location, ReadError
from memshift.model import AnyRecord, MemoryItem, Scope
from memshift.sources import Source
from memshift.timeutil import TimestampError, format_iso

from ._rows import NS, ROW_FIELDS, parse_time
from ._text import date_to_datetime, memory_id, parse_memory_list

DUPLICATE = "duplicate memories (-O dedupe=false)"
WRAPPER = re.compile(rb'^(?:\xef\xbb\xbf)?\s*\{\s*"(rows|memories)"\s*:\s*\[')
TEXT_SUFFIXES = (".txt", ".md", ".text")
_SCOPE_SEGMENT = re.compile(r"(?:^|/)(user|agent|run|group):([^/]+)")


class MemoryReader:
    def __init__(self, source: Source, options: Any, ctx: Context) -> None:
        self.source = source
        self.opts = options
        self.ctx = ctx
        self.seen: dict[str, str] = {}
        self.repeats: dict[str, int] = {}
        self.scope = Scope(user_id=options.user_id)

    def records(self) -> Iterator[AnyRecord]:
        src = self.source
        if src.kind == "objects":
            objs = src.objects if isinstance(src.objects, (list, tuple)) else [src.objects]
            for i, obj in enumerate(objs):
                rec = self._row(obj, src.location(path=f"[{i}]"))
                if rec is not None:
                    yield rec
            return
        members: list[str | None]
        if src.is_container:
            members = [m for m in src.members() if m.endswith((".json", ".jsonl", *TEXT_SUFFIXES))]
        else:
            members = [None]
        for member in members:
            yield from self._document(member)

    def _document(self, member: str | None) -> Iterator[MemoryItem]:
        src = self.source
        loc = src.location(member)
        head = src.head(member=member)
        name = (member or (src.path.name if src.path is not None else src.label)).lower()
        if b'"mapping"' in head and b'"children"' in head:
            raise ReadError(
                "this is a ChatGPT conversation export; read its memories with "
                "-f openai -O memories=true",
                loc,
            )
        if not head.lstrip(b"\xef\xbb\xbf").strip():
            raise ReadError("the file is empty", loc)
        with src.open(member) as fh:
            if name.endswith(TEXT_SUFFIXES) or jsonio.top_level_type(head) is None:
                yield from self._text(fh, loc)
            elif name.endswith((".jsonl", ".ndjson")) or self._looks_like_jsonl(head):
                yield from self._lines(fh, loc)
            else:
                yield from self._json(fh, head, loc)

    @staticmethod
    def _looks_like_jsonl(head: bytes) -> bool:
        """A ``{`` document is JSON Lines when its first line is a whole row and more lines
        follow (or the one line is itself a row); otherwise it is one JSON object."""
        stripped = head.lstrip(b"\xef\xbb\xbf").lstrip()
        if not stripped.startswith(b"{") or WRAPPER.match(stripped):
            return False
        first, _, rest = stripped.partition(b"\n")
        try:
            obj = jsonio.loads(first)
        except ValueError:
            return False
        if not isinstance(obj, dict) or "rows" in obj or "memories" in obj:
            return False
        return rest.lstrip().startswith(b"{") or "content" in obj

    def _json(self, fh: IO[bytes], head: bytes, loc: Location) -> Iterator[MemoryItem]:
        kind = jsonio.top_level_type(head)
        wrapper = WRAPPER.match(head.lstrip(b"\xef\xbb\xbf").lstrip())
        if kind == "array" or wrapper:
            key = wrapper.group(1).decode() if wrapper else None
            prefix = f"{key}.item" if key else "item"
            for i, obj in enumerate(jsonio.iter_items(fh, prefix, loc)):
                rec = self._row(obj, loc.child(f"{key}[{i}]" if key else f"[{i}]"))
                if rec is not None:
                    yield rec
            return
        for doc in jsonio.iter_items(fh, "", loc):
            rows_key = next((k for k in ("rows", "memories") if isinstance(doc.get(k), list)), None)
            if rows_key is None:
                raise ReadError(
                    "expected a JSON array of memory rows or an object with 'rows'", loc
                )
            scope = doc.get("scope")
            if isinstance(scope, str):
                self.scope = _scope_from_path(scope, self.opts.user_id)
            for i, obj in enumerate(doc[rows_key]):
                rec = self._row(obj, loc.child(f"{rows_key}[{i}]"))
                if rec is not None:
                    yield rec

    def _lines(self, fh: IO[bytes], loc: Location) -> Iterator[MemoryItem]:
        for lineno, line in enumerate(jsonio.skip_bom(fh), start=1):
            if not line.strip():
                continue
            where = loc.child(f"line {lineno}")
            try:
                obj = jsonio.loads(line)
            except ValueError as exc:
                self.ctx.reject(line.decode("utf-8", "replace"), f"invalid JSON: {exc}", where)
                continue
            rec = self._row(obj, where)
            if rec is not None:
                yield rec

    def _text(self, fh: IO[bytes], loc: Location) -> Iterator[MemoryItem]:
        data = jsonio.skip_bom(fh).read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReadError(f"not valid UTF-8 at byte {exc.start}", loc) from None
        for i, (date, body) in enumerate(parse_memory_list(text), start=1):
            ext: dict[str, Any] = {NS + "synthetic_id": True}
            if date:
                ext[NS + "date"] = date
            mem_id = self._derived_id(body, loc.child(f"entry {i}"))
            if mem_id is None:
                continue
            yield MemoryItem(
                id=mem_id,
                type="fact",
                scope=self.scope,
                text=body,
                created_at=date_to_datetime(date),
                extensions=ext,
            )

    def _derived_id(self, text: str, where: Location) -> str | None:
        base = memory_id(text)
        n = self.repeats.get(base, 0) + 1
        self.repeats[base] = n
        if n == 1:
            self.seen[base] = str(where)
            return base
        if self.opts.dedupe:
            self.ctx.skip(DUPLICATE)
            return None
        return f"{base}-{n}"

    def _row(self, obj: Any, where: Location) -> MemoryItem | None:
        ctx = self.ctx
        if not isinstance(obj, Mapping):
            ctx.reject(obj, f"expected a memory row object, got {type(obj).__name__}", where)
            return None
        content = obj.get("content")
        if not isinstance(content, str):
            problem = (
                "missing" if content is None else f"expected a string, got {type(content).__name__}"
            )
            ctx.reject(obj, problem, _at(where, "content"))
            return None
        ext: dict[str, Any] = {NS + k: v for k, v in obj.items() if k not in ROW_FIELDS}
        rid = obj.get("id")
        if rid is None:
            ext[NS + "synthetic_id"] = True
            derived = self._derived_id(content, where)
            if derived is None:
                return None
            rid = derived
        else:
            if isinstance(rid, int) and not isinstance(rid, bool):
                ext[NS + "numeric_id"] = True
                rid = str(rid)
            if not isinstance(rid, str) or not rid:
                ctx.reject(obj, "expected a non-empty string id", _at(where, "id"))
                return None
            first = self.seen.get(rid)
            if first is not None:
                ctx.reject(obj, f"duplicate id {rid!r} (first at {first})", _at(where, "id"))
                return None
            self.seen[rid] = str(where)
        times: dict[str, datetime | None] = {}
        for field in ("created_at", "updated_at"):
            raw = obj.get(field)
            if raw is None:
                times[field] = None
                continue
            try:
                value = parse_time(raw, self.opts.naive_timezone)
            except (TimestampError, ValueError, OverflowError) as exc:
                ctx.reject(obj, str(exc), _at(where, field))
                return None
            times[field] = value
            if not (isinstance(raw, str) and raw == format_iso(value)):
                ext[NS + field + "_raw"] = raw
        return MemoryItem(
            id=rid,
            type="fact",
            scope=self.scope,
            text=content,
            created_at=times["created_at"],
            updated_at=times["updated_at"],
            extensions=ext,
        )


def _at(where: Location, field: str) -> Location:
    """``[3].created_at`` for array rows, ``line 3: created_at`` for JSON Lines."""
    path = where.path or ""
    if path.startswith("line "):
        return where.child(f"{path}: {field}")
    return where.child(f"{path}.{field}" if path else field)


def _scope_from_path(path: str, default_user: str) -> Scope:
    """A CortexDB scope path (``org:acme/user:alice``) as a memshift scope."""
    found = dict(_SCOPE_SEGMENT.findall(path))
    user = found.get("user")
    return Scope(
        user_id=user or (None if found else default_user),
        agent_id=found.get("agent"),
        run_id=found.get("run"),
        group_id=found.get("group"),
    )
