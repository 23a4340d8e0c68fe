"""The API's per-request cache reads (a token's entry, the throttle's counter) use one Redis
client per cache backend instead of Django's new client per operation, and read exactly what
the cache stored; another cache setting gets its own client."""

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings

from api import redis_client, throttling

pytestmark = pytest.mark.skipif(
    not isinstance(caches["default"], RedisCache), reason="the default cache is not Redis"
)


def test_one_client_per_backend_reads_what_the_cache_stored():
    backend = caches["default"]
    first = redis_client.client(backend)
    assert redis_client.client(backend) is first
    entry = {"user": {"id": 7, "role": "rep"}, "teams": [1, 2]}
    cache.set("api-test:entry", entry, 30)
    try:
        assert redis_client.get("api-test:entry") == entry
        assert redis_client.get("api-test:absent") is None
        assert throttling.count("api-test:counter", 30) == 1
        assert throttling.count("api-test:counter", 30) == 2
        assert cache.get("api-test:counter") == 2
    finally:
        cache.delete_many(["api-test:entry", "api-test:counter"])


def test_another_cache_setting_gets_its_own_client(settings):
    before = redis_client.client(caches["default"])
    location = settings.CACHES["default"]["LOCATION"]
    other = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                         "LOCATION": location, "KEY_PREFIX": "other"}}  # fmt: skip
    with override_settings(CACHES=other):
        assert redis_client.client(caches["default"]) is not before
        cache.set("api-test:prefixed", 1, 30)
        assert redis_client.get("api-test:prefixed") == 1
        cache.delete("api-test:prefixed")
