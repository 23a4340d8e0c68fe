"""How a deal's owner appears on a board card: an avatar with initials beside the full name."""

from __future__ import annotations

AVATAR_TONES = 6


def owner_label(name: str) -> tuple[str, str, str]:
    """(initials, name, colour class) of an owner from their name (full name or, without one,
    username): up to two letters, the first and last word's, as ``User.initials``; a colour
    that is the same for the same name on every page and in every process."""
    words = name.split()
    letters = words[0][0] + words[-1][0] if len(words) > 1 else name[:1] or "?"
    initials = letters.upper()
    tone = sum(map(ord, name)) % AVATAR_TONES
    return initials, name, f"avatar-{tone}"
