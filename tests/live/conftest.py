"""Live view fixtures: a channel layer and sequence counters of this test run's own (real Redis, own prefix)."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.conf import settings as django_settings


@pytest.fixture(autouse=True)
def own_channel_layer(settings: Any) -> str:
    """Other test runs may share the Redis server: give this test its own group and counter namespace."""
    prefix = f"twtest-{uuid.uuid4().hex[:10]}"
    layers = {**django_settings.CHANNEL_LAYERS}
    default = {**layers["default"], "CONFIG": {**layers["default"]["CONFIG"], "prefix": prefix}}
    settings.CHANNEL_LAYERS = {**layers, "default": default}
    return prefix
