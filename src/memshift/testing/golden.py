"""Golden fixtures: ``fixtures/<format>/<case>/`` holds an ``input`` and the canonical records the
reader must produce from it (``expected.jsonl``).

A case directory contains:

* ``input`` or ``input.<ext>``: a file, a directory, or a zip, as the source system makes it;
* ``expected.jsonl``: the records the reader yields, written by the ``canonical`` adapter;
* ``options.json`` (optional): read options for this case;
* ``report.json`` (optional): counts the conversion report must show
  (``{"read": 5, "filtered": {...}, "rejected": 0}``).

Regenerate after a deliberate change with ``python -m memshift.testing.golden FORMAT [CASE]`` and
review the diff like code.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memshift import jsonio
from memshift.context import Context
from memshift.model import AnyRecord, record_from_dict
from memshift.registry import Registry, default_registry
from memshift.sources import open_source

__all__ = ["GoldenCase", "find_cases", "load_expected", "read_case", "regenerate"]


@dataclass(frozen=True)
class GoldenCase:
    format: str
    name: str
    directory: Path

    @property
    def id(self) -> str:
        return f"{self.format}/{self.name}"

    @property
    def input(self) -> Path:
        matches = sorted(
            p for p in self.directory.iterdir() if p.name == "input" or p.name.startswith("input.")
        )
        if not matches:
            raise FileNotFoundError(f"{self.directory}: no input")
        return matches[0]

    @property
    def expected_path(self) -> Path:
        return self.directory / "expected.jsonl"

    @property
    def options(self) -> dict[str, Any]:
        path = self.directory / "options.json"
        return json.loads(path.read_text()) if path.exists() else {}

    @property
    def expected_report(self) -> dict[str, Any] | None:
        path = self.directory / "report.json"
        return json.loads(path.read_text()) if path.exists() else None


def find_cases(root: Path, fmt: str | None = None) -> list[GoldenCase]:
    cases: list[GoldenCase] = []
    if not root.exists():
        return cases
    for fmt_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if fmt is not None and fmt_dir.name != fmt:
            continue
        for case_dir in sorted(p for p in fmt_dir.iterdir() if p.is_dir()):
            if any(p.name == "input" or p.name.startswith("input.") for p in case_dir.iterdir()):
                cases.append(GoldenCase(fmt_dir.name, case_dir.name, case_dir))
    return cases


def load_expected(case: GoldenCase) -> list[AnyRecord]:
    out: list[AnyRecord] = []
    for line in case.expected_path.read_bytes().splitlines():
        if not line.strip():
            continue
        obj = jsonio.loads(line)
        if "memshift_schema" in obj:
            continue
        out.append(record_from_dict(obj))
    return out


def read_case(
    case: GoldenCase, registry: Registry | None = None, ctx: Context | None = None
) -> list[AnyRecord]:
    reg = registry or default_registry()
    adapter = reg.get(case.format, "read")
    opts = adapter.ReadOptions.model_validate(case.options)
    with open_source(case.input) as source:
        return list(adapter.read(source, opts, ctx or Context()))


def regenerate(case: GoldenCase, registry: Registry | None = None) -> None:
    records = read_case(case, registry)
    lines = [jsonio.dumps_line({"memshift_schema": "1.0"})]
    lines += [r.__pydantic_serializer__.to_json(r, exclude_none=True) + b"\n" for r in records]
    case.expected_path.write_bytes(b"".join(lines))


def main(argv: list[str]) -> int:
    root = Path("fixtures")
    fmt = argv[0] if argv else None
    only = argv[1] if len(argv) > 1 else None
    for case in find_cases(root, fmt):
        if only and case.name != only:
            continue
        regenerate(case)
        sys.stderr.write(f"regenerated {case.id}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
