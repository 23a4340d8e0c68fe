"""Admins (role ``admin``) hold every model permission, like superusers, without needing
per-model permission rows; everyone else falls back to Django's model permissions."""

from django.contrib.auth.backends import BaseBackend

from accounts.visibility import can_administer


class RoleBackend(BaseBackend):
    def has_perm(self, user_obj, perm, obj=None):
        return can_administer(user_obj)

    def has_module_perms(self, user_obj, app_label):
        return can_administer(user_obj)
