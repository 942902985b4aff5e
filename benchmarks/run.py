"""memshift end to end against the raw ijson parse and a naive ``json.load`` converter, on the
same generated file, in one run.

Each case runs in a fresh child process; wall time is measured around the whole process (start-up
and imports included, which is what a user waits for), peak RSS and CPU time come from the
child's own ``rusage`` (``os.wait4``), so one case's memory never leaks into another's. Runs are
interleaved (repetition 1 of every case, then repetition 2, ...) so that a noisy neighbour hurts
all cases alike, and the median is reported. Every output is checked (record counts against the
generator's sidecar, EverOS documents parsed and validated, the memshift report balanced), and
``--smoke`` also checks that generation and conversion are byte-for-byte deterministic.

    python benchmarks/run.py --smoke                                  # what CI runs (< 1 min)
    python benchmarks/run.py --formats discord --sizes 100k,1M --repeat 3
    python benchmarks/run.py --formats slack,openai --sizes 100k --conversations 10k --json r.json
    python benchmarks/run.py --formats discord-multi --sizes 1M --jobs 2

Targets (issue 5) are checked at the end and printed as PASS / MISS / FAIL; they are informational
in ``--smoke`` and make the exit status 3 only with ``--strict-targets``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

FORMATS = ("discord", "slack", "openai", "discord-multi")
MULTI_FILES = 4  # discord-multi: the size is split over this many channel files
DEFAULT_SIZES = {
    "discord-multi": [1_000_000],
    "discord": [100_000, 1_000_000],
    "slack": [100_000, 1_000_000],
    "openai": [1_000, 10_000],
}
SMOKE_SIZES = {"discord": [2_000], "slack": [3_000], "openai": [100], "discord-multi": [2_000]}
UNIT = {
    "discord": "messages",
    "slack": "messages",
    "openai": "conversations",
    "discord-multi": "messages",
}
MB = 1_000_000
MIB = 1024 * 1024
RSS_LIMIT_BYTES = 100 * MB  # "Peak RSS <= 100 MB": decimal MB, the stricter reading
RSS_GROWTH_BYTES = 15 * MB


# -- measuring one child process -------------------------------------------------------------------


@dataclass
class Run:
    format: str
    size: int
    case: str
    rep: int
    wall_s: float
    cpu_s: float
    maxrss_kib: int
    returncode: int
    inproc_s: float | None = None
    records: int | None = None
    written: int | None = None
    output_bytes: int | None = None
    output_files: int | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# Linux charges a child with its parent's peak RSS at the moment of fork/exec (the old mm's
# high-water mark is folded into the child's ``ru_maxrss``). Spawned from this harness (30+ MiB with
# orjson and the generator loaded), even ``python -c pass`` would report 30 MiB. So children are
# spawned by a tiny launcher (``python -S -I``, stdlib only, about 9 MiB) that does nothing else:
# the ``ru_maxrss`` it reads with ``os.wait4`` is the child's own peak (floored at the launcher's).
_LAUNCHER = r"""
import json, os, sys, time
for line in sys.stdin:
    req = json.loads(line)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, req["stdout"], flags, 0o644),
               (os.POSIX_SPAWN_OPEN, 2, req["stderr"], flags, 0o644)]
    t0 = time.perf_counter()
    try:
        pid = os.posix_spawn(req["cmd"][0], req["cmd"], req["env"], file_actions=actions)
    except OSError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        continue
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "maxrss": ru.ru_maxrss,
                      "code": os.waitstatus_to_exitcode(status)}), flush=True)
