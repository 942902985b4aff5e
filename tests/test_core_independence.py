"""The core never imports an adapter, and every built-in adapter is registered through the
project's own entry points (and nothing else)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_memshift_does_not_import_adapters() -> None:
    code = (
        "import sys, memshift, memshift.cli, memshift.pipeline, memshift.registry;"
        "bad=[m for m in sys.modules if m.startswith('memshift_adapters')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_core_source_never_mentions_adapter_package() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "src" / "memshift").rglob("*.py")
        if "memshift_adapters" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_every_adapter_package_has_an_entry_point_and_vice_versa() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    eps = meta["project"]["entry-points"]["memshift"]
    packages = {
        p.name
        for p in (ROOT / "adapters" / "memshift_adapters").iterdir()
        if p.is_dir() and (p / "__init__.py").exists()
    }
    for name in packages:
        assert eps.get(name) == f"memshift_adapters.{name}", f"{name} has no entry point"
    for name, target in eps.items():
        assert target == f"memshift_adapters.{name}"
        assert name in packages, f"entry point {name} has no package"


def test_adapters_package_init_has_no_registration_side_effects() -> None:
    init = (ROOT / "adapters" / "memshift_adapters" / "__init__.py").read_text()
    code = [
        line
        for line in init.splitlines()
        if line.strip() and not line.strip().startswith(("#", '"'))
    ]
    assert all(line.startswith(("entry", "exactly")) or "import" not in line for line in code)
