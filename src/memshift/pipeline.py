"""``convert``/``read``/``write``: reader -> stages -> writer, lazily, with one report.

The stages between reader and writer are all decided from declared data: events are left out of
destinations that cannot hold them, losses are detected from the destination's ``features``,
conversations are sorted only when the writer needs order and the reader does not promise it, and
user transforms run last. The core never looks at a format's name.
"""

from __future__ import annotations

import gc
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import jsonio
from .adapter import Adapter, Feature, Options, loss_detector
from .context import Context, OnError, OnLoss, Report, describe_exception
from .errors import (
    DetectionError,
    Location,
    LossError,
    MemshiftError,
    OptionsError,
    UsageError,
    WriteError,
    warn_loss,
)
from .model import AnyRecord, Conversation, Message
from .ordering import DEFAULT_THRESHOLD, ConversationSorter
from .registry import Detection, FormatInfo, Registry, default_registry
from .sinks import Sink, open_sink
from .sources import Source, open_source
from .transforms import Transform

ProgressCallback = Callable[[int, int], None]
"""Called with (records so far, input bytes read so far) every 1000 records and at the end."""

StreamTransform = Callable[[Iterable[AnyRecord], Context], Iterable[AnyRecord]]
TransformSpec = Transform | StreamTransform | str | tuple[str, Mapping[str, Any]]


class Documents(list[Any]):
    """What ``convert`` returns without a target: the documents an importer would send, as Python
    objects, with the run's :class:`Report` attached as ``.report``."""

    report: Report


def _options(
    adapter: Adapter, cls: type[Options], given: Mapping[str, Any] | Options | None
) -> Any:
    if isinstance(given, Options):
        return given
    try:
        return cls.model_validate(dict(given or {}))
    except ValidationError as exc:
        raise OptionsError(adapter.name, describe_exception(exc)) from None


def _resolve_source_format(reg: Registry, source: Source, src: str | None) -> str:
    if src and src != "auto":
        return reg.resolve(src)
    found = reg.detect(source)
    if not found:
        raise DetectionError(
            f"{source.label}: cannot tell the format; name it with --from "
            f"(one of: {', '.join(reg.names())})"
        )
    best = found[0]
    if len(found) > 1 and found[1].confidence == best.confidence:
        raise DetectionError(
            f"{source.label}: ambiguous format ({best.name} or {found[1].name}); "
            "name it with --from"
        )
    return best.name


def _ingest(
    records: Iterable[AnyRecord],
    report: Report,
    features: frozenset[Feature] | None,
    ctx: Context,
    include_events: bool,
) -> Iterator[AnyRecord]:
    """Count what the reader yields and apply the default filters, in one loop: this runs once
    per record, so every generator layer saved is measurable at a million messages."""
    keep_all = features is None
    f = features or frozenset()
    drop_events = not keep_all and Feature.EVENTS not in f and not include_events
    drop_inactive = not keep_all and Feature.BRANCHES not in f
    drop_memory = not keep_all and Feature.MEMORY not in f
    drop_messages = not keep_all and Feature.CONVERSATIONS not in f
    filtered = ctx.filtered
    for record in records:
        kind = type(record)
        if kind is Message:
            report.read += 1
            if drop_messages:
                filtered("messages (the destination holds memory items only)")
                continue
            if drop_events and record.type == "event":
                filtered("events (--include-events)")
                continue
            if drop_inactive and not record.active:  # type: ignore[union-attr]
                filtered("inactive branches (the destination keeps the active path only)")
                continue
        elif kind is Conversation:
            report.conversations += 1
            if drop_messages:
                continue
        else:
            report.read += 1
            if drop_memory:
                filtered("memory items (the destination holds conversations only)")
                continue
        yield record


class _Last:
    """The last record handed to the writer, to locate a failure inside the writer."""

    __slots__ = ("record",)

    def __init__(self) -> None:
        self.record: AnyRecord | None = None


