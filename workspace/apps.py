from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """The top layer: what combines every app below it (the home page, the demo data)."""

    name = "workspace"
    verbose_name = "Workspace"
