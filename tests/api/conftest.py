import pytest
from rest_framework.test import APIClient


def token_client(user, scope="read_write", **kwargs) -> APIClient:
    """An API client authenticated with a new personal token of ``user``."""
    from api import tokens

    _, raw = tokens.create_token(user=user, by=user, name="tests", scope=scope, **kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.raw_token = raw
    return client


@pytest.fixture
def api_as():
    return token_client
