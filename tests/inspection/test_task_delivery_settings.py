"""The delivery settings that make a capture and its result survive a dead worker, checked where Celery and
kombu read them: late acknowledgement and redelivery on worker loss for the edge and ingest tasks, and the
broker's visibility timeout (how long an unacknowledged message waits before it is handed out again).

The end-to-end proofs are in test_delivery_e2e.py; these fail fast, and name the setting that broke."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from kombu.transport.redis import Channel

from edge_worker.contracts.queues import INGEST_RESULT_TASK, INGEST_TELEMETRY_TASK
from tests.support.processes import ROOT
from twinweb.celery import app

DELIVERED_ONCE = [INGEST_RESULT_TASK, INGEST_TELEMETRY_TASK]  # the edge's tasks: tests/edge_worker/test_edge_app.py


@pytest.fixture(scope="module", autouse=True)
def registered_tasks() -> None:
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery registers the tasks


@pytest.mark.parametrize("task_name", DELIVERED_ONCE)
def test_it_acknowledges_the_task_only_after_it_ran(task_name: str) -> None:
    # Read off the registered task, as the worker's request reads it: the decorator's value or the app's default.
    assert app.tasks[task_name].acks_late is True


@pytest.mark.parametrize("task_name", DELIVERED_ONCE)
def test_it_redelivers_the_task_when_its_worker_process_dies(task_name: str) -> None:
    assert app.tasks[task_name].reject_on_worker_lost is True


def test_it_makes_late_acknowledgement_the_default_for_every_task() -> None:
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True


def test_it_hands_the_broker_the_configured_visibility_timeout() -> None:
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] == settings.CELERY_VISIBILITY_TIMEOUT_S
    # Every option is one kombu's Redis channel reads (a misspelt key is silently ignored) ...
    assert set(options) <= set(Channel.from_transport_options), set(options) - set(Channel.from_transport_options)
    # ... and the connection a worker opens carries it.
    assert app.connection_for_read().transport_options["visibility_timeout"] == settings.CELERY_VISIBILITY_TIMEOUT_S


def test_it_takes_the_visibility_timeout_from_the_environment() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "twinweb.settings", "CELERY_VISIBILITY_TIMEOUT_S": "7"}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from twinweb.celery import app; "
            "print(json.dumps(app.connection_for_read().transport_options))",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    options = json.loads(out.strip().splitlines()[-1])
    assert options["visibility_timeout"] == 7
    assert 1 <= options["unacked_restore_interval"] <= 7  # the sweep that hands them out runs within the timeout