def _emit(
    records: Iterable[AnyRecord],
    features: frozenset[Feature],
    namespace: str,
    ctx: Context,
    report: Report,
    sink: Sink,
    last: _Last | None = None,
) -> Iterator[AnyRecord]:
    """Detect losses, count what reaches the writer, and tell the sink which conversation the
    writer is on (for the --resume manifest), in one loop."""
    detect = loss_detector(features, namespace)
    # Losses are tallied locally and reported once per field: a Slack message loses ~8 fields in
    # EverOS, and a Context.loss call per field per record was measurable.
    counts: dict[str, int] = {}
    examples: dict[str, str] = {}
    written = 0
    try:
        for record in records:
            if type(record) is Conversation:
                sink.conversation = record.id
            else:
                written += 1
            lost = detect(record)
            if lost:
                for name in lost:
                    n = counts.get(name)
                    if n is None:
                        counts[name] = 1
                        examples[name] = record.id
                    else:
                        counts[name] = n + 1
            if last is not None:
                last.record = record
            yield record
    finally:
        report.written += written
        for name, count in counts.items():
            ctx.loss(name, count=count, example=examples.get(name))


def _write_located(
    writer: Adapter, stream: Iterable[AnyRecord], sink: Sink, wopts: Any, ctx: Context, last: _Last
) -> None:
    """Run the writer; a value it cannot serialise (nesting deeper than JSON encoders allow, a
    non-JSON extension value) becomes a located one-line WriteError instead of a traceback."""
    try:
        writer.write(stream, sink, wopts, ctx)
    except MemshiftError:
        raise
    except (TypeError, ValueError, RecursionError) as exc:
        record = last.record
        where = f"{record.kind} {record.id}" if record is not None else None
        raise WriteError(
            f"{writer.name} cannot serialise this record: {describe_exception(exc)}",
            Location(ctx.source_label or None, None, where),
        ) from None


def _skip_done(records: Iterable[AnyRecord], done: set[str], ctx: Context) -> Iterator[AnyRecord]:
    skipping = False
    for record in records:
        if isinstance(record, Conversation):
            skipping = record.id in done
            if skipping:
                continue
        elif skipping and isinstance(record, Message):
            ctx.filtered("already converted by an earlier run (--resume)")
            continue
        yield record


def _progress(
    records: Iterable[AnyRecord], callback: ProgressCallback, source: Source, every: int = 1000
) -> Iterator[AnyRecord]:
    n = 0
    for record in records:
        n += 1
        if n % every == 0:
            callback(n, source.bytes_read)
        yield record
    callback(n, source.bytes_read)


def resolve_transforms(specs: Sequence[TransformSpec], reg: Registry) -> list[StreamTransform]:
    """Turn names, ``(name, options)`` pairs, instances and plain callables into callables."""
    out: list[StreamTransform] = []
    available = reg.transforms()
    for spec in specs:
        if isinstance(spec, str):
            spec = (spec, {})
        if isinstance(spec, tuple):
            name, opts = spec
            if name not in available:
                known = ", ".join(sorted(available)) or "none"
                raise UsageError(f"unknown transform {name!r}; available: {known}")
            out.append(available[name](opts))
        else:
            out.append(spec)
    return out


def _run_prepasses(
    transforms: Sequence[StreamTransform], source: Any, src_obj: Source, reader: Adapter, ropts: Any
) -> None:
    """Give transforms that need it one look at the whole input, by reading it a second time
    (memory stays flat; the cost is one more parse)."""
    needing = [t for t in transforms if isinstance(t, Transform) and t.needs_prepass]
    if not needing:
        return
    once = src_obj.kind == "stream" or (
        src_obj.kind == "objects" and isinstance(src_obj.objects, Iterator)
    )
    if once:
        names = ", ".join(t.name for t in needing)
        raise UsageError(f"{names} must read the input twice; give a file, directory or zip")
    for transform in needing:
        again = open_source(source) if src_obj.kind != "objects" else src_obj
        try:
            transform.prepass(reader.read(again, ropts, Context(on_error="skip")))
        finally:
            if again is not src_obj:
                again.close()


@contextmanager
def _gc_relaxed() -> Iterator[None]:
    """Collect the young generation less often while records stream.

    Records are short-lived and acyclic; at a million messages the default threshold (700
    allocations) runs the collector thousands of times over objects that reference counting already
    frees. Objects alive before the run are frozen out of its scans. The old settings come back
    afterwards, so library callers see no lasting change."""
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(old[0], 50_000), old[1], old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


