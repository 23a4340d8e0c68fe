"""The default cache's Redis client, built once per cache backend.

Django's Redis cache builds a new client (and its table of some 170 reply handlers) for every
operation; the API's per-request reads (a token's cached entry, the throttle's counter) use
one client per backend instance instead, on the backend's own connection pool and timeouts.
A new backend (another ``CACHES`` setting, as tests make) gets its own client.
"""

from __future__ import annotations

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache


def client(backend: RedisCache):
    found = backend.__dict__.get("_api_client")
    if found is None:
        found = backend.__dict__["_api_client"] = backend._cache.get_client(write=True)
    return found


def get(key: str):
    """``cache.get(key)`` on the default cache, without building a client."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return backend.get(key)
    raw = client(backend).get(backend.make_and_validate_key(key))
    return None if raw is None else backend._cache._serializer.loads(raw)
