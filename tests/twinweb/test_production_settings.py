"""Production fails closed: its settings come from the environment, pass Django's deployment checks as the README
documents them, refuse to start without a secret key, and trust a proxy's HTTPS header only when told one is there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "twinweb.plant.example",
    "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://twinweb@127.0.0.1:5432/twinweb"),
    # Production Redis has AUTH (the server's ACL user; twinweb/checks.py); the checks do not connect.
    "REDIS_URL": "redis://twinweb:a-redis-password@127.0.0.1:6379/0",
}


def setting(name: str, **env: str) -> str:
    code = f"import django; django.setup(); from django.conf import settings; print(repr(getattr(settings, {name!r}, None)))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "twinweb.settings", **PRODUCTION, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_production_settings_pass_the_deployment_checks() -> None:
    env = {**os.environ, **PRODUCTION}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update({"DEBUG": "0", "REDIS_URL": "redis://127.0.0.1:6379/0"})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_it_trusts_the_forwarded_proto_header_only_behind_a_configured_proxy() -> None:
    # Without a proxy in front, any client could claim HTTPS with the header.
    assert setting("SECURE_PROXY_SSL_HEADER") == "None"
    assert setting("SECURE_PROXY_SSL_HEADER", TWINWEB_BEHIND_PROXY="1") == "('HTTP_X_FORWARDED_PROTO', 'https')"
