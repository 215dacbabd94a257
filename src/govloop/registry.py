"""Imports every domain's models so the metadata is complete (migrations, tests)."""

from __future__ import annotations


def import_all_models() -> None:
    import govloop.access.models
    import govloop.actions.models
    import govloop.analytics.models
    import govloop.audit.models
    import govloop.catalog.models
    import govloop.core.models
    import govloop.field.models
    import govloop.hall.models
    import govloop.hotline.models
    import govloop.indicators.models
    import govloop.ingest.models
    import govloop.insight.models
    import govloop.matters.models
    import govloop.notify.models
    import govloop.org.models
    import govloop.ratings.models
    import govloop.retention.models
    import govloop.setup.models
    import govloop.subjects.models  # noqa: F401
