"""Anonymous users see only the login page: every other page redirects there, every API call is refused."""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse

# Paths an anonymous user may reach. /api/ refuses anonymous users itself (401/403 as JSON, never a redirect).
PUBLIC_PREFIXES = ("/accounts/login/", "/static/", "/healthz", "/api/", "/admin/login/")


class LoginRequiredEverywhereMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated or request.path.startswith(PUBLIC_PREFIXES):
            return self.get_response(request)
        if request.headers.get("accept", "").startswith("application/json"):
            return JsonResponse({"detail": "Authentication credentials were not provided."}, status=401)
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
