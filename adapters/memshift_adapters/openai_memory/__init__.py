"""``openai_memory``: ChatGPT saved memories as rows ``{id, content, created_at}``, both directions.

ChatGPT has no structured memory export: the rows are the shape memory importers take
(CortexDB's ``/v1/import/openai``), and a list copied out of Settings (``1. [2024-09-29]. ...``) is
read too. Memories inside a ChatGPT data export are read by the ``openai`` format
(``-O memories=true``), which walks the conversations once for messages and memories together.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

import ijson

from memshift import Adapter, Context, Feature, Options, Sniff, hookimpl, jsonio
from memshift.model import AnyRecord, MemoryItem, Scope
from memshift.sinks import Sink
from memshift.sources import Source

from ._read import TEXT_SUFFIXES, WRAPPER, MemoryReader
from ._rows import DERIVED, NS, ROW_FIELDS, raw_denotes, row_text, write_rows

__all__ = ["OpenAIMemoryAdapter"]


_DATED_LINE = re.compile(rb"^\s*(?:\d{1,4}[.)]\s+)?\[\d{4}-\d{2}-\d{2}\]", re.MULTILINE)
_LIST_LINE = re.compile(rb"^\s*(?:\d{1,4}[.)]|[-*]|\xe2\x80\xa2)\s+\S")
_NOT_MEMORY_KEYS = frozenset(
    {"role", "sender", "message_id", "memory", "mapping", "messages", "author", "fact", "uuid"}
)


class OpenAIMemoryReadOptions(Options):
    user_id: str = "user"
    """``scope.user_id`` of every memory: saved-memory rows do not say whose they are."""
    dedupe: bool = True
    """Drop repeats of a memory whose id is derived from its text (lists, rows without ``id``)."""
    naive_timezone: str | None = None
    """Zone for ``created_at``/``updated_at`` written without an offset (``UTC``); unset, such a
    value is an error."""


class OpenAIMemoryWriteOptions(Options):
    layout: Literal["json", "jsonl", "text"] = "json"
    """``json``: a JSON array of rows; ``jsonl``: one row per line; ``text``: a numbered, dated
    list as ChatGPT shows memories (for pasting; ids are not kept)."""


def _first_object(head: bytes) -> Any:
    """The first row-like object in the first bytes of a file, or None."""
    stripped = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if stripped.startswith(b"["):
        prefix = "item"
    elif WRAPPER.match(stripped):
        prefix = WRAPPER.match(stripped).group(1).decode() + ".item"  # type: ignore[union-attr]
    elif stripped.startswith(b"{"):
        try:
            return jsonio.loads(stripped.split(b"\n", 1)[0])
        except ValueError:
            return None
    else:
        return None
    try:
        for item in ijson.items(io.BytesIO(stripped), prefix):
            return item
    except (ijson.JSONError, ValueError):
        return None
    return None


def _is_text_source(source: Source, head: bytes) -> bool:
    label = (source.path.name if source.path is not None else source.label).lower()
    if label.endswith(TEXT_SUFFIXES):
        return True
    return jsonio.top_level_type(head) is None and bool(head.strip())


class OpenAIMemoryAdapter(Adapter):
    name = "openai_memory"
    aliases = ("openai-memory", "chatgpt-memory")
    description = "ChatGPT saved memories: rows {id, content, created_at} (JSON/JSONL) or a list"
    features = frozenset({Feature.MEMORY})
    file_extensions = (".json", ".jsonl", ".txt")
    output_layout = "file"
    ReadOptions = OpenAIMemoryReadOptions
    WriteOptions = OpenAIMemoryWriteOptions

    def sniff(self, source: Source) -> Sniff:
        if source.is_container or source.kind == "objects":
            return Sniff(0.0)
        head = source.head()
        if b'"mapping"' in head:
            return Sniff(0.0)
        if _is_text_source(source, head):
            if _DATED_LINE.search(head):
                return Sniff(0.8, "a numbered, dated memory list ('1. [2024-09-29]. ...')")
            lines = [ln for ln in head.splitlines()[:-1] if ln.strip()] or head.splitlines()[:1]
            marked = sum(1 for ln in lines if _LIST_LINE.match(ln))
            if lines and marked >= 0.8 * len(lines):
                return Sniff(0.4, "a bulleted or numbered list (read as one memory per line)")
            return Sniff(0.0)
        obj = _first_object(head)
        if not isinstance(obj, Mapping) or not isinstance(obj.get("content"), str):
            return Sniff(0.0)
        keys = set(obj)
        if keys & _NOT_MEMORY_KEYS:
            return Sniff(0.0)
        if {"id", "created_at"} <= keys:
            return Sniff(0.85, "rows with id, content and created_at (ChatGPT saved memories)")
        return Sniff(0.5, "rows with a 'content' string and no chat fields")

    # -- reading ---------------------------------------------------------------------------------

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        return MemoryReader(source, options, ctx).records()

    # -- writing ---------------------------------------------------------------------------------

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        name = {"json": "memories.json", "jsonl": "memories.jsonl", "text": "memories.txt"}
        with sink.document(name[options.layout]) as fh:
            write_rows(records, fh, options, ctx)

    # -- projection ------------------------------------------------------------------------------

    def project_record(self, record: AnyRecord) -> AnyRecord | None:
        """A row holds an id, a text and two times: everything else is lost, the scope becomes the
        reader's default user, and an id derived from text is no longer flagged as such."""
        if not isinstance(record, MemoryItem):
            return None
        ext = {
            k: v
            for k, v in record.extensions.items()
            if k.startswith(NS) and k[len(NS) :] not in DERIVED and k[len(NS) :] not in ROW_FIELDS
        }
        if record.extensions.get(NS + "numeric_id") is True and record.id.isdigit():
            ext[NS + "numeric_id"] = True
        for field in ("created_at", "updated_at"):
            value = getattr(record, field)
            raw = record.extensions.get(NS + field + "_raw")
            if value is not None and raw is not None and raw_denotes(raw, value):
                ext[NS + field + "_raw"] = raw
        return MemoryItem(
            id=record.id,
            type="fact",
            scope=Scope(user_id="user"),
            text=row_text(record),
            created_at=record.created_at,
            updated_at=record.updated_at,
            extensions=ext,
        )


@hookimpl
def provide_adapters() -> list[type[Adapter]]:
    return [OpenAIMemoryAdapter]
