"""govloop's own Open311 schemas (``hotline/open311/schema/`` in the package) check every response
in every run. The official Open311 schemas are an optional cross-check on top: used when
the folder beside the repository (``../shared/reference/open311/schema``) or
``GOVLOOP_OPEN311_SCHEMA_DIR`` has them, otherwise the tests that need them are skipped
with the reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from govloop.hotline.open311.conformance import SCHEMA_DIR_ENV

_BESIDE = Path(__file__).resolve().parents[2].parent / "shared/reference/open311/schema"
if not os.environ.get(SCHEMA_DIR_ENV) and (_BESIDE / "swagger.json").is_file():
    os.environ[SCHEMA_DIR_ENV] = str(_BESIDE)

OFFICIAL_SCHEMAS = bool(os.environ.get(SCHEMA_DIR_ENV))
needs_official_schemas = pytest.mark.skipif(
    not OFFICIAL_SCHEMAS,
    reason=(
        f"the official Open311 schemas are not available (neither {_BESIDE} nor {SCHEMA_DIR_ENV})"
    ),
)