class _RejectsFile:
    """Rejected records as JSON Lines, written atomically next to the output."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".memshift-tmp", dir=self.path.parent
        )
        self._tmp = Path(tmp)
        self._fh = os.fdopen(fd, "wb")

    def __call__(self, entry: dict[str, Any]) -> None:
        try:
            line = jsonio.dumps_line(entry)
        except TypeError:
            entry = {**entry, "record": repr(entry.get("record"))}
            line = jsonio.dumps_line(entry)
        self._fh.write(line)

    def commit(self) -> None:
        self._fh.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)


def convert(
    source: Any,
    target: Any = None,
    *,
    src: str | None = None,
    dst: str,
    src_options: Mapping[str, Any] | Options | None = None,
    dst_options: Mapping[str, Any] | Options | None = None,
    on_error: OnError = "strict",
    on_loss: OnLoss = "warn",
    rejects: str | os.PathLike[str] | None = None,
    include_events: bool = False,
    transforms: Sequence[TransformSpec] = (),
    registry: Registry | None = None,
    overwrite: bool = True,
    sort_threshold: int = DEFAULT_THRESHOLD,
    progress: ProgressCallback | None = None,
    resume: bool = False,
) -> Any:
    """Convert ``source`` from format ``src`` to format ``dst``.

    ``source`` may be a path (file, directory or zip), ``"-"`` for stdin, a binary stream, or
    already-loaded Python objects (``convert(slack_messages, src="slack", dst="everos")``).
    With a ``target`` (a path, ``"-"`` or a binary stream) the output is written atomically and a
    :class:`Report` is returned. Without one, the documents are returned as Python objects
    (:class:`Documents`, whose ``.report`` holds the report).
    """
    if on_error not in ("strict", "skip"):
        raise OptionsError("convert", f"on_error must be 'strict' or 'skip', not {on_error!r}")
    if on_loss not in ("ignore", "warn", "raise"):
        raise OptionsError(
            "convert", f"on_loss must be 'ignore', 'warn' or 'raise', not {on_loss!r}"
        )
    reg = registry or default_registry()
    jsonio.check_backend()
    src_obj = open_source(source)
    try:
        src_name = _resolve_source_format(reg, src_obj, src)
        reader = reg.get(src_name, "read")
        writer = reg.get(dst, "write")
        ropts = _options(reader, reader.ReadOptions, src_options)
        wopts = _options(writer, writer.WriteOptions, dst_options)
        sink = open_sink(target, layout=writer.output_layout, overwrite=overwrite)
        rejects_file = _RejectsFile(rejects) if rejects is not None and on_error == "skip" else None
        report = Report(source_format=reader.name, destination_format=writer.name)
        ctx = Context(
            on_error=on_error,
            on_loss=on_loss,
            reject_sink=rejects_file,
            source_label=src_obj.label,
            report=report,
        )
        ctx.source_mtime = src_obj.mtime()
        if (warning := jsonio.backend_warning()) is not None:
            ctx.warn(warning, key="ijson-backend")
        if sink.kind == "dir":
            sink.manifest_header = {
                "input": src_obj.label,
                "input_size": src_obj.size(),
                "from": reader.name,
                "to": writer.name,
                "read_options": ropts.model_dump(mode="json"),
                "write_options": wopts.model_dump(mode="json"),
            }
        steps = resolve_transforms(transforms, reg)
        if not steps:
            # Transforms may read anything, so only a direct conversion lets the reader skip
            # what the writer says it does not use.
            ctx.destination_uses = lambda feature, kind: writer.uses(feature, wopts, kind)
        done: set[str] = set()
        if resume:
            if sink.kind != "dir" or not writer.resumable:
                raise UsageError(
                    f"--resume needs a directory output of a format whose documents are "
                    f"independent; {writer.name} is not resumable"
                )
            done = sink.start_resume()
        try:
            _run_prepasses(steps, source, src_obj, reader, ropts)
            stream: Iterable[AnyRecord] = _ingest(
                reader.read(src_obj, ropts, ctx), report, writer.features, ctx, include_events
            )
            if done:
                stream = _skip_done(stream, done, ctx)
            for step in steps:
                stream = step(stream, ctx)
            if writer.needs_order and not reader.ordered_read:
                stream = ConversationSorter(sort_threshold)(stream)
            if progress is not None:
                stream = _progress(stream, progress, src_obj)
            last = _Last()
            stream = _emit(stream, writer.features, writer.ext_namespace(), ctx, report, sink, last)
            with _gc_relaxed():
                _write_located(writer, stream, sink, wopts, ctx, last)
            report.written -= ctx.write_dropped
            _apply_loss_policy(ctx, writer.name)
        except BaseException:
            sink.abort()
            if rejects_file is not None:
                rejects_file.abort()
            raise
        sink.commit()
        if rejects_file is not None:
            rejects_file.commit()
            report.rejects_file = str(rejects_file.path)
        report.outputs = list(sink.outputs)
        if target is None:
            docs = Documents(sink.parsed_documents())
            docs.report = report
            return docs
        return report
    finally:
        src_obj.close()


def _apply_loss_policy(ctx: Context, destination: str) -> None:
    losses = list(ctx.report.losses.values())
    if not losses:
        return
    if ctx.on_loss == "raise":
        raise LossError(destination, losses)
    if ctx.on_loss == "warn":
        for loss in losses:
            message = f"{destination} cannot hold {loss}"
            ctx.warn(message)
            warn_loss(message)


def read(
    source: Any,
    src: str | None = None,
    *,
    options: Mapping[str, Any] | Options | None = None,
    on_error: OnError = "strict",
    registry: Registry | None = None,
    context: Context | None = None,
) -> Iterator[AnyRecord]:
    """Lazily read canonical records from ``source`` (format detected when ``src`` is None)."""
    reg = registry or default_registry()
    src_obj = open_source(source)
    try:
        name = _resolve_source_format(reg, src_obj, src)
        reader = reg.get(name, "read")
        ropts = _options(reader, reader.ReadOptions, options)
    except MemshiftError:
        src_obj.close()
        raise
    ctx = context or Context(on_error=on_error, source_label=src_obj.label)

    def _gen() -> Iterator[AnyRecord]:
        try:
            yield from reader.read(src_obj, ropts, ctx)
        finally:
            src_obj.close()

    return _gen()


def write(
    records: Iterable[AnyRecord],
    target: Any,
    dst: str,
    *,
    options: Mapping[str, Any] | Options | None = None,
    on_loss: OnLoss = "warn",
    registry: Registry | None = None,
) -> Any:
    """Write canonical records to ``target`` in format ``dst``. Returns a :class:`Report`, or the
    documents when ``target`` is None."""
    reg = registry or default_registry()
    writer = reg.get(dst, "write")
    wopts = _options(writer, writer.WriteOptions, options)
    sink = open_sink(target, layout=writer.output_layout)
    report = Report(source_format="canonical", destination_format=writer.name)
    ctx = Context(on_loss=on_loss, report=report)
    try:
        stream = _ingest(records, report, None, ctx, False)
        stream = _emit(stream, writer.features, writer.ext_namespace(), ctx, report, sink)
        writer.write(stream, sink, wopts, ctx)
        report.written -= ctx.write_dropped
        _apply_loss_policy(ctx, writer.name)
    except BaseException:
        sink.abort()
        raise
    sink.commit()
    report.outputs = list(sink.outputs)
    if target is None:
        docs = Documents(sink.parsed_documents())
        docs.report = report
        return docs
    return report


def formats(registry: Registry | None = None) -> list[FormatInfo]:
    """Every registered format with its capabilities and provider."""
    return (registry or default_registry()).formats()


def detect(source: Any, registry: Registry | None = None) -> Detection:
    """The most likely format of ``source``; raises :class:`DetectionError` when nothing fits."""
    reg = registry or default_registry()
    src_obj = open_source(source)
    try:
        found = reg.detect(src_obj)
    finally:
        src_obj.close()
    if not found:
        raise DetectionError(f"{src_obj.label}: no known format recognises this input")
    return found[0]


def detect_all(source: Any, registry: Registry | None = None) -> list[Detection]:
    reg = registry or default_registry()
    src_obj = open_source(source)
    try:
        return reg.detect(src_obj)
    finally:
        src_obj.close()
