"""Every access test signs audit checkpoints with keys in its own temporary key folder, and
no server-side anchor is configured unless a test sets one."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def audit_key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "audit-keys"
    monkeypatch.setenv("GOVLOOP_AUDIT_KEY_DIR", str(folder))
    monkeypatch.delenv("GOVLOOP_AUDIT_ANCHOR_DIR", raising=False)
    return folder
