"""After LocaleMiddleware (which reads the browser's Accept-Language): a signed-in user's own language wins."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from accounts.sessions import SESSION_KEY

SUPPORTED = {code for code, _ in settings.LANGUAGES}


class RequestLanguageScopeMiddleware:
    """Before LocaleMiddleware: the language a request activates ends with the request. Django leaves it active
    in the thread, so the next thing that thread does (a test's next step, a management command after a request)
    would speak the last visitor's language."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with translation.override(settings.LANGUAGE_CODE):
            return self.get_response(request)


class UserLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
        if language in SUPPORTED and request.user.is_authenticated:
            translation.activate(language)
            request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
        return self.get_response(request)
