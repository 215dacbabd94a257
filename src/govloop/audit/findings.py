"""What a verification of the audit log (or of its anchor) found wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    # modified / deleted / reordered / broken / rewritten / truncated / bad_signature /
    # untrusted_key / head_mismatch / anchor_missing / anchor_mismatch / anchor_invalid
    kind: str
    seq: int
    message: str
