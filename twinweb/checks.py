"""Deployment checks of the Redis connection (`manage.py check --deploy`): the broker carries every edge message
and cobot command, so production reaches it with a user and password (the ACL users of
docs/deploy/redis-users.acl) over TLS whose certificate is checked."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@register(Tags.security, deploy=True)
def redis_is_authenticated_and_encrypted(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        url = str(getattr(settings, name, "") or "")
        parts = urlsplit(url)
        if parts.scheme == "rediss" and "ssl_cert_reqs" not in parse_qs(parts.query):
            found.append(
                Error(
                    f"{name} uses rediss:// without ssl_cert_reqs: Celery (kombu) would accept any certificate.",
                    hint="Add ?ssl_cert_reqs=required&ssl_ca_certs=/etc/twinweb/redis-ca.pem (README, production).",
                    id="twinweb.E010",
                )
            )
    if settings.DEBUG or getattr(settings, "EMBEDDED_REDIS", False):
        return found
    parts = urlsplit(str(settings.REDIS_URL))
    if parts.scheme in ("redis", "rediss") and not parts.password:
        found.append(
            CheckWarning(
                "REDIS_URL has no password: Redis is reached without AUTH, so anyone who reaches it may read and "
                "write every queue.",
                hint="Use the server's ACL user: python manage.py redis_acl (README).",
                id="twinweb.W011",
            )
        )
    if parts.scheme == "redis" and (parts.hostname or "") not in LOCAL_HOSTS:
        found.append(
            CheckWarning(
                "REDIS_URL reaches a Redis on another host without TLS: passwords and messages cross the network in "
                "clear.",
                hint="Use rediss:// (README, production).",
                id="twinweb.W012",
            )
        )
    return found
