"""seed_demo creates users with publicly known passwords: with production settings (DEBUG off,
OPPORTUNE_DEV unset) it refuses, says why, and writes nothing, unless --force is given."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User

TODAY = dt.date(2026, 11, 27)


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.OPPORTUNE_DEV = False


@pytest.mark.django_db
def test_seed_demo_refuses_with_production_settings(production):
    with pytest.raises(CommandError) as refused:
        call_command("seed_demo", opportunities=5, seed=1, today=TODAY, snapshots=False)
    message = str(refused.value)
    assert "production settings" in message
    assert "DEBUG is off and OPPORTUNE_DEV is unset" in message
    assert "--force" in message and "OPPORTUNE_DEV=1" in message
    assert not User.objects.exists()


@pytest.mark.django_db
def test_seed_demo_refuses_even_if_empty_with_production_settings(production):
    with pytest.raises(CommandError, match="production settings"):
        call_command("seed_demo", opportunities=5, if_empty=True, snapshots=False)
    assert not User.objects.exists()


@pytest.mark.django_db
def test_seed_demo_runs_with_force_under_production_settings(production):
    call_command(
        "seed_demo", opportunities=5, seed=1, today=TODAY, snapshots=False, force=True, verbosity=0
    )
    assert User.objects.filter(username="admin").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("flags", [{"DEBUG": True}, {"OPPORTUNE_DEV": True}])
def test_seed_demo_runs_in_development(settings, flags):
    settings.DEBUG = False
    settings.OPPORTUNE_DEV = False
    for name, value in flags.items():
        setattr(settings, name, value)
    call_command("seed_demo", opportunities=5, seed=1, today=TODAY, snapshots=False, verbosity=0)
    assert User.objects.exists()
