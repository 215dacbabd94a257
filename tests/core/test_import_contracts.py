"""The layers and the absence of circles (pyproject's [tool.importlinter]) hold."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports() -> str:
    found = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    return found


def test_the_import_contracts_are_kept() -> None:
    result = subprocess.run(
        [_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 kept, 0 broken" in result.stdout


def test_a_domain_importing_upwards_breaks_the_layers(tmp_path: Path) -> None:
    """The contract is not vacuous: core importing a domain is reported."""
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    probe = ROOT / "src" / "govloop" / "core" / "_layer_probe.py"
    probe.write_text("import govloop.hall.service  # noqa: F401\n", encoding="utf-8")
    try:
        result = subprocess.run(
            [_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
    finally:
        probe.unlink()
    assert "[tool.importlinter]" in config
    assert result.returncode != 0
    assert "govloop.core._layer_probe -> govloop.hall.service" in result.stdout
