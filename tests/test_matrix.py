"""Every source fixture into every destination: no crash, a balanced report, deterministic bytes,
and output that the destination's own reader accepts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import memshift
from memshift.registry import Registry
from memshift.testing import golden

from .conftest import FIXTURES

_REG = Registry()
CASES = [c for c in golden.find_cases(FIXTURES) if c.format in _REG.names()]
WRITERS = [f.name for f in _REG.formats() if f.can_write]


def _digest(path: Path) -> dict[str, str]:
    if path.is_file():
        return {"": hashlib.sha256(path.read_bytes()).hexdigest()}
    return {
        p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != ".memshift-manifest.jsonl"
    }


@pytest.mark.parametrize("dst", WRITERS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_convert_everything_to_everything(
    case: golden.GoldenCase, dst: str, tmp_path: Path
) -> None:
    layout = _REG.adapter_class(dst).output_layout
    outs = [
        tmp_path / ("a" if layout == "dir" else "a.out"),
        tmp_path / ("b" if layout == "dir" else "b.out"),
    ]
    reports = [
        memshift.convert(
            case.input,
            out,
            src=case.format,
            dst=dst,
            src_options=case.options,
            on_loss="ignore",
            registry=_REG,
        )
        for out in outs
    ]
    report = reports[0]
    assert report.balanced, report.to_dict()
    assert _digest(outs[0]) == _digest(outs[1]), "two runs over the same input differ"
    writer = _REG.adapter_class(dst)
    if writer.can_read() and report.written:
        back = list(memshift.read(outs[0], dst, registry=_REG))
        assert back, f"{dst} could not read back its own output"
