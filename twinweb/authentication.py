"""API token authentication that counts failures like a login does (django-axes), per client address.

A token is 40 random hex digits, so guessing one is hopeless, but a client hammering the API with tokens is still
refused once it passes the login limit, and the attempts are recorded where an administrator sees the others
(django-axes' access attempts and failure log).
"""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.signals import user_login_failed
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request

API_TOKEN_USERNAME = "(api token)"
TOKEN_CREDENTIALS = {"username": API_TOKEN_USERNAME}


def lockout_parameters(request_or_attempt: Any, credentials: dict[str, Any] | None = None) -> list[str]:
    """AXES_LOCKOUT_PARAMETERS: per user and, separately, per address; a bad API token names no user, so its
    failures count against the address alone (a count per "token user" would let anyone lock every client out)."""
    username = (credentials or {}).get("username") or getattr(request_or_attempt, "username", None)
    return ["ip_address"] if username == API_TOKEN_USERNAME else ["username", "ip_address"]


class LockedOut(exceptions.APIException):
    status_code = 429
    default_detail = "Too many failed authentication attempts from this address; try again later."
    default_code = "locked_out"


class LockoutTokenAuthentication(TokenAuthentication):
    def authenticate(self, request: Request) -> Any:
        django_request = request._request
        if not AxesProxyHandler.is_allowed(django_request, TOKEN_CREDENTIALS):
            raise LockedOut()
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            user_login_failed.send(sender=__name__, credentials=TOKEN_CREDENTIALS, request=django_request)
            raise
