"""``canonical``: JSON Lines of canonical records, the identity format.

Fixtures, debugging and pipelines between memshift runs use it: it holds everything the model holds,
so ``canonical -> X -> canonical`` shows exactly what X keeps. The first line is a header with the
``SCHEMA_VERSION``; a file from a different major version is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from pydantic import ValidationError

from memshift import Adapter, Context, Feature, Options, Sniff, hookimpl, jsonio
from memshift.errors import ReadError
from memshift.model import SCHEMA_VERSION, AnyRecord, record_from_dict
from memshift.sinks import Sink
from memshift.sources import Source

_HEADER_KEY = "memshift_schema"


class CanonicalReadOptions(Options):
    pass


class CanonicalWriteOptions(Options):
    header: bool = True
    """Write the schema header line first (off for concatenating streams)."""


class CanonicalAdapter(Adapter):
    name = "canonical"
    aliases = ("jsonl", "memshift")
    description = (
        "memshift's own JSON Lines of canonical records (lossless, for fixtures and piping)"
    )
    features = frozenset(Feature)
    namespace = "*"
    file_extensions = (".jsonl", ".ndjson")
    output_layout = "file"
    ReadOptions = CanonicalReadOptions
    WriteOptions = CanonicalWriteOptions

    def sniff(self, source: Source) -> Sniff:
        head = source.head(4096) if not source.is_container else b""
        first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
        if _HEADER_KEY.encode() in first:
            return Sniff(1.0, "first line is a memshift schema header")
        if first.startswith(b"{") and b'"kind":"' in first.replace(b" ", b"") and b'"id"' in first:
            return Sniff(0.6, "JSON Lines whose records carry memshift 'kind' fields")
        return Sniff(0.0)

    def read(self, source: Source, options: Any, ctx: Context) -> Iterator[AnyRecord]:
        if source.kind == "objects":
            items = source.objects if isinstance(source.objects, list) else [source.objects]
            for i, item in enumerate(items):
                rec = self._from_obj(item, ctx, source.location(path=f"[{i}]"))
                if rec is not None:
                    yield rec
            return
        members = (
            [m for m in source.members() if m.endswith((".jsonl", ".ndjson"))]
            if source.is_container
            else [None]
        )
        for member in members:
            with source.open(member) as fh:
                for lineno, line in enumerate(jsonio.skip_bom(fh), start=1):
                    if not line.strip():
                        continue
                    loc = source.location(member, f"line {lineno}")
                    try:
                        obj = jsonio.loads(line)
                    except orjson.JSONDecodeError as exc:
                        ctx.reject(line.decode("utf-8", "replace"), f"invalid JSON: {exc}", loc)
                        continue
                    if isinstance(obj, dict) and _HEADER_KEY in obj:
                        _check_version(obj[_HEADER_KEY], loc)
                        continue
                    rec = self._from_obj(obj, ctx, loc)
                    if rec is not None:
                        yield rec

    @staticmethod
    def _from_obj(obj: Any, ctx: Context, loc: Any) -> AnyRecord | None:
        if not isinstance(obj, dict):
            ctx.reject(obj, f"expected a JSON object, got {type(obj).__name__}", loc)
            return None
        try:
            return record_from_dict(obj)
        except (ValidationError, ValueError) as exc:
            ctx.reject(obj, exc, loc)
            return None

    def write(self, records: Iterable[AnyRecord], sink: Sink, options: Any, ctx: Context) -> None:
        with sink.document("records.jsonl") as fh:
            if options.header:
                fh.write(jsonio.dumps_line({_HEADER_KEY: SCHEMA_VERSION}))
            for record in records:
                fh.write(record.__pydantic_serializer__.to_json(record, exclude_none=True))
                fh.write(b"\n")


def _check_version(version: Any, loc: Any) -> None:
    major = str(version).split(".", 1)[0]
    if major != SCHEMA_VERSION.split(".", 1)[0]:
        raise ReadError(
            f"canonical schema version {version!r} is not readable by this memshift "
            f"(schema {SCHEMA_VERSION})",
            loc,
        )


@hookimpl
def provide_adapters() -> list[type[Adapter]]:
    return [CanonicalAdapter]
