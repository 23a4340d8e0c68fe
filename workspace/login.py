"""The sign-in page. On a development installation whose demo data is loaded (and whose
demo admin still has the demo password), it names the demo accounts, so a newcomer after
``make run`` knows how to get in; a production installation never shows the hint."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.hashers import check_password

from accounts.models import User
from pipeline.demo import DEMO_PASSWORD

DEMO_ACCOUNTS = ("admin", "manager1", "rep1")


@lru_cache(maxsize=16)
def _is_demo_password(encoded: str) -> bool:
    # Keyed on the stored hash (which Django may re-salt at the first sign-in), so the slow
    # hasher runs once per hash and process, not on every view of the page.
    return check_password(DEMO_PASSWORD, encoded)


def demo_accounts() -> list[User]:
    """The demo users to suggest, or none: outside development, or when the demo's admin
    is absent or no longer has the demo password."""
    if not (settings.DEBUG or settings.OPPORTUNE_DEV):
        return []
    users = {
        user.username: user
        for user in User.objects.filter(username__in=DEMO_ACCOUNTS, is_active=True)
    }
    admin = users.get("admin")
    if admin is None or not _is_demo_password(admin.password):
        return []
    return [users[name] for name in DEMO_ACCOUNTS if name in users]


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        accounts = demo_accounts()
        context["demo_accounts"] = accounts
        context["demo_password"] = DEMO_PASSWORD if accounts else ""
        return context
