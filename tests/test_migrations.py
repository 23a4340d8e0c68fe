"""Models and migrations agree: a model change without its migration fails here (and in CI)."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_makemigrations_check_is_clean():
    # Raises SystemExit(1) when a model has changes that no migration records.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
