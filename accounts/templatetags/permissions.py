"""The named role questions of :mod:`accounts.visibility` as template filters, so a template
asks ``{% if user|can_administer %}`` instead of comparing roles."""

from django import template

from accounts import visibility

register = template.Library()

for _question in (
    visibility.can_administer,
    visibility.can_assign_owner,
    visibility.can_calibrate_stages,
    visibility.can_use_two_factor,
    visibility.follows_team,
):
    register.filter(_question.__name__, _question)
