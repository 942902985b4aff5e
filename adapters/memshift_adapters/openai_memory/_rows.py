"""Memory rows ``{id, content, created_at}``: the parts the reader, writer and projection share,
and the writer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any

from memshift import jsonio
from memshift.context import Context
from memshift.errors import Location, WriteError
from memshift.model import AnyRecord, MemoryItem
from memshift.timeutil import (
    TimestampError,
    format_iso,
    from_epoch_ms,
    from_epoch_seconds,
    parse_iso,
)

NS = "openai_memory:"
ROW_FIELDS = frozenset({"id", "content", "created_at", "updated_at"})
#: Extension names this adapter derives (never written back as row keys).
DERIVED = frozenset({"synthetic_id", "numeric_id", "date", "created_at_raw", "updated_at_raw"})


def row_text(m: MemoryItem) -> str:
    if m.text:
        return m.text
    if m.triple is not None:
        return f"{m.triple.subject} {m.triple.predicate} {m.triple.object}"
    return ""


def parse_time(value: Any, naive_tz: str | None) -> datetime:
    if isinstance(value, str):
        return parse_iso(value, naive_tz=naive_tz)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Seconds, or milliseconds for values past the year 5000 in seconds.
        return from_epoch_ms(value) if abs(value) >= 1e11 else from_epoch_seconds(value)
    raise TimestampError(f"not a timestamp: {value!r}")


def raw_denotes(raw: Any, value: datetime) -> bool:
    """True when the writer may emit ``raw`` for ``value`` (the reader would read it back
    unchanged)."""
    try:
        return parse_time(raw, None) == value
    except (TimestampError, ValueError, OverflowError):
        return False


def time_text(value: datetime, raw: Any) -> Any:
    return raw if raw is not None and raw_denotes(raw, value) else format_iso(value)


def _row(m: MemoryItem) -> dict[str, Any]:
    ext = m.extensions
    row: dict[str, Any] = {
        "id": int(m.id) if ext.get(NS + "numeric_id") is True and m.id.isdigit() else m.id,
        "content": row_text(m),
    }
    for field in ("created_at", "updated_at"):
        value = getattr(m, field)
        if value is not None:
            row[field] = time_text(value, ext.get(NS + field + "_raw"))
    for key, value in ext.items():
        if key.startswith(NS):
            short = key[len(NS) :]
            if short not in DERIVED and short not in ROW_FIELDS:
                row[short] = value
    return row


def write_rows(records: Iterable[AnyRecord], fh: IO[bytes], options: Any, ctx: Context) -> None:
    seen: set[str] = set()
    layout = options.layout
    n = 0
    if layout == "json":
        fh.write(b"[")
    for record in records:
        if not isinstance(record, MemoryItem):
            continue
        if record.id in seen:
            ctx.reject(
                record.model_dump(mode="json"),
                f"duplicate memory id {record.id!r}",
                Location(path=f"memory {record.id}"),
                error=WriteError,
            )
            continue
        seen.add(record.id)
        if record.triple is not None and not record.text:
            ctx.loss("triple", "written as 'subject predicate object' text", example=record.id)
        n += 1
        if layout == "json":
            fh.write((b"," if n > 1 else b"") + jsonio.dumps(_row(record)))
        elif layout == "jsonl":
            fh.write(jsonio.dumps_line(_row(record)))
        else:
            fh.write(_text_entry(n, record).encode("utf-8"))
    if layout == "json":
        fh.write(b"]\n")


def _text_entry(n: int, m: MemoryItem) -> str:
    date = f"[{m.created_at.date().isoformat()}]. " if m.created_at is not None else ""
    text = row_text(m).replace("\r\n", "\n").strip()
    return f"{n}. {date}{text}\n\n"
