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

        _forget_cached_tokens()


def _forget_cached_tokens():
    """A saved user or team (role, team, active flag, manager …), users or teams changed in
    bulk (``accounts.events.users_changed``) and a deleted token drop the cached token entries
    they could make stale (see ``api.tokens``); tokens changed in bulk drop their own
    (``ApiTokenQuerySet.update``)."""
    from django.db.models.signals import post_delete, post_save, pre_save

    from accounts import events
    from accounts.models import Team, User
    from api import tokens
    from api.models import ApiToken

    def user_saved(sender, instance, **kwargs):
        tokens.forget_users([instance.pk])

    def team_changing(sender, instance, **kwargs):
        old = Team.objects.filter(pk=instance.pk).values_list("manager_id", flat=True).first()
        instance._manager_before = old

    def team_saved(sender, instance, **kwargs):
        # The teams a manager manages are cached with their tokens: the old and new manager.
        ids = {instance.manager_id, getattr(instance, "_manager_before", None)} - {None}
        tokens.forget_users(ids)

    def token_gone(sender, instance, **kwargs):
        tokens.forget(instance.digest)

    def users_changed(sender, user_ids, **kwargs):
        tokens.forget_users(user_ids)

    post_save.connect(user_saved, sender=User, weak=False, dispatch_uid="api.user_saved")
    post_delete.connect(user_saved, sender=User, weak=False, dispatch_uid="api.user_deleted")
    pre_save.connect(team_changing, sender=Team, weak=False, dispatch_uid="api.team_changing")
    post_save.connect(team_saved, sender=Team, weak=False, dispatch_uid="api.team_saved")
    post_delete.connect(team_saved, sender=Team, weak=False, dispatch_uid="api.team_deleted")
    post_save.connect(token_gone, sender=ApiToken, weak=False, dispatch_uid="api.token_saved")
    post_delete.connect(token_gone, sender=ApiToken, weak=False, dispatch_uid="api.token_gone")
    events.users_changed.connect(users_changed, weak=False, dispatch_uid="api.users_changed")


def _receiver(hook):
    def receive(sender, signal, **kwargs):
        hook(**kwargs)

    return receive
