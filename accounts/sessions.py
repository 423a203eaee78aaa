"""The user's language rides in the session: it is read once at sign-in, so a request costs no query for it
(list endpoints assert their query counts). Changing it (accounts.views.profile) updates the session too."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

SESSION_KEY = "twinweb_language"


def remember_language(request: HttpRequest, language: str) -> None:
    request.session[SESSION_KEY] = language


@receiver(user_logged_in, dispatch_uid="accounts.remember_language")
def _on_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    from accounts.selectors import language_of

    remember_language(request, language_of(user))
