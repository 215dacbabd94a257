"""Mobile workbench (PWA) for front-line field staff: tasks, offline forms, device copies of
case data encrypted under the grant's key."""

# This domain answers for its cases when access asks (registers with access).
from govloop.field import cases as _cases  # noqa: F401