"""


class Launcher:
    """The small process that spawns and reaps the measured children (see ``_LAUNCHER``)."""

    _proc: subprocess.Popen[str] | None = None

    @classmethod
    def run(cls, cmd: list[str], stdout: Path, stderr: Path) -> dict[str, Any]:
        if cls._proc is None or cls._proc.poll() is not None:
            cls._proc = subprocess.Popen(
                [sys.executable, "-S", "-I", "-c", _LAUNCHER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        assert cls._proc.stdin is not None and cls._proc.stdout is not None
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
        exe = shutil.which(cmd[0]) or cmd[0]
        req = {"cmd": [exe, *cmd[1:]], "env": env, "stdout": str(stdout), "stderr": str(stderr)}
        cls._proc.stdin.write(json.dumps(req) + "\n")
        cls._proc.stdin.flush()
        reply: dict[str, Any] = json.loads(cls._proc.stdout.readline())
        if "error" in reply:
            raise OSError(f"cannot start {cmd[0]}: {reply['error']}")
        return reply

    @classmethod
    def close(cls) -> None:
        if cls._proc is not None and cls._proc.stdin is not None:
            cls._proc.stdin.close()
            cls._proc.wait()
            cls._proc = None


def measure(cmd: list[str], log_dir: Path, tag: str) -> tuple[float, float, int, int, str, str]:
    """Run ``cmd`` to completion; (wall s, cpu s, peak RSS KiB, exit code, stdout, stderr)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / f"{tag}.stdout", log_dir / f"{tag}.stderr"
    r = Launcher.run(cmd, out_path, err_path)
    return (
        r["wall"],
        r["cpu"],
        r["maxrss"],
        r["code"],
        out_path.read_text("utf-8", "replace"),
        err_path.read_text("utf-8", "replace"),
    )


def memshift_bin() -> list[str]:
    exe = Path(sys.executable).with_name("memshift")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "memshift"]


