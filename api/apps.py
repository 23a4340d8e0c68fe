from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API and webhooks"

    def ready(self):
        """Webhooks listen to the domain events the services announce, like notifications do
        (the services never import this app)."""
        from api import hooks
        from pipeline import events

        pairs = [
            (events.deal_created, hooks.deal_created),
            (events.deal_changed, hooks.deal_changed),
            (events.deal_moved, hooks.deal_moved),
            (events.lead_created, hooks.lead_created),
            (events.lead_converted, hooks.lead_converted),
        ]
        for signal, hook in pairs:
            signal.connect(_receiver(hook), weak=False, dispatch_uid=f"webhook.{hook.__name__}")
        import api.schema  # noqa: F401  (registers the token scheme with drf-spectacular)


def _receiver(hook):
    def receive(sender, signal, **kwargs):
        hook(**kwargs)

    return receive
