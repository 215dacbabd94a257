"""Mobile workbench (PWA) for front-line field staff: tasks, offline forms, device copies of
case data encrypted under the grant's key."""