def memshift_has_jobs() -> bool:
    try:
        out = subprocess.run(
            [*memshift_bin(), "convert", "--help"], capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "--jobs" in out


def memshift_formats() -> set[str]:
    try:
        out = subprocess.run(
            [*memshift_bin(), "formats"], capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    names = set()
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "yes":
            names.add(parts[0])
        if len(parts) >= 3 and parts[2] == "yes":
            names.add(parts[0] + ":write")
    return names


_SUMMARY = re.compile(
    r"read (\d+), written (\d+), filtered (\d+), rejected (\d+)",
)


def tree_stats(path: Path) -> tuple[int, int]:
    if path.is_file():
        return path.stat().st_size, 1
    total = files = 0
    for p in path.rglob("*"):
        if p.is_file():
            total += p.stat().st_size
            files += 1
    return total, files


def tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(f.relative_to(path).as_posix().encode() if path.is_dir() else b"")
        h.update(b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


# -- validating EverOS output ----------------------------------------------------------------------


def validate_everos(out: Path, full: bool) -> tuple[int, list[str]]:
    """Count and check the messages of every EverOS document under ``out``.

    ``full`` checks every message's fields (smoke sizes); otherwise messages are only counted,
    streaming, so a 1M-message document does not need gigabytes here.
    """
    import ijson

    problems: list[str] = []
    count = 0
    paths = [out] if out.is_file() else sorted(p for p in out.rglob("*") if p.is_file())
    docs = [p for p in paths if p.suffix in (".json", ".jsonl") and not p.name.startswith(".")]
    if not docs:
        return 0, [f"{out}: no EverOS documents written"]
    for path in docs:
        if path.suffix == ".jsonl":
            with open(path, "rb") as fh:
                for i, line in enumerate(fh):
                    if line.strip():
                        doc = json.loads(line)
                        count += _check_doc(doc, f"{path.name}:{i + 1}", problems, full)
            continue
        if full:
            with open(path, "rb") as fh:
                try:
                    doc = json.load(fh)
                except ValueError as exc:
                    problems.append(f"{path.name}: invalid JSON: {exc}")
                    continue
            count += _check_doc(doc, path.name, problems, full)
        else:
            with open(path, "rb") as fh:
                count += sum(1 for _ in ijson.items(fh, "messages.item", use_float=True))
    return count, problems


def _check_doc(doc: Any, where: str, problems: list[str], full: bool) -> int:
    if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
        problems.append(f"{where}: not an EverOS document (no messages array)")
        return 0
    group = "group_id" in doc
    if not group and "user_id" not in doc:
        problems.append(f"{where}: neither group_id nor user_id")
    msgs = doc["messages"]
    if full:
        last = 0
        for i, m in enumerate(msgs):
            here = f"{where}: messages[{i}]"
            if m.get("role") not in ("user", "assistant"):
                problems.append(f"{here}.role = {m.get('role')!r}")
            ts = m.get("timestamp")
            if not isinstance(ts, int) or ts < 10**12:
                problems.append(f"{here}.timestamp = {ts!r} (want int ms)")
            elif ts < last:
                problems.append(f"{here}.timestamp goes back in time")
            else:
                last = ts
            content = m.get("content")
            if not content or not isinstance(content, (str, list)):
                problems.append(f"{here}.content is empty")
            if group and not m.get("sender_id"):
                problems.append(f"{here}.sender_id missing in a group document")
            mid = m.get("message_id")
            if mid is not None and (not isinstance(mid, str) or mid.startswith("gen_")):
                problems.append(f"{here}.message_id = {mid!r}")
            if len(problems) > 20:
                break
    return len(msgs)


# -- one format at one size ------------------------------------------------------------------------


@dataclass
class Plan:
    fmt: str
    size: int
    srcs: list[Path]
    meta: dict[str, Any]
    work: Path

    @property
    def reader(self) -> str:
        """The memshift format name (the multi-file scenario reads discord)."""
        return self.fmt.removesuffix("-multi")


def case_command(case: str, plan: Plan, out: Path) -> list[str]:
    py = sys.executable
    srcs = [str(p) for p in plan.srcs]
    if case == "raw":
        return [py, str(HERE / "cases.py"), "raw", plan.reader, *srcs]
    if case == "naive":
        return [py, str(HERE / "cases.py"), "naive", plan.reader, str(out), *srcs]
    if case.startswith("memshift"):
        cmd = [*memshift_bin(), "convert", *srcs, "-f", plan.reader, "-t", "everos", "-o", str(out)]
        if "_j" in case:
            cmd += ["--jobs", case.rsplit("_j", 1)[1]]
        return cmd
    raise ValueError(case)


def run_case(plan: Plan, case: str, rep: int, validate: str) -> Run:
    out = plan.work / f"out-{case}"
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    cmd = case_command(case, plan, out)
    tag = f"{plan.fmt}-{plan.size}-{case}-{rep}"
    wall, cpu, rss, code, stdout, stderr = measure(cmd, plan.work / "logs", tag)
    run = Run(plan.fmt, plan.size, case, rep, round(wall, 3), round(cpu, 3), rss, code)
    if code != 0:
        run.error = (stderr.strip().splitlines() or [f"exit {code}"])[-1][:500]
        return run
    if case in ("raw", "naive"):
        info = json.loads(stdout.strip().splitlines()[-1])
        run.inproc_s = round(info["seconds"], 3)
        run.records = info["records"]
        run.written = info.get("written")
        if case == "raw" and info.get("backend") != "yajl2_c":
            run.extra["warning"] = f"ijson backend is {info.get('backend')}, not yajl2_c"
    else:
        m = _SUMMARY.search(stderr)
        if m is None:
            run.error = "no summary line from memshift convert"
            return run
        read, written, filtered, rejected = map(int, m.groups())
        run.records, run.written = read, written
        run.extra.update(filtered=filtered, rejected=rejected)
        if read != written + filtered + rejected:
            run.error = f"report does not balance: {m.group(0)}"
    if case != "raw":
        run.output_bytes, run.output_files = tree_stats(out)
        if validate != "none" and case.startswith("memshift") and run.error is None:
            count, problems = validate_everos(out, full=validate == "full")
            run.extra["validated_messages"] = count
            if problems:
                run.error = "invalid EverOS output: " + "; ".join(problems[:5])
            elif count != run.written:
                run.error = f"EverOS documents hold {count} messages, report says {run.written}"
        if rep == 0 and case.startswith("memshift"):
            run.extra["digest"] = tree_digest(out)
    expected = plan.meta["records"]
    if run.error is None and run.records is not None and run.records != expected:
        run.error = f"{case} saw {run.records} records, the generator wrote {expected}"
    return run


def check_generator(fmt: str, size: int, src: Path, work: Path, seed: int, shape: str) -> list[str]:
    """Generate the same input again and compare digests (the benchmark's inputs must be
    reproducible on any machine)."""
    again = work / ("again-" + src.name)
    if again.exists():
        shutil.rmtree(again) if again.is_dir() else again.unlink()
    kw: dict[str, Any] = {"shape": shape} if fmt == "discord" else {}
    if fmt == "slack":
        kw["channels"] = 200 if size >= 10_000 else 20
    generate.generate(fmt, again, size, seed=seed, **kw)
    same = tree_digest(again) == tree_digest(src)
    shutil.rmtree(again) if again.is_dir() else again.unlink()
    again.with_name(again.name + ".meta.json").unlink()
    return [] if same else [f"{fmt}: the generator is not deterministic"]


def warm(path: Path) -> None:
    """Read the input once so every case starts from a warm page cache."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(1 << 22):
                pass


def ensure_inputs(
    fmt: str, size: int, work: Path, seed: int, shape: str
) -> tuple[list[Path], dict[str, Any]]:
    """The generated input(s) for one format and size, reused when the seed matches."""
    if fmt != "discord-multi":
        src, meta = ensure_input(fmt, size, work, seed, shape)
        return [src], meta
    srcs, metas = [], []
    for i in range(MULTI_FILES):
        part = size // MULTI_FILES + (1 if i < size % MULTI_FILES else 0)
        src, meta = ensure_input(
            "discord", part, work / f"multi-{size}", seed + i, shape, tag=f"-part{i + 1}"
        )
        srcs.append(src)
        metas.append(meta)
    total = {k: sum(m[k] for m in metas) for k in ("records", "messages", "bytes", "files")}
    return srcs, {**total, "conversations": len(metas), "seed": seed, "counts": None}


def ensure_input(
    fmt: str, size: int, work: Path, seed: int, shape: str, tag: str = ""
) -> tuple[Path, dict[str, Any]]:
    name = {
        "discord": f"dce-{shape}-{size}{tag}.json",
        "slack": f"slack-{size}{tag}",
        "openai": f"conversations-{size}{tag}.json",
    }[fmt]
    work.mkdir(parents=True, exist_ok=True)
    src = work / name
    meta_path = src.with_name(src.name + ".meta.json")
    if src.exists() and meta_path.exists():
        meta = generate.read_meta(src)
        if meta.get("seed") == seed and meta.get("generator_version") == generate.GENERATOR_VERSION:
            return src, meta
    if src.exists():
        shutil.rmtree(src) if src.is_dir() else src.unlink()
    kw: dict[str, Any] = {"shape": shape} if fmt == "discord" else {}
    if fmt == "slack":
        kw["channels"] = 200 if size >= 10_000 else 20
    print(f"  generating {fmt} {size:,} {UNIT[fmt]} -> {src}", file=sys.stderr, flush=True)
    meta = generate.generate(fmt, src, size, seed=seed, **kw)
    return src, meta


# -- summaries and targets -------------------------------------------------------------------------


def summarize(runs: list[Run], meta: dict[str, Any]) -> dict[str, Any]:
    by_case: dict[str, list[Run]] = {}
    for r in runs:
        by_case.setdefault(r.case, []).append(r)
    cases: dict[str, Any] = {}
    for case, rs in by_case.items():
        ok = [r for r in rs if r.error is None]
        if not ok:
            cases[case] = {"error": rs[0].error}
            continue
        wall = statistics.median(r.wall_s for r in ok)
        inproc = [r.inproc_s for r in ok if r.inproc_s is not None]
        cases[case] = {
            "wall_s": round(wall, 3),
            "walls": [r.wall_s for r in ok],
            "cpu_s": round(statistics.median(r.cpu_s for r in ok), 3),
            "inproc_s": round(statistics.median(inproc), 3) if inproc else None,
            "peak_rss_mib": round(max(r.maxrss_kib for r in ok) / 1024, 1),
            "records_per_s": round(meta["records"] / wall),
            "mb_per_s": round(meta["bytes"] / MB / wall, 1),
            "written": ok[0].written,
            "output_mb": round(ok[0].output_bytes / MB, 1) if ok[0].output_bytes else None,
            "extra": ok[0].extra,
        }
    ratios: dict[str, float] = {}
    ms, raw, naive = cases.get("memshift", {}), cases.get("raw", {}), cases.get("naive", {})
    if "wall_s" in ms and "wall_s" in raw:
        ratios["memshift_over_raw_wall"] = round(ms["wall_s"] / raw["wall_s"], 2)
        ratios["memshift_over_raw_cpu"] = round(ms["cpu_s"] / raw["cpu_s"], 2)
    if "wall_s" in ms and "wall_s" in naive:
        ratios["naive_over_memshift_wall"] = round(naive["wall_s"] / ms["wall_s"], 2)
        ratios["naive_over_memshift_rss"] = round(naive["peak_rss_mib"] / ms["peak_rss_mib"], 1)
    for case, c in cases.items():
        if case.startswith("memshift_j") and "wall_s" in c and "wall_s" in ms:
            ratios[f"{case}_speedup"] = round(ms["wall_s"] / c["wall_s"], 2)
            same = c["extra"].get("digest") == ms["extra"].get("digest")
            ratios[f"{case}_identical_output"] = float(same)
    return {"cases": cases, "ratios": ratios}


def _status(value: float | None, ok: bool, floor_ok: bool | None = None) -> str:
    if value is None:
        return "N/A"
    if ok:
        return "PASS"
    return "MISS" if floor_ok else "FAIL"


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 5's targets, evaluated on whatever sizes were run (noted when not the target size)."""
    targets: list[dict[str, Any]] = []
    for fmt, groups in results["formats"].items():
        sizes = sorted(int(s) for s in groups)
        if not sizes or fmt == "discord-multi":
            continue
        big = sizes[-1]
        target_size = 10_000 if fmt == "openai" else 1_000_000
        at = f"at {big:,} {UNIT[fmt]}" + (
            "" if big == target_size else f" (target is defined at {target_size:,})"
        )
        g = groups[str(big)]
        ms = g["cases"].get("memshift", {})
        rss = ms.get("peak_rss_mib")
        rss_bytes = rss * MIB if rss is not None else None

        def add(
            name: str, value: Any, want: str, status: str, fmt: str = fmt, at: str = at
        ) -> None:
            targets.append(
                {
                    "format": fmt,
                    "target": name,
                    "value": value,
                    "want": want,
                    "status": status,
                    "where": at,
                }
            )

        add(
            "peak RSS",
            f"{rss} MiB" if rss is not None else None,
            "<= 100 MB (95.4 MiB)",
            _status(rss_bytes, rss_bytes is not None and rss_bytes <= RSS_LIMIT_BYTES),
        )
        if len(sizes) > 1:
            small = groups[str(sizes[0])]["cases"].get("memshift", {}).get("peak_rss_mib")
            growth = None if rss is None or small is None else round(rss - small, 1)
            add(
                f"RSS growth {sizes[0]:,} -> {big:,}",
                None if growth is None else f"{growth} MiB",
                "<= 15 MB (14.3 MiB)",
                _status(growth, growth is not None and growth * MIB <= RSS_GROWTH_BYTES),
            )
        if fmt != "discord":
            continue
        r = g["ratios"]
        wr = r.get("memshift_over_raw_wall")
        add(
            "wall vs raw ijson parse",
            None if wr is None else f"{wr}x",
            "<= 2.0x (floor 2.5x)",
            _status(wr, wr is not None and wr <= 2.0, wr is not None and wr <= 2.5),
        )
        nw = r.get("naive_over_memshift_wall")
        add(
            "faster than naive",
            None if nw is None else f"{nw}x",
            ">= 3x",
            _status(nw, nw is not None and nw >= 3.0),
        )
        nr = r.get("naive_over_memshift_rss")
        add(
            "less peak memory than naive",
            None if nr is None else f"{nr}x",
            ">= 20x",
            _status(nr, nr is not None and nr >= 20.0),
        )
    return targets


# -- reporting -------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
        info["cpu"] = m.group(1).strip() if m else platform.processor()
        mem = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        info["mem_gib"] = round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None
    except OSError:
        info["cpu"] = platform.processor()
    try:
        import ijson
        import orjson
        import pydantic

        info["ijson"] = f"{ijson.__version__} ({ijson.backend})"
        info["orjson"] = orjson.__version__
        info["pydantic"] = pydantic.VERSION
    except ImportError:
        pass
    try:
        info["memshift_commit"] = (
            subprocess.run(
                ["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        info["memshift_commit"] = None
    return info


def file_create_us(directory: Path, n: int = 300) -> float:
    """Wall microseconds to create (and close) one empty file in ``directory``.

    memshift's directory sink creates a temporary file per output document, so a ChatGPT export
    of 10k conversations costs 10k file creations; on this benchmark machine that cost ranged from
    17 us to 800 us per file depending on the directory (ext4 inode allocation), which is reported
    with the results rather than hidden in them."""
    probe = directory / ".fs-probe"
    shutil.rmtree(probe, ignore_errors=True)
    probe.mkdir(parents=True)
    t0 = time.perf_counter()
    for i in range(n):
        os.close(os.open(probe / f"f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    cost = (time.perf_counter() - t0) * 1e6 / n
    shutil.rmtree(probe, ignore_errors=True)
    return round(cost, 1)


def loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def markdown(results: dict[str, Any]) -> str:
    lines = []
    m = results["machine"]
    lines.append(
        f"Machine: {m.get('cpu')}, {m.get('nproc')} CPUs, {m.get('mem_gib')} GiB, Python "
        f"{m.get('python')}, ijson {m.get('ijson')}, pydantic {m.get('pydantic')}, orjson "
        f"{m.get('orjson')}, memshift {m.get('memshift_commit')}. Load average before/after: "
        f"{results.get('loadavg_before')} / {results.get('loadavg_after')}. "
        f"Repeats: {results['repeat']} (median wall; max peak RSS). Creating one file in the "
        f"work directory: {results.get('file_create_us')} us (one per output document)."
    )
    st = results.get("startup")
    if st:
        lines.append(
            f"memshift process start-up (`memshift formats`, every plugin loaded): "
            f"{st['wall_s']} s, {st['peak_rss_mib']} MiB."
        )
    for fmt, groups in results["formats"].items():
        for size, g in sorted(groups.items(), key=lambda kv: int(kv[0])):
            meta = g["input"]
            lines.append("")
            lines.append(
                f"### {fmt}, {int(size):,} {UNIT[fmt]}: {meta['records']:,} message records, "
                f"{meta['bytes'] / MB:,.1f} MB in {meta['files']:,} file(s)"
            )
            lines.append("")
            lines.append(
                "| case | wall s | CPU s | in-process s | msgs/s | MB/s | peak RSS MiB | written "
                "| vs raw (wall) |"
            )
            lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            cases = g["cases"]
            raw_wall = cases.get("raw", {}).get("wall_s")
            for case in sorted(cases, key=_case_order):
                c = cases[case]
                if "error" in c:
                    lines.append(f"| {case} | error: {c['error']} | | | | | | | |")
                    continue
                vs = f"{c['wall_s'] / raw_wall:.2f}x" if raw_wall else ""
                inproc = "" if c["inproc_s"] is None else f"{c['inproc_s']:.2f}"
                written = "" if c["written"] is None else f"{c['written']:,}"
                lines.append(
                    f"| {case} | {c['wall_s']:.2f} | {c['cpu_s']:.2f} | {inproc} | "
                    f"{c['records_per_s']:,} | {c['mb_per_s']} | {c['peak_rss_mib']} | {written} "
                    f"| {vs} |"
                )
            if g["ratios"]:
                lines.append("")
                lines.append(
                    "Ratios: " + ", ".join(f"{k} = {v}" for k, v in sorted(g["ratios"].items()))
                )
    if results.get("targets"):
        lines.append("")
        lines.append("| format | target | measured | want | status | where |")
        lines.append("|---|---|---|---|---|---|")
        for t in results["targets"]:
            lines.append(
                f"| {t['format']} | {t['target']} | {t['value']} | {t['want']} | {t['status']} "
                f"| {t['where']} |"
            )
    return "\n".join(lines) + "\n"


def _case_order(case: str) -> tuple[int, str]:
    order = {"raw": 0, "memshift": 1, "naive": 9}
    return (order.get(case, 2), case)


# -- main ------------------------------------------------------------------------------------------


def parse_sizes(sizes: str | None, conversations: str | None, fmt: str, smoke: bool) -> list[int]:
    """Messages for discord/slack (``--sizes``), conversations for openai (``--conversations``):
    one list for both would make ``--sizes 1M`` mean a 17 GB ChatGPT export."""
    if smoke:
        return SMOKE_SIZES[fmt]
    text = conversations if fmt == "openai" else sizes
    if not text:
        return DEFAULT_SIZES[fmt]
    out = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        mult = 1
        if part.endswith("k"):
            part, mult = part[:-1], 1000
        elif part.endswith("m"):
            part, mult = part[:-1], 1_000_000
        out.append(int(float(part) * mult))
    return out


def compile_memshift() -> list[str]:
    """Byte-compile memshift's packages before measuring, as ``pip install`` does for a regular
    install. An editable install (this repository's venv) has no ``__pycache__``, and the
    children run with PYTHONDONTWRITEBYTECODE, so without this every run would compile memshift
    from source again: 0.13 s of a 0.33 s start-up on the benchmark machine."""
    import compileall

    done: list[str] = []
    for name in ("memshift", "memshift_adapters"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        folder = Path(module.__file__ or "").parent
        if compileall.compile_dir(str(folder), quiet=2):
            done.append(str(folder))
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument(
        "--formats",
        default="discord,slack,openai",
        help="comma-separated: discord, slack, openai, discord-multi (several files, --jobs)",
    )
    ap.add_argument(
        "--sizes",
        default=None,
        help="messages per export for discord, slack and discord-multi, comma-separated "
        "(default 100k,1M; discord-multi 1M)",
    )
    ap.add_argument(
        "--conversations",
        default=None,
        help="conversations per ChatGPT export for openai, comma-separated (default 1k,10k)",
    )
    ap.add_argument("--repeat", type=int, default=1, help="interleaved repetitions (median)")
    ap.add_argument(
        "--cases",
        default="raw,naive,memshift",
        help="comma-separated subset of raw, naive, memshift",
    )
    ap.add_argument(
        "--jobs",
        default="",
        help="discord-multi: also run memshift --jobs N for these N (e.g. 2)",
    )
    ap.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/memshift-bench"),
        help="inputs (reused across runs when the seed matches) and outputs",
    )
    ap.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    ap.add_argument(
        "--discord-shape",
        choices=["full", "lean"],
        default="full",
        help="lean = the research baseline's shape (empty nested lists)",
    )
    ap.add_argument(
        "--validate",
        choices=["auto", "full", "count", "none"],
        default="auto",
        help="auto: full field checks up to 200k records, counting above",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--markdown", type=Path, default=None, help="write the tables here")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, checks validity and determinism; timing never fails it",
    )
    ap.add_argument(
        "--strict-targets",
        action="store_true",
        help="exit 3 when a target FAILs (never in --smoke)",
    )
    ap.add_argument("--keep-outputs", action="store_true", help="keep converted outputs")
    args = ap.parse_args(argv)

    fmts = [f.strip() for f in args.formats.split(",") if f.strip()]
    for f in fmts:
        if f not in FORMATS:
            ap.error(f"unknown format {f!r}; choose from {', '.join(FORMATS)}")
    work: Path = args.workdir / ("smoke" if args.smoke else "")
    work.mkdir(parents=True, exist_ok=True)
    available = memshift_formats()
    has_jobs = memshift_has_jobs()
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    jobs = [int(j) for j in args.jobs.split(",") if j.strip()]
    if args.smoke and has_jobs:
        jobs = jobs or [2]
        if "discord-multi" not in fmts:
            fmts.append("discord-multi")
    if jobs and not has_jobs:
        print("note: `memshift convert` has no --jobs; skipping the --jobs cases", file=sys.stderr)
        jobs = []
    results: dict[str, Any] = {
        "machine": machine_info(),
        "argv": [Path(sys.executable).name, "benchmarks/run.py", *(argv or sys.argv[1:])],
        "repeat": args.repeat,
        "seed": args.seed,
        "smoke": args.smoke,
        "discord_shape": args.discord_shape,
        "loadavg_before": loadavg(),
        "file_create_us": file_create_us(work),
        "formats": {},
        "runs": [],
    }
    failures: list[str] = []
    if "everos:write" not in available:
        failures.append("memshift has no everos writer installed (memshift formats)")

    results["bytecode"] = compile_memshift()
    wall, _cpu, rss, _code, _, _ = measure([*memshift_bin(), "formats"], work / "logs", "startup")
    results["startup"] = {"wall_s": round(wall, 3), "peak_rss_mib": round(rss / 1024, 1)}

    for fmt in fmts:
        fmt_cases = list(cases)
        reader = fmt.removesuffix("-multi")
        if reader not in available and any(c.startswith("memshift") for c in fmt_cases):
            failures.append(f"memshift has no {reader} reader installed; measured raw/naive only")
            fmt_cases = [c for c in fmt_cases if not c.startswith("memshift")]
        elif "memshift" in fmt_cases and fmt == "discord-multi":
            # --jobs parallelises over inputs, so it is measured where there are several
            fmt_cases += [f"memshift_j{j}" for j in jobs if j != 1]
        results["formats"][fmt] = {}
        for size in parse_sizes(args.sizes, args.conversations, fmt, args.smoke):
            srcs, meta = ensure_inputs(fmt, size, work, args.seed, args.discord_shape)
            if args.smoke and fmt != "discord-multi":
                failures += check_generator(fmt, size, srcs[0], work, args.seed, args.discord_shape)
            validate = args.validate
            if validate == "auto":
                validate = "full" if meta["records"] <= 200_000 else "count"
            plan = Plan(fmt, size, srcs, meta, work / f"run-{fmt}-{size}")
            plan.work.mkdir(parents=True, exist_ok=True)
            print(
                f"{fmt} {size:,} {UNIT[fmt]}: {meta['bytes'] / MB:,.1f} MB in {meta['files']:,} "
                f"file(s), {meta['records']:,} records; cases {', '.join(fmt_cases)}",
                file=sys.stderr,
                flush=True,
            )
            for src in srcs:
                warm(src)
            runs: list[Run] = []
            reps = args.repeat + (1 if args.smoke else 0)  # smoke: a second memshift run
            for rep in range(reps):
                for case in fmt_cases:
                    again = args.smoke and rep > 0
                    if again and not case.startswith("memshift"):
                        continue
                    run = run_case(plan, case, rep, validate)
                    if again:
                        digest = tree_digest(plan.work / f"out-{case}")
                        first = next(r for r in runs if r.case == case).extra.get("digest")
                        if run.error or digest != first:
                            failures.append(f"{fmt}: memshift output differs between two runs")
                        continue
                    runs.append(run)
                    status = "ok" if run.error is None else f"ERROR {run.error}"
                    print(
                        f"  [{rep + 1}/{args.repeat}] {case:<12} {run.wall_s:8.2f} s "
                        f"{run.maxrss_kib / 1024:8.1f} MiB  {status}",
                        file=sys.stderr,
                        flush=True,
                    )
                    if run.error:
                        failures.append(f"{fmt} {size} {case}: {run.error}")
            summary = summarize(runs, meta)
            summary["input"] = {k: meta[k] for k in ("records", "bytes", "files", "conversations")}
            summary["input"]["counts"] = meta.get("counts")
            summary["input"]["paths"] = [str(p) for p in srcs]
            summary["validate"] = validate
            results["formats"][fmt][str(size)] = summary
            results["runs"].extend(asdict(r) for r in runs)
            for case in summary["ratios"]:
                if case.endswith("_identical_output") and not summary["ratios"][case]:
                    failures.append(f"{fmt} {size}: {case.split('_identical')[0]} output differs")
            if not args.keep_outputs:
                for case in fmt_cases:
                    out = plan.work / f"out-{case}"
                    if out.exists():
                        shutil.rmtree(out) if out.is_dir() else out.unlink()
    Launcher.close()
    results["loadavg_after"] = loadavg()
    results["targets"] = check_targets(results)
    results["failures"] = failures
    text = markdown(results)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
    for t in results["targets"]:
        note = " (smoke: informational)" if args.smoke else ""
        print(
            f"{t['status']:<4} {t['format']}: {t['target']} = {t['value']} (want {t['want']}, "
            f"{t['where']}){note}",
            file=sys.stderr,
        )
    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    if failures:
        return 1
    if (
        args.strict_targets
        and not args.smoke
        and any(t["status"] == "FAIL" for t in results["targets"])
    ):
        return 3
    if args.smoke:
        print("smoke: OK (pipeline ran, outputs valid and deterministic)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
