"""accounts.redirects.safe_next: a page's ``next`` is followed only within this site."""

import pytest

from accounts.redirects import safe_next


@pytest.mark.parametrize(
    ("nxt", "expected"),
    [
        ("/pipeline/board/?pipeline=1", "/pipeline/board/?pipeline=1"),
        ("https://evil.example/", "/home/"),
        ("//evil.example/x", "/home/"),
        ("javascript:alert(1)", "/home/"),
        ("", "/home/"),
    ],
)
def test_safe_next_follows_only_this_site(rf, nxt, expected):
    assert safe_next(rf.get("/x", {"next": nxt}), "/home/") == expected
    assert safe_next(rf.post("/x", {"next": nxt}), "/home/") == expected


def test_safe_next_over_https_refuses_a_plain_http_url_of_this_host(rf):
    request = rf.get("/x", {"next": "http://testserver/board/"}, secure=True)
    assert safe_next(request, "/home/") == "/home/"
    request = rf.get("/x", {"next": "https://testserver/board/"}, secure=True)
    assert safe_next(request, "/home/") == "https://testserver/board/"
