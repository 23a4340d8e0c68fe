"""An import's and its snapshot back-fill's progress, kept in the cache for the page's
polling (it survives a reload and a later visit)."""

from __future__ import annotations

from django.core.cache import cache


def progress_key(batch_id: int, what: str = "import") -> str:
    return f"imports:{what}:{batch_id}"


def progress(batch_id: int, what: str = "import") -> dict:
    return cache.get(progress_key(batch_id, what)) or {}


def set_progress(batch_id: int, done: int, total: int, phase: str, what="import") -> None:
    cache.set(
        progress_key(batch_id, what),
        {"done": done, "total": total, "phase": phase},
        timeout=24 * 3600,
    )
