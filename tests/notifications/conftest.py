import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from notifications.models import Preference

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    """An aware instant from ISO text (UTC when no offset is given)."""
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def prefer(user, **fields) -> Preference:
    pref, _ = Preference.objects.update_or_create(user=user, defaults=fields)
    return pref


@pytest.fixture
def utc8(rep, manager, rep2):
    """rep, manager and rep2 want their digest at 08:00 UTC."""
    for user in (rep, manager, rep2):
        prefer(user, digest_hour=8, time_zone="UTC")


__all__ = ["ZoneInfo", "at", "prefer"]
