"""Headless Chromium for the browser tests (Debian's package, driven by Playwright, which downloads no browser).

Where /usr/bin/chromium is missing a developer's run skips the browser tests and says why; under CI (CI set)
they run and fail instead, so a green CI run has always run them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


requires_chromium = pytest.mark.skipif(
    not chromium_available() and not os.environ.get("CI"),
    reason="no /usr/bin/chromium (make browser installs it; under CI this fails instead of skipping)",
)


def launch(playwright: Any) -> Any:
    """Chromium with the project's flags (no background networking: the machines are offline)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def session_cookie_for(user: Any, base_url: str) -> Any:
    """A Playwright cookie (SetCookieParam) carrying a fresh session of `user`."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}


def in_plain_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run fn in a thread without an event loop: Playwright's sync API keeps one in the main thread, and the
    publish helper (async_to_sync) refuses to run inside a loop. The thread closes its database connection."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection as thread_connection

    def call() -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            thread_connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()
