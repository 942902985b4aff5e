"""One helper per round-trip property, shared by every adapter's tests (like meshio's
``write_read`` and sqlglot's ``validate_identity``).

* :func:`write_read` writes records with an adapter into memory and reads them back.
* :func:`assert_roundtrip`: ``read(write(project(x))) == project(x)``.
* :func:`assert_fixpoint`: ``write(read(write(x))) == write(x)``, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from memshift.context import Context
from memshift.model import AnyRecord
from memshift.registry import Registry, default_registry
from memshift.sinks import Sink
from memshift.sources import Source

__all__ = ["assert_fixpoint", "assert_roundtrip", "write_bytes", "write_read"]


def write_bytes(
    fmt: str,
    records: Iterable[AnyRecord],
    *,
    options: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> dict[str, bytes]:
    """Write ``records`` with format ``fmt`` into memory: ``{document name: bytes}``."""
    reg = registry or default_registry()
    adapter = reg.get(fmt, "write")
    sink = Sink("memory")
    ctx = Context(on_loss="ignore")
    adapter.write(
        list(records), sink, adapter.WriteOptions.model_validate(dict(options or {})), ctx
    )
    sink.commit()
    return sink.memory_documents


def read_bytes(
    fmt: str,
    documents: Mapping[str, bytes],
    *,
    options: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> list[AnyRecord]:
    """Read in-memory documents (as :func:`write_bytes` returns them) with format ``fmt``."""
    reg = registry or default_registry()
    adapter = reg.get(fmt, "read")
    source = Source("members", "<roundtrip>", members=documents)
    ctx = Context(on_error="strict")
    return list(adapter.read(source, adapter.ReadOptions.model_validate(dict(options or {})), ctx))


def write_read(
    fmt: str,
    records: Iterable[AnyRecord],
    *,
    write_options: Mapping[str, Any] | None = None,
    read_options: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> list[AnyRecord]:
    docs = write_bytes(fmt, records, options=write_options, registry=registry)
    return read_bytes(fmt, docs, options=read_options, registry=registry)


def _diff(expected: list[AnyRecord], actual: list[AnyRecord]) -> str:
    lines = [f"expected {len(expected)} records, got {len(actual)}"]
    for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
        if e != a:
            ed, ad = e.model_dump(), a.model_dump()
            fields = sorted(k for k in ed.keys() | ad.keys() if ed.get(k) != ad.get(k))
            for f in fields[:6]:
                lines.append(
                    f"  record {i} ({ed.get('kind')} {ed.get('id')}): "
                    f"{f}: {ed.get(f)!r} != {ad.get(f)!r}"
                )
            break
    return "\n".join(lines)


def assert_roundtrip(
    fmt: str,
    records: Iterable[AnyRecord],
    *,
    write_options: Mapping[str, Any] | None = None,
    read_options: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> None:
    """``read(write(project(x))) == project(x)``: what the format can hold survives exactly."""
    reg = registry or default_registry()
    adapter = reg.get(fmt)
    projected = adapter.project(list(records))
    back = write_read(
        fmt, projected, write_options=write_options, read_options=read_options, registry=reg
    )
    assert back == projected, _diff(projected, back)


def assert_fixpoint(
    fmt: str,
    records: Iterable[AnyRecord],
    *,
    write_options: Mapping[str, Any] | None = None,
    read_options: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> None:
    """``write(read(write(x))) == write(x)``: writing is stable once the data is in the format."""
    reg = registry or default_registry()
    first = write_bytes(fmt, records, options=write_options, registry=reg)
    again = write_bytes(
        fmt,
        read_bytes(fmt, first, options=read_options, registry=reg),
        options=write_options,
        registry=reg,
    )
    assert first.keys() == again.keys(), f"documents differ: {sorted(first)} != {sorted(again)}"
    for name in first:
        assert first[name] == again[name], f"document {name} changed on the second write"
