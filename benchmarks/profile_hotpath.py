"""Per-record cost of each stage of ``memshift convert <format> -> everos``, in microseconds.

The end-to-end benchmark (``run.py``) says how long a conversion takes; this says where the time
goes, so an optimisation can be aimed. Each stage is timed on its own over the same generated
records (timeit style: a tight loop, several repetitions, median), with the records built once
beforehand and frozen out of the garbage collector's view (``gc.freeze``), because a benchmark
that keeps 20k pydantic models alive otherwise measures the cyclic GC, not the code.

Stages:
  parse         ijson (yajl2_c) items of the export, nothing else (the floor)
  read          the memshift reader, parse included (records dropped as they come)
  reader work   read - parse: mapping the raw dicts to canonical records
  timestamp     the reader's timestamp parse alone (timeutil), vs datetime.fromisoformat
  model         Message.model_validate of the reader's own output (model_dump -> validate)
  filters+loss  detect_losses against the EverOS features (done per record by the pipeline)
  sort          ConversationSorter in memory, and with spills (threshold 2,000)
  render        the EverOS writer's content text (memshift_adapters.everos._common.content_text)
  encode        jsonio.dumps of one EverOS message item
  write         the EverOS writer over pre-built records into a real directory sink
  convert       memshift.convert end to end, in this process

    python benchmarks/profile_hotpath.py --format discord --records 20000
    python benchmarks/profile_hotpath.py --format slack --cprofile /tmp/slack.prof
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import io
import pstats
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
import ijson  # noqa: E402

import memshift  # noqa: E402
from memshift import jsonio, timeutil  # noqa: E402
from memshift.adapter import detect_losses  # noqa: E402
from memshift.errors import Location  # noqa: E402
from memshift.model import AnyRecord, Message  # noqa: E402
from memshift.ordering import DEFAULT_MAX_BYTES, ConversationSorter  # noqa: E402


def per_item(fn: Callable[[], int], repeat: int) -> tuple[float, float, int]:
    """(median, min) CPU microseconds per item of ``fn``, which processes all items and returns
    how many it processed. CPU time, not wall time: on a shared 2-core machine a neighbour's
    burst would otherwise land in whichever stage happened to be running."""
    times = []
    n = 0
    for _ in range(repeat):
        t0 = time.process_time()
        n = fn()
        times.append(time.process_time() - t0)
    n = max(n, 1)
    return statistics.median(times) * 1e6 / n, min(times) * 1e6 / n, n


def _drain(it: Iterable[Any]) -> int:
    n = 0
    for _ in it:
        n += 1
    return n


def _each(fn: Callable[[Any], Any], items: list[Any]) -> Callable[[], int]:
    def run() -> int:
        for x in items:
            fn(x)
        return len(items)

    return run


Items = Callable[[Any, str], Iterable[Any]]


def _ijson_items(fh: Any, prefix: str) -> Iterable[Any]:
    return ijson.items(fh, prefix, use_float=True)


def _memshift_items(fh: Any, prefix: str) -> Iterable[Any]:
    return jsonio.iter_items(fh, prefix, Location("profile"))


def parse_only(fmt: str, src: Path, items: Items = _ijson_items) -> int:
    """The same parse the raw case of run.py does (ijson), or with ``_memshift_items`` the one
    memshift's readers do: ``jsonio.iter_items``, which frames indented arrays and parses them
    with orjson, and falls back to ijson for everything else."""
    n = 0
    if fmt == "discord":
        with open(src, "rb") as fh:
            n = _drain(items(fh, "messages.item"))
    elif fmt == "slack":
        for folder in sorted(p for p in src.iterdir() if p.is_dir()):
            for day in sorted(folder.glob("*.json")):
                with open(day, "rb") as fh:
                    n += _drain(items(fh, "item"))
    else:
        with open(src, "rb") as fh:
            for conv in items(fh, "item"):
                n += sum(1 for node in conv["mapping"].values() if node.get("message"))
    return n


def raw_timestamps(fmt: str, src: Path, limit: int) -> list[Any]:
    out: list[Any] = []
    if fmt == "discord":
        with open(src, "rb") as fh:
            for m in ijson.items(fh, "messages.item", use_float=True):
                out.append(m["timestamp"])
                if len(out) >= limit:
                    break
    elif fmt == "slack":
        for folder in sorted(p for p in src.iterdir() if p.is_dir()):
            for day in sorted(folder.glob("*.json")):
                with open(day, "rb") as fh:
                    out.extend(m["ts"] for m in ijson.items(fh, "item", use_float=True))
            if len(out) >= limit:
                break
    else:
        with open(src, "rb") as fh:
            for conv in ijson.items(fh, "item", use_float=True):
                for node in conv["mapping"].values():
                    m = node.get("message")
                    if m and m.get("create_time") is not None:
                        out.append(m["create_time"])
                if len(out) >= limit:
                    break
    return out[:limit]


def stage_table(fmt: str, src: Path, repeat: int, scratch: Path) -> list[tuple[str, float, str]]:
    """Rows of (stage, microseconds per record, note)."""
    rows: list[tuple[str, float, str]] = []
    adapter = memshift.default_registry().get("everos", "write")
    features, namespace = adapter.features, adapter.ext_namespace()

    med, _mn, n = per_item(lambda: parse_only(fmt, src), repeat)
    rows.append(("parse (ijson yajl2_c items: the floor of run.py)", med, f"{n:,} records"))
    med, _mn, n = per_item(lambda: parse_only(fmt, src, _memshift_items), repeat)
    parse_us = med
    rows.append(("parse as memshift reads (jsonio.iter_items, framed)", med, f"{n:,} records"))

    med, _mn, n_read = per_item(lambda: _drain(memshift.read(str(src), fmt)), repeat)
    rows.append(("read (memshift reader, parse included)", med, f"{n_read:,} records out"))
    rows.append(
        ("  reader work (read - its parse)", med * n_read / max(n, 1) - parse_us, "derived")
    )

    # everything below works on records built once and kept, so freeze them out of the GC
    recs: list[AnyRecord] = list(memshift.read(str(src), fmt))
    msgs = [r for r in recs if isinstance(r, Message)]
    stamps = raw_timestamps(fmt, src, len(msgs))
    gc.collect()
    gc.freeze()
    try:
        if fmt == "discord":
            med, _, _ = per_item(_each(timeutil.parse_iso, stamps), repeat)
            rows.append(("timestamp: timeutil.parse_iso", med, stamps[0]))
            med, _, _ = per_item(_each(datetime.fromisoformat, stamps), repeat)
            rows.append(("timestamp: datetime.fromisoformat alone", med, "for comparison"))
        elif fmt == "slack":
            med, _, _ = per_item(_each(timeutil.from_epoch_seconds, stamps), repeat)
            rows.append(("timestamp: timeutil.from_epoch_seconds(str)", med, stamps[0]))
        else:
            med, _, _ = per_item(_each(timeutil.from_epoch_float_ms, stamps), repeat)
            rows.append(("timestamp: timeutil.from_epoch_float_ms", med, repr(stamps[0])))

        dumps = [m.model_dump() for m in msgs]
        med, _, _ = per_item(_each(Message.model_validate, dumps), repeat)
        rows.append(("model: Message.model_validate(dict)", med, "the reader's own records"))
        json_dumps = [m.__pydantic_serializer__.to_json(m) for m in msgs]
        med, _, _ = per_item(_each(Message.model_validate_json, json_dumps), repeat)
        rows.append(("  Message.model_validate_json (sorter spill read)", med, ""))
        med, _, _ = per_item(_each(lambda m: m.__pydantic_serializer__.to_json(m), msgs), repeat)
        rows.append(("  __pydantic_serializer__.to_json (sorter spill write)", med, ""))

        med, _, _ = per_item(_each(lambda r: detect_losses(r, features, namespace), recs), repeat)
        rows.append(("filters+loss: detect_losses", med, "per record"))

        def sort_with(threshold: int, max_bytes: int) -> Callable[[], int]:
            return lambda: _drain(ConversationSorter(threshold, max_bytes=max_bytes)(recs))

        # (the default 16 MiB budget would spill these 20,000 held records: say which path)
        med, _, _ = per_item(sort_with(10**9, 1 << 40), repeat)
        rows.append(("sort: ConversationSorter, in memory", med, "no spill"))
        med, _, _ = per_item(sort_with(2_000, 1 << 40), repeat)
        rows.append(("sort: ConversationSorter, spilling every 2,000", med, "the >budget path"))

        try:
            # through importlib: the adapters package ships no py.typed marker (yet)
            common = importlib.import_module("memshift_adapters.everos._common")
            content_text = common.content_text
            med, _, _ = per_item(_each(lambda m: content_text(m, "skip"), msgs), repeat)
            rows.append(("render: everos content_text", med, ""))
        except ImportError:
            rows.append(("render: everos content_text", float("nan"), "not importable"))

        items = [
            {
                "message_id": m.id,
                "role": m.role if m.role in ("user", "assistant") else "user",
                "sender_id": m.sender_id,
                "sender_name": m.sender_name,
                "timestamp": timeutil.to_epoch_ms(m.timestamp) if m.timestamp else 0,
                "content": m.text,
            }
            for m in msgs
        ]
        med, _, _ = per_item(_each(jsonio.dumps, items), repeat)
        rows.append(("encode: jsonio.dumps(everos item)", med, ""))
        med, _, _ = per_item(_each(timeutil.to_epoch_ms, [m.timestamp for m in msgs]), repeat)
        rows.append(("  timeutil.to_epoch_ms", med, ""))

        def write_all() -> int:
            with tempfile.TemporaryDirectory(dir=scratch) as tmp:
                memshift.write(recs, Path(tmp) / "out", "everos", on_loss="ignore")
            return len(msgs)

        med, _, _ = per_item(write_all, repeat)
        rows.append(("write: everos writer + dir sink (records prebuilt)", med, "per message"))
    finally:
        gc.unfreeze()

    def convert_all() -> int:
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            report = memshift.convert(
                str(src), Path(tmp) / "out", src=fmt, dst="everos", on_loss="ignore"
            )
        return int(report.read)

    med, _, n_conv = per_item(convert_all, repeat)
    rows.append(("convert: memshift.convert end to end, in process", med, f"{n_conv:,} read"))
    return rows


def retained_bytes(fmt: str, src: Path) -> tuple[float, int]:
    """Bytes each Message keeps alive when held (what the sorter buffers before spilling)."""
    it = memshift.read(str(src), fmt)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = [r for r in it if isinstance(r, Message)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / max(len(held), 1), len(held)


def cprofile(fmt: str, src: Path, out: Path | None, top: int, scratch: Path) -> str:
    prof = cProfile.Profile()
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        prof.enable()
        memshift.convert(str(src), Path(tmp) / "out", src=fmt, dst="everos", on_loss="ignore")
        prof.disable()
    if out is not None:
        prof.dump_stats(str(out))
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def make_input(fmt: str, records: int, workdir: Path, seed: int) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    if fmt == "openai":
        size = max(10, records // 15)  # about 15 message nodes per conversation
        src = workdir / f"profile-conversations-{size}.json"
    else:
        size = records
        src = workdir / (
            f"profile-dce-{size}.json" if fmt == "discord" else f"profile-slack-{size}"
        )
    if not src.exists():
        kw: dict[str, Any] = {"channels": 20} if fmt == "slack" else {}
        generate.generate(fmt, src, size, seed=seed, **kw)
    return src


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--format", choices=["discord", "slack", "openai"], default="discord")
    ap.add_argument("--records", type=int, default=20_000, help="message records to profile")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--input", type=Path, default=None, help="an existing export instead")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/memshift-bench/profile"))
    ap.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    ap.add_argument(
        "--cprofile",
        type=Path,
        nargs="?",
        const=Path("-"),
        default=None,
        help="also profile one convert with cProfile (optionally save .prof here)",
    )
    ap.add_argument("--top", type=int, default=25, help="cProfile rows to print")
    args = ap.parse_args(argv)

    src = args.input or make_input(args.format, args.records, args.workdir, args.seed)
    print(f"# {args.format}: {src} (repeat {args.repeat}, median)\n")
    # outputs go under --workdir, not the system temp dir: the cost of creating a file differs by
    # directory (17-800 us on the benchmark machine), and the writer creates one per document
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = stage_table(args.format, src, args.repeat, args.workdir)
    convert_us = rows[-1][1]
    print("| stage | us/record | share of convert | note |")
    print("|---|---:|---:|---|")
    for name, us, note in rows:
        share = f"{100 * us / convert_us:.0f}%" if us == us and convert_us else ""
        print(f"| {name} | {us:.2f} | {share} | {note} |")
    per_msg, held = retained_bytes(args.format, src)
    print(
        f"\nRetained memory per Message held in a list (tracemalloc, {held:,} messages): "
        f"{per_msg:,.0f} bytes; the sorter's 16 MiB budget (ordering.DEFAULT_MAX_BYTES) holds "
        f"about {DEFAULT_MAX_BYTES / per_msg:,.0f} of them."
    )
    if args.cprofile is not None:
        target = None if str(args.cprofile) == "-" else args.cprofile
        print("\n```")
        print(cprofile(args.format, src, target, args.top, args.workdir).rstrip())
        print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
