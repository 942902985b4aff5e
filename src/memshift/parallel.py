"""Several independent inputs, converted in worker processes, merged deterministically.

Each input is converted on its own into a private staging area (a worker process when
``jobs > 1``, this process otherwise). The staged documents are then merged into the real target in
input order, through one sink, so names are de-duplicated the same way and the result is
byte-identical whatever ``jobs`` is. The merge is atomic like any other run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from .context import Report
from .errors import Location, OutputError, UsageError
from .pipeline import Documents, convert
from .registry import default_registry
from .sinks import open_sink


def _convert_one(source: Any, target: str, rejects: str | None, kwargs: dict[str, Any]) -> Report:
    result: Report = convert(source, target, rejects=rejects, **kwargs)
    return result


def _merge_reports(reports: Sequence[Report]) -> Report:
    total = Report(
        source_format=reports[0].source_format if reports else "",
        destination_format=reports[0].destination_format if reports else "",
    )
    for r in reports:
        total.read += r.read
        total.written += r.written
        total.rejected += r.rejected
        total.conversations += r.conversations
        total.filtered.update(r.filtered)
        for name, loss in r.losses.items():
            prev = total.losses.get(name)
            total.losses[name] = (
                loss
                if prev is None
                else type(loss)(
                    name, prev.count + loss.count, prev.detail or loss.detail, prev.example
                )
            )
        for w in r.warnings:
            if w not in total.warnings:
                total.warnings.append(w)
        for key, value in r.notes.items():
            if isinstance(value, int) and isinstance(total.notes.get(key), int):
                total.notes[key] += value
            else:
                total.notes.setdefault(key, value)
    if len({r.source_format for r in reports}) > 1:
        total.source_format = "+".join(sorted({r.source_format for r in reports}))
    return total


def convert_many(
    sources: Sequence[Any],
    target: Any = None,
    *,
    dst: str,
    jobs: int = 1,
    rejects: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> Any:
    """Convert several inputs into one target (see :func:`memshift.convert` for the options).

    ``jobs`` worker processes convert inputs in parallel; the output does not depend on ``jobs``.
    """
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if kwargs.get("resume"):
        raise UsageError("--resume works with one input at a time")
    if jobs > 1 and kwargs.get("registry") is not None:
        raise UsageError("a custom registry cannot be sent to worker processes; use jobs=1")
    reg = kwargs.get("registry") or default_registry()
    writer = reg.get(dst, "write")
    layout = writer.output_layout
    sink = open_sink(target, layout=layout, overwrite=kwargs.pop("overwrite", True))
    base = sink.path.parent if sink.path is not None and layout == "file" else sink.path
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".memshift-jobs-", dir=base))
    try:
        tasks = []
        for i, source in enumerate(sources):
            if not isinstance(source, (str, os.PathLike)):
                raise UsageError("several inputs must be paths")
            out = staging / f"{i:05d}" / ("out" if layout == "dir" else "out.data")
            rej = str(staging / f"{i:05d}.rejects.jsonl") if rejects is not None else None
            tasks.append((os.fspath(source), str(out), rej))
        kw = {**kwargs, "dst": dst}
        if jobs == 1 or len(tasks) == 1:
            reports = [_convert_one(s, o, r, kw) for s, o, r in tasks]
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(_convert_one, s, o, r, kw) for s, o, r in tasks]
                reports = [f.result() for f in futures]
        try:
            if layout == "dir":
                for (_, staged, _), report in zip(tasks, reports, strict=True):
                    _merge_documents(sink, Path(staged), report)
            else:
                _concatenate(sink, [Path(p) for r in reports for p in r.outputs])
        except BaseException:
            sink.abort()
            raise
        sink.commit()
        total = _merge_reports(reports)
        total.outputs = list(sink.outputs)
        if rejects is not None:
            total.rejects_file = _merge_rejects([r for _, _, r in tasks if r], Path(rejects))
        if target is None:
            docs = Documents(sink.parsed_documents())
            docs.report = total
            return docs
        return total
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _merge_documents(sink: Any, out: Path, report: Report) -> None:
    for produced in report.outputs:
        path = Path(produced)
        rel = path.relative_to(out.resolve()).as_posix()
        with sink.document(rel) as fh, open(path, "rb") as src:
            shutil.copyfileobj(src, fh, 1024 * 1024)


def _concatenate(sink: Any, parts: Sequence[Path]) -> None:
    """Line formats concatenate: one output holding every input's lines in input order."""
    if not parts:
        raise OutputError("the workers produced no output", Location(str(sink.label)))
    with sink.document() as fh:
        for path in parts:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, fh, 1024 * 1024)


def _merge_rejects(parts: Sequence[str], target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".memshift-tmp", dir=target.parent)
    with os.fdopen(fd, "wb") as fh:
        for part in parts:
            if os.path.exists(part):
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, fh)
    os.replace(tmp, target)
    return str(target)
