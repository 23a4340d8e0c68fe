"""Sign-in hooks (connected in ``AccountsConfig.ready``)."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from accounts import services

# True when the signed-in user has a confirmed two-factor device (see accounts.middleware).
TWO_FACTOR_SESSION_KEY = "accounts_two_factor_device"


@receiver(user_logged_in, dispatch_uid="accounts.remember_two_factor_device")
def remember_two_factor_device(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is not None:
        session[TWO_FACTOR_SESSION_KEY] = services.has_confirmed_device(user)
