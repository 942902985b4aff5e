"""Scale out past one process: one memshift task per export file, on a process pool, Ray or Dask.

memshift converts one export in one process in flat memory; what parallelises cleanly is the set
of exports a user brings (one DCE file per channel or thread, one Slack export per workspace, a
ChatGPT export per account). Each task is self-contained: it reads one input, writes its own
output directory and returns its report, so any engine that can map a Python function over a list
can run it. Nothing is shared between tasks, and the result of each is byte-identical to running
``memshift convert`` on that file alone.

The default engine is ``concurrent.futures.ProcessPoolExecutor`` (stdlib, one machine). The Ray
and Dask versions below are the same three lines with a different executor; they run only when
those packages are installed (``pip install ray`` / ``pip install "dask[distributed]"``), and a
cluster address is taken from the usual ``RAY_ADDRESS`` / ``--scheduler`` settings.

    # generate 4 small DCE exports and convert them on 2 worker processes
    python benchmarks/distributed_example.py --generate 4 --messages 20000 --workers 2

    # your own files
    python benchmarks/distributed_example.py exports/*.json -f discord -t everos -o out/
    python benchmarks/distributed_example.py exports/*.json -f discord --engine ray
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

Task = tuple[str, str, str | None, str]  # input path, output dir, source format, destination


def convert_one(task: Task) -> dict[str, Any]:
    """One unit of work: convert one export into its own output directory.

    Imports happen inside the task so that a Ray or Dask worker needs nothing but memshift
    installed; the return value is plain data (the report as a dict) so every engine can ship it
    back.
    """
    import memshift

    src, out, src_fmt, dst_fmt = task
    t0 = time.perf_counter()
    report = memshift.convert(src, out, src=src_fmt, dst=dst_fmt, on_loss="ignore")
    result: dict[str, Any] = report.to_dict()
    result.update(input=src, output=out, seconds=round(time.perf_counter() - t0, 3))
    return result


def run_process_pool(tasks: Sequence[Task], workers: int) -> list[dict[str, Any]]:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(convert_one, tasks))


def run_ray(tasks: Sequence[Task], workers: int) -> list[dict[str, Any]]:  # pragma: no cover
    import ray  # type: ignore[import-not-found]

    ray.init(ignore_reinit_error=True)  # RAY_ADDRESS=auto joins an existing cluster
    remote = ray.remote(num_cpus=1)(convert_one)
    return list(ray.get([remote.remote(t) for t in tasks]))


def run_dask(  # pragma: no cover
    tasks: Sequence[Task], workers: int, scheduler: str | None = None
) -> list[dict[str, Any]]:
    from dask.distributed import Client  # type: ignore[import-not-found]

    with (
        Client(scheduler) if scheduler else Client(n_workers=workers, threads_per_worker=1)
    ) as client:
        futures = client.map(convert_one, tasks, pure=False)
        return list(client.gather(futures))


def available_engines() -> list[str]:
    engines = ["process"]
    if importlib.util.find_spec("ray") is not None:
        engines.append("ray")
    if importlib.util.find_spec("dask") is not None and importlib.util.find_spec("distributed"):
        engines.append("dask")
    return engines


def plan(inputs: Sequence[Path], out: Path, src_fmt: str | None, dst_fmt: str) -> list[Task]:
    """One task per input; each gets ``out/<input stem>/`` so tasks never write the same file."""
    tasks: list[Task] = []
    used: set[str] = set()
    for path in inputs:
        stem = path.name.removesuffix(".json").removesuffix(".zip") or "export"
        name, n = stem, 2
        while name.lower() in used:
            name, n = f"{stem}-{n}", n + 1
        used.add(name.lower())
        tasks.append((str(path), str(out / name), src_fmt, dst_fmt))
    # biggest first: the pool finishes sooner when the long tasks start early
    tasks.sort(key=lambda t: -Path(t[0]).stat().st_size if Path(t[0]).is_file() else 0)
    return tasks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("inputs", nargs="*", type=Path, help="export files or directories")
    ap.add_argument("-f", "--from", dest="src", default=None, help="source format (detected)")
    ap.add_argument("-t", "--to", dest="dst", default="everos", help="destination format")
    ap.add_argument("-o", "--output", type=Path, default=None, help="output root directory")
    ap.add_argument("--engine", choices=["process", "ray", "dask"], default="process")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (process/dask)")
    ap.add_argument("--scheduler", default=None, help="dask scheduler address (optional)")
    ap.add_argument(
        "--generate",
        type=int,
        default=0,
        metavar="N",
        help="generate N synthetic DCE exports first (demo)",
    )
    ap.add_argument("--messages", type=int, default=20_000, help="messages per generated export")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/memshift-distributed"))
    args = ap.parse_args(argv)

    inputs: list[Path] = list(args.inputs)
    src_fmt: str | None = args.src
    if args.generate:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import generate

        args.workdir.mkdir(parents=True, exist_ok=True)
        for i in range(args.generate):
            path = args.workdir / f"channel-{i:03d}.json"
            if not path.exists():
                generate.generate_discord(path, messages=args.messages, seed=1000 + i)
            inputs.append(path)
        src_fmt = src_fmt or "discord"
    if not inputs:
        ap.error("give export files, or --generate N for a demo")
    if args.engine not in available_engines():
        ap.error(f"engine {args.engine!r} is not installed here; available: {available_engines()}")
    out = args.output or args.workdir / "out"
    tasks = plan(inputs, out, src_fmt, args.dst)

    engines: dict[str, Callable[[Sequence[Task], int], list[dict[str, Any]]]] = {
        "process": run_process_pool,
        "ray": run_ray,
        "dask": lambda t, w: run_dask(t, w, args.scheduler),
    }
    t0 = time.perf_counter()
    results = engines[args.engine](tasks, args.workers)
    wall = time.perf_counter() - t0

    failed = 0
    for r in sorted(results, key=lambda r: r["input"]):
        balanced = r["read"] == r["written"] + sum(r["filtered"].values()) + r["rejected"]
        failed += not balanced
        print(
            f"{Path(r['input']).name}: read {r['read']:,}, written {r['written']:,}, "
            f"filtered {sum(r['filtered'].values()):,}, rejected {r['rejected']:,} in "
            f"{r['seconds']:.2f} s -> {r['output']}{'' if balanced else '  UNBALANCED'}"
        )
    busy = sum(r["seconds"] for r in results)
    total = sum(r["read"] for r in results)
    print(
        f"{len(results)} task(s) on {args.engine} with {args.workers} worker(s): {total:,} "
        f"records in {wall:.2f} s wall ({total / wall:,.0f} records/s); the tasks' own time "
        f"adds up to {busy:.2f} s, so the pool ran {busy / wall:.2f} tasks at once on average"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
