"""The avatar's letters in the account menu."""

import pytest

from accounts.models import User


@pytest.mark.parametrize(
    ("first", "last", "username", "expected"),
    [
        ("Ada", "Lovelace", "ada", "AL"),
        ("ada", "", "ada", "A"),
        ("", "", "rep3", "R"),
        ("  ", " ", "zoë", "Z"),
        ("Émile", "ōtsuka", "x", "ÉŌ"),
    ],
)
def test_initials(first, last, username, expected):
    assert User(first_name=first, last_name=last, username=username).initials == expected
