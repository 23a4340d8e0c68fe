"""A person's board view: card density and collapsed columns, kept on their user row.

They change how the board looks to that person only: they are saved alone
(``update_fields``), which ``pipeline.board_cache`` does not count as a change of any board.
Each change locks the user's row and rewrites it from the locked copy, so two tabs toggling
different columns at once both keep their change.
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import User

PREFERENCE_FIELDS = frozenset({"board_density", "board_collapsed_stages"})
MAX_COLLAPSED = 200


def collapsed_stages(user) -> frozenset[int]:
    """The stage ids whose columns ``user`` collapsed (ignores anything malformed)."""
    raw = getattr(user, "board_collapsed_stages", None) or []
    if not isinstance(raw, list):
        return frozenset()
    return frozenset(v for v in raw if isinstance(v, int) and not isinstance(v, bool))


def set_density(*, user, density: str) -> str:
    if density not in User.BoardDensity.values:
        raise ValueError(f"unknown density {density!r}")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.board_density = density
        locked.save(update_fields=["board_density"])
    user.board_density = density
    return density


def set_column_collapsed(*, user, stage_id: int, collapsed: bool) -> frozenset[int]:
    """Collapse or expand one column for ``user``; returns the collapsed stage ids."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        ids = set(collapsed_stages(locked))
        if collapsed:
            ids.add(stage_id)
        else:
            ids.discard(stage_id)
        kept = sorted(ids)[-MAX_COLLAPSED:]
        locked.board_collapsed_stages = kept
        locked.save(update_fields=["board_collapsed_stages"])
    user.board_collapsed_stages = kept
    return frozenset(kept)
