from __future__ import annotations

from typing import Any

from accounts.models import UserPreference


def language_of(user: Any) -> str:
    """The user's chosen language code, or "" to follow the browser."""
    row = UserPreference.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    return row or ""
