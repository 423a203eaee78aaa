"""The Celery app: a queue per edge device (`edge.<device_id>`) and the server's `ingest` queue."""
from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twinweb.settings")

app = Celery("twinweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["inspection", "edge_worker"])
