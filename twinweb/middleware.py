"""Anonymous users see only the login page: every other page redirects there, every API call is refused."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse

from twinweb.metrics import HTTP_REQUEST_DURATION

# Paths an anonymous user may reach. /api/ refuses anonymous users itself (401/403 as JSON, never a redirect).
# /healthz and /readyz answer probes; /metrics checks its own bearer token (monitoring/views.py).
PUBLIC_PREFIXES = (
    "/accounts/login/",
    "/static/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/",
    "/admin/login/",
    "/jsi18n/",
)


class LoginRequiredEverywhereMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated or request.path.startswith(PUBLIC_PREFIXES):
            return self.get_response(request)
        if request.headers.get("accept", "").startswith("application/json"):
            return JsonResponse({"detail": "Authentication credentials were not provided."}, status=401)
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)


SIGNING_PATHS = ("/review/",)  # where people sign: a session that went there is a signing session


class SigningSessionIdleTimeoutMiddleware:
    """A session that has been to Debug Mode (a tablet on the shop floor, where a verdict is signed) ends after
    TWINWEB_SIGNING_SESSION_IDLE_S without a request: an unattended tablet does not stay signed in. The page's
    own activity (a key press or a touch renews the claim) keeps a working operator's session alive."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            session = request.session
            if session.get("signing_session"):
                idle = now - float(session.get("last_activity", now))
                if idle > float(settings.TWINWEB_SIGNING_SESSION_IDLE_S):
                    logout(request)
                    if request.headers.get("accept", "").startswith("application/json"):
                        return JsonResponse({"detail": "Signed out after inactivity.", "code": "idle"}, status=401)
                    return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            if request.path.startswith(SIGNING_PATHS):
                session["signing_session"] = True
            if session.get("signing_session"):
                session["last_activity"] = now
        return self.get_response(request)


class RequestMetricsMiddleware:
    """Times every request per view (its URL name, so the label set stays as small as the URL conf) for
    `twinweb_http_request_duration_seconds` on /metrics. Outermost, so it also times the other middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or "unnamed") if match is not None else "unresolved"
        HTTP_REQUEST_DURATION.labels(view=view, method=request.method or "", status=str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response
