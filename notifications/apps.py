from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        """Listen to the domain events the services announce (the services never import this
        app: layers run one way)."""
        from forecasting import events as forecast_events
        from notifications import events as notify
        from pipeline import events as pipeline_events

        hooks = [
            (pipeline_events.deal_created, notify.deal_created),
            (pipeline_events.deal_changed, notify.deal_changed),
            (pipeline_events.deal_moved, notify.deal_moved),
            (pipeline_events.lead_assigned, notify.lead_assigned),
            (pipeline_events.activity_logged, notify.activity_logged),
            (forecast_events.adjustment_set, notify.adjustment_set),
        ]
        for signal, hook in hooks:
            signal.connect(_receiver(hook), weak=False, dispatch_uid=f"notify.{hook.__name__}")


def _receiver(hook):
    def receive(sender, signal, **kwargs):
        hook(**kwargs)

    return receive
