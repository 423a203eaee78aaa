"""`manage.py check --deploy` tells a Redis reached without a password, in clear across the network, or over
TLS whose certificate Celery would not check (kombu accepts any certificate for a bare rediss:// URL)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from twinweb.checks import redis_is_authenticated_and_encrypted

README_URL = (
    "rediss://twinweb:S3cret@redis.plant.example:6380/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/twinweb/redis-ca.pem"
)


def ids(redis_url: str, *, debug: bool = False) -> list[str]:
    with override_settings(DEBUG=debug, EMBEDDED_REDIS=False, REDIS_URL=redis_url, CELERY_BROKER_URL=redis_url):
        return sorted(m.id for m in redis_is_authenticated_and_encrypted())


@pytest.mark.parametrize(
    ("redis_url", "expected"),
    [
        (README_URL, []),
        ("rediss://twinweb:S3cret@redis.plant.example:6380/0", ["twinweb.E010", "twinweb.E010"]),
        ("redis://redis.plant.example:6379/0", ["twinweb.W011", "twinweb.W012"]),
        ("redis://twinweb:S3cret@redis.plant.example:6379/0", ["twinweb.W012"]),
        ("redis://twinweb:S3cret@127.0.0.1:6379/0", []),
        ("unix:///run/redis/redis.sock", []),
    ],
    ids=["readme-recipe", "tls-unchecked", "no-auth-no-tls", "no-tls", "local-with-auth", "unix-socket"],
)
def test_it_names_what_the_redis_url_leaves_open(redis_url: str, expected: list[str]) -> None:
    assert ids(redis_url) == expected


def test_it_leaves_the_embedded_development_default_alone() -> None:
    assert ids("redis://127.0.0.1:6379/0", debug=True) == []
